"""Professionals read their mail through the portal, from the real Dovecot; strangers see nothing."""

from email.message import EmailMessage

from sqlalchemy import select

from mail.imap import ImapServer, SearchNotReady
from portal.models import AuditEvent
from tests.conftest import csrf_token, text
from tests.mail.conftest import days_ago, message, wait_for, write_to_maildir


def audit(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_owner_sees_inbox_with_sender_subject_and_unread_mark(webmail, logged_in, professional, nominative, imap_append):
    imap_append(nominative.address, message("Compte rendu de consultation", date=days_ago(1)))
    client = logged_in(professional)
    response = client.get("/mail/", follow_redirects=True)
    page = text(response)
    assert "Compte rendu de consultation" in page and "Dr Alice Martin" in page and "non lu" in page
    assert "Boîte de réception" in page and "Infirmière Test" in page
    assert response.headers["Cache-Control"] == "no-store"
    assert 'hx-history="false"' in page


def test_list_is_paged_by_50_newest_first(webmail, logged_in, professional, nominative, imap_append):
    for i in range(55):
        imap_append(nominative.address, message(f"Message {i:02d}", date=days_ago(100 - i)))
    client = logged_in(professional)
    first = text(client.get(f"/mail/{nominative.id}/folder/INBOX"))
    assert "Message 54" in first and "Message 05" in first and "Message 04" not in first
    assert "Page 1 sur 2" in first
    second = text(client.get(f"/mail/{nominative.id}/folder/INBOX?page=2"))
    assert "Message 04" in second and "Message 05" not in second


def test_reading_marks_read_and_is_audited_with_the_message_id(webmail, logged_in, professional, nominative, imap_append, db):
    uid = imap_append(nominative.address, message("Lettre de liaison"))
    client = logged_in(professional)
    page = text(client.get(f"/mail/{nominative.id}/message/{uid}/INBOX"))
    assert "Lettre de liaison" in page
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page and "allow-scripts" not in page
    listing = text(client.get(f"/mail/{nominative.id}/folder/INBOX"))
    assert "non lu" not in listing
    event = audit(db, "mail.read")[-1]
    assert (event.actor_id, event.target, event.outcome) == (professional.id, nominative.address, "success")
    assert event.detail["uid"] == uid and event.detail["message_id"].endswith("@demo.mssante.fr>")


def test_mark_unread_again(webmail, logged_in, professional, nominative, imap_append):
    uid = imap_append(nominative.address, message("À relire"))
    client = logged_in(professional)
    client.get(f"/mail/{nominative.id}/message/{uid}/INBOX")
    token = csrf_token(client, f"/mail/{nominative.id}/folder/INBOX")
    client.post(f"/mail/{nominative.id}/flags/{uid}/INBOX", data={"flag": "seen", "on": "0", "csrf_token": token})
    assert "non lu" in text(client.get(f"/mail/{nominative.id}/folder/INBOX"))


def test_body_frame_has_its_own_strict_policy_and_no_script(webmail, logged_in, professional, nominative, imap_append):
    html = EmailMessage()
    html["Subject"], html["From"], html["To"] = "HTML", "a@demo.mssante.fr", nominative.address
    html.set_content("texte")
    html.add_alternative('<p onclick="alert(1)">Bonjour<script>alert(2)</script><img src="https://tracker.example/p.gif"></p>', subtype="html")
    uid = imap_append(nominative.address, html.as_bytes())
    response = logged_in(professional).get(f"/mail/{nominative.id}/body/{uid}/INBOX")
    body = response.get_data(as_text=True)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "img-src 'self' data:" in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "Bonjour" in body and "<script" not in body and "onclick" not in body and "tracker.example" not in body


def test_attachment_downloads_byte_for_byte_and_never_renders(webmail, logged_in, professional, nominative, imap_append):
    pdf = b"%PDF-1.4 synthetic\n" + bytes(range(256))
    uid = imap_append(nominative.address, message("Avec pièce jointe", attachment=pdf))
    client = logged_in(professional)
    page = text(client.get(f"/mail/{nominative.id}/message/{uid}/INBOX"))
    assert "compte-rendu.pdf" in page
    response = client.get(f"/mail/{nominative.id}/attachment/{uid}/0/INBOX")
    assert response.data == pdf
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    inline = client.get(f"/mail/{nominative.id}/attachment/{uid}/0/INBOX?inline=1")
    assert inline.headers["Content-Disposition"].startswith("inline") and inline.mimetype == "application/pdf"


def test_html_attachment_is_never_shown_inline(webmail, logged_in, professional, nominative, imap_append):
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "Piège", "a@demo.mssante.fr", nominative.address
    msg.set_content("voir pièce jointe")
    msg.add_attachment(b"<script>alert(1)</script>", maintype="text", subtype="html", filename="page.html")
    uid = imap_append(nominative.address, msg.as_bytes())
    response = logged_in(professional).get(f"/mail/{nominative.id}/attachment/{uid}/0/INBOX?inline=1")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.mimetype == "application/octet-stream"


def test_delete_moves_to_trash_and_emptying_trash_removes_for_good(webmail, logged_in, professional, nominative, imap_append, db):
    uid = imap_append(nominative.address, message("À jeter"))
    client = logged_in(professional)
    token = csrf_token(client, f"/mail/{nominative.id}/folder/INBOX")
    client.post(f"/mail/{nominative.id}/delete/{uid}/INBOX", data={"csrf_token": token})
    assert "À jeter" not in text(client.get(f"/mail/{nominative.id}/folder/INBOX"))
    trash = text(client.get(f"/mail/{nominative.id}/folder/Trash"))
    assert "À jeter" in trash and "Vider la corbeille" in trash
    client.post(f"/mail/{nominative.id}/empty-trash", data={"csrf_token": token})
    assert "Ce dossier est vide." in text(client.get(f"/mail/{nominative.id}/folder/Trash"))
    assert [e.outcome for e in audit(db, "mail.delete")] == ["success"]
    assert audit(db, "mail.empty_trash")[-1].detail == {"removed": 1}


def test_move_to_another_folder(webmail, logged_in, professional, nominative, imap_append):
    uid = imap_append(nominative.address, message("À archiver"))
    client = logged_in(professional)
    token = csrf_token(client, f"/mail/{nominative.id}/folder/INBOX")
    client.post(f"/mail/{nominative.id}/move/{uid}/INBOX", data={"target": "Junk", "csrf_token": token})
    assert "À archiver" in text(client.get(f"/mail/{nominative.id}/folder/Junk"))


def test_search_goes_by_post_and_keeps_the_words_out_of_the_audit(webmail, logged_in, professional, nominative, imap_append, db):
    imap_append(nominative.address, message("Résultats biologiques de Mme Dupont"))
    imap_append(nominative.address, message("Réunion d'équipe"))
    client = logged_in(professional)
    token = csrf_token(client, f"/mail/{nominative.id}/folder/INBOX")
    # Words in a URL are never searched for: the page reloaded goes back to the folder.
    reloaded = client.get(f"/mail/{nominative.id}/search/INBOX?q=biologiques")
    assert reloaded.status_code == 302 and reloaded.location.endswith(f"/mail/{nominative.id}/folder/INBOX")
    assert audit(db, "mail.search") == []
    page = text(client.post(f"/mail/{nominative.id}/search/INBOX", data={"q": "biologiques", "csrf_token": token}))
    assert "Résultats biologiques" in page and "Réunion d'équipe" not in page
    event = audit(db, "mail.search")[-1]
    assert "biologiques" not in str(event.detail) and event.detail["results"] == 1


# Messages of a bulk migration: Dovecot's indexer takes them in at up to ~400 a second here, so
# that many outlast the stack's fts_index_timeout (5 s) on a fast machine too.
MIGRATED = 6000


def test_search_in_a_folder_still_being_indexed_says_to_retry_later(
    webmail, logged_in, professional, nominative, imap_store, db
):
    # A mailbox migrated in bulk: Dovecot's indexer needs longer than the stack's fts_index_timeout (5 s).
    write_to_maildir(nominative.address, [message(f"Compte rendu {i}", body="bilan sanguin") for i in range(MIGRATED)])
    client = logged_in(professional)
    token = csrf_token(client, f"/mail/{nominative.id}/folder/INBOX")
    response = client.post(f"/mail/{nominative.id}/search/INBOX", data={"q": "sanguin", "csrf_token": token})
    assert response.status_code == 200
    assert "le serveur de messagerie construit son index" in text(response)
    assert audit(db, "mail.search")[-1].outcome == "failure"
    # The indexer went on without the request: the same search soon answers (and leaves the indexer
    # free for the next tests).
    assert wait_for(lambda: _searched(imap_store, nominative.address, "sanguin"), timeout=180) == MIGRATED


def _searched(store, address: str, word: str) -> int | None:
    try:
        return len(store.search(address, "INBOX", word))
    except SearchNotReady:
        return None


def test_delegate_reads_the_organisational_mailbox_and_is_named_in_the_audit(webmail, logged_in, reception, secretariat, imap_append, db):
    uid = imap_append(secretariat.address, message("Demande d'admission"))
    client = logged_in(reception)
    assert "Demande d'admission" in text(client.get(f"/mail/{secretariat.id}/message/{uid}/INBOX"))
    assert audit(db, "mail.read")[-1].actor_id == reception.id


def test_stranger_gets_404_on_someone_elses_mailbox(webmail, logged_in, stranger, nominative, imap_append, db):
    uid = imap_append(nominative.address, message("Confidentiel"))
    client = logged_in(stranger)
    for path in (f"/mail/{nominative.id}/folder/INBOX", f"/mail/{nominative.id}/message/{uid}/INBOX",
                 f"/mail/{nominative.id}/body/{uid}/INBOX", f"/mail/{nominative.id}/attachment/{uid}/0/INBOX"):
        assert client.get(path).status_code == 404
    assert {e.outcome for e in audit(db, "mail.open")} == {"denied"}


def test_user_without_mailbox_is_told_so(webmail, logged_in, stranger):
    assert "Aucune boîte aux lettres ne vous est attribuée." in text(logged_in(stranger).get("/mail/"))


def test_unknown_folder_is_404(webmail, logged_in, professional, nominative):
    client = logged_in(professional)
    assert client.get(f"/mail/{nominative.id}/folder/Nulle-part").status_code == 404
    assert client.get(f"/mail/{nominative.id}/body/1/Nulle-part").status_code == 404


def test_message_that_is_not_there_is_404(webmail, logged_in, professional, nominative, imap_append):
    uid = imap_append(nominative.address, message("Seul message"))
    client = logged_in(professional)
    assert client.get(f"/mail/{nominative.id}/message/{uid + 1}/INBOX").status_code == 404
    assert client.get(f"/mail/{nominative.id}/body/{uid + 1}/INBOX").status_code == 404


def test_mail_server_down_gives_a_clear_page_and_a_failure_in_the_audit(app, make_imap_store, imap_server, logged_in, professional, nominative, db):
    dead = ImapServer(host="127.0.0.1", port=1, security=imap_server.security, ca_file=imap_server.ca_file, timeout_seconds=2)
    app.extensions["mail.store"] = make_imap_store(server=dead)
    try:
        response = logged_in(professional).get(f"/mail/{nominative.id}/folder/INBOX")
    finally:
        app.extensions.pop("mail.store")
    assert response.status_code == 503 and "Messagerie momentanément injoignable" in text(response)
    assert audit(db, "mail.open")[-1].outcome == "failure"


def test_remote_images_stay_blocked_until_the_user_asks_then_come_through_signed_links(
    webmail, logged_in, professional, nominative, imap_append, db
):
    html = EmailMessage()
    html["Subject"], html["From"], html["To"] = "Lettre d'information", "a@demo.mssante.fr", nominative.address
    html.set_content("texte")
    html.add_alternative('<p>Nouvelles<img src="https://news.example/banner.png"></p>', subtype="html")
    uid = imap_append(nominative.address, html.as_bytes())
    client = logged_in(professional)
    page = text(client.get(f"/mail/{nominative.id}/message/{uid}/INBOX"))
    assert "Afficher le contenu distant" in page
    assert "news.example" not in client.get(f"/mail/{nominative.id}/body/{uid}/INBOX").get_data(as_text=True)
    shown = client.get(f"/mail/{nominative.id}/body/{uid}/INBOX?remote=1").get_data(as_text=True)
    assert "news.example" not in shown and 'src="/mail/remote/' in shown
    assert audit(db, "mail.remote_content")[-1].actor_id == professional.id
    token = shown.split('src="/mail/remote/', 1)[1].split('"', 1)[0]
    # The frame sends no cookie: the signature is the authorisation, and a forged one gets nothing.
    assert client.get(f"/mail/remote/{token[:-2]}xx").status_code == 404
