"""Professionals write, reply and forward through the portal, sent by the real Postfix and read back from Dovecot."""

import email
from datetime import date
import io
from email.policy import default

import pytest
from sqlalchemy import select

from mail.models import Mailbox, MailboxKind
from notices.models import IdentityStatus, Sex, Usager
from portal.models import AuditEvent, Role
from tests.conftest import csrf_token, text
from tests.mail.conftest import _run, message, messages_with_id, wait_for, write
from tests.notices.conftest import NIR

PDF = b"%PDF-1.4 synthetic\n" + bytes(range(256)) * 40


@pytest.fixture()
def colleague(db, establishment, make_user, new_imap_mailbox) -> Mailbox:
    doctor = make_user("medecin@tilleuls.test.mssante.fr", Role.PROFESSIONAL, first_name="Paul", last_name="Médecin")
    box = Mailbox(address=new_imap_mailbox("medecin"), kind=MailboxKind.PER, display_name="Dr Paul Médecin",
                  establishment=establishment, owner=doctor)  # fmt: skip
    db.add(box)
    db.commit()
    return box


def audit(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def received(imap_server, imap_credential, mailbox: str, message_id: str) -> email.message.EmailMessage:
    [raw] = wait_for(lambda: messages_with_id(imap_server, imap_credential, mailbox, message_id))
    return email.message_from_bytes(raw, policy=default)


def folder_ids(imap_store, mailbox: str, folder: str) -> list[str]:
    uids = imap_store.sorted_uids(mailbox, folder)
    return [envelope.message_id for envelope in imap_store.envelopes(mailbox, folder, uids)]


def test_message_with_attachment_reaches_the_colleague_byte_for_byte_with_mssante_headers(
    webmail, sending, logged_in, professional, nominative, colleague, db, imap_server, imap_credential, imap_store
):
    client = logged_in(professional)
    response = write(client, nominative, to=colleague.address, subject="Compte rendu de Mme Été",
                     body="Bonjour,\nle compte rendu est joint.\n", read_receipt="y",
                     files=[("compte-rendu.pdf", PDF, "application/pdf")])  # fmt: skip

    assert response.status_code == 302
    [event] = audit(db, "mail.send")
    assert (event.actor_id, event.target, event.outcome) == (professional.id, nominative.address, "success")
    assert event.detail["recipients"] == 1 and event.detail["dsn"] is True and event.detail["mdn"] is True
    got = received(imap_server, imap_credential, colleague.address, event.detail["message_id"])
    assert got["From"].addresses[0].display_name == "Infirmière Test"
    assert got["Subject"] == "Compte rendu de Mme Été"
    assert got["X-MSS-NIL"] == sending.mss_nil
    assert got["Disposition-Notification-To"] == nominative.address
    assert got.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Bonjour,\nle compte rendu est joint.\n"
    [attachment] = got.iter_attachments()
    assert attachment.get_filename() == "compte-rendu.pdf" and attachment.get_content() == PDF
    # The sender keeps a copy in Sent; the draft it went through is gone.
    assert folder_ids(imap_store, nominative.address, "Sent") == [event.detail["message_id"]]
    assert folder_ids(imap_store, nominative.address, "Drafts") == []


def test_reply_threads_under_the_original_and_quotes_it(
    webmail, sending, logged_in, professional, nominative, colleague, imap_append, db, imap_server, imap_credential
):
    original = message("Question sur le traitement", sender=f"Dr Paul Médecin <{colleague.address}>",
                       to=nominative.address, body="Faut-il poursuivre ?")  # fmt: skip
    original_id = email.message_from_bytes(original)["Message-ID"]
    uid = imap_append(nominative.address, original)
    client = logged_in(professional)
    token = csrf_token(client, f"/mail/{nominative.id}/message/{uid}/INBOX")

    opened = client.post(f"/mail/{nominative.id}/respond/{uid}/INBOX", data={"how": "reply", "csrf_token": token},
                         follow_redirects=True)  # fmt: skip
    editor = text(opened)
    assert "Re: Question sur le traitement" in editor and "> Faut-il poursuivre ?" in editor
    assert colleague.address in editor
    draft_uid = int(opened.request.path.rsplit("/", 1)[1])
    write(client, nominative, to=colleague.address, subject="Re: Question sur le traitement",
          body="Oui, poursuivre.", draft_uid=draft_uid)  # fmt: skip

    event = audit(db, "mail.send")[-1]
    got = received(imap_server, imap_credential, colleague.address, event.detail["message_id"])
    assert got["In-Reply-To"] == original_id and got["References"] == original_id


def test_delegate_answers_from_the_organisational_mailbox_and_the_audit_names_the_person(
    webmail, sending, logged_in, reception, secretariat, colleague, imap_append, db, imap_server, imap_credential
):
    uid = imap_append(secretariat.address, message("Admission", sender=colleague.address, to=secretariat.address))
    client = logged_in(reception)
    token = csrf_token(client, f"/mail/{secretariat.id}/message/{uid}/INBOX")
    opened = client.post(f"/mail/{secretariat.id}/respond/{uid}/INBOX", data={"how": "reply", "csrf_token": token})
    draft_uid = int(opened.location.rsplit("/", 1)[1])

    write(client, secretariat, to=colleague.address, subject="Re: Admission", body="Bien reçu.", draft_uid=draft_uid)

    event = audit(db, "mail.send")[-1]
    assert (event.actor_id, event.target, event.outcome) == (reception.id, secretariat.address, "success")
    got = received(imap_server, imap_credential, colleague.address, event.detail["message_id"])
    assert str(got["From"]) == f"Secrétariat <{secretariat.address}>"


def test_address_outside_the_trust_space_is_refused_before_sending_and_the_draft_is_kept(
    webmail, sending, logged_in, professional, nominative, db, imap_store
):
    response = write(logged_in(professional), nominative, to="quelquun@gmail.com", subject="Résultats",
                     body="Texte précieux")  # fmt: skip

    page = text(response)
    assert response.status_code == 422
    assert "quelquun@gmail.com" in page and "hors de l'espace de confiance MSSanté" in page
    assert "conservé dans vos brouillons" in page and "Texte précieux" in page
    assert [e.outcome for e in audit(db, "mail.send")] == ["failure"]
    assert len(folder_ids(imap_store, nominative.address, "Drafts")) == 1
    assert folder_ids(imap_store, nominative.address, "Sent") == []


def test_smtp_outage_says_so_and_keeps_the_draft_with_its_attachment(
    webmail, sending, logged_in, professional, nominative, colleague, monkeypatch, imap_store
):
    monkeypatch.setattr(sending, "smtp_port", 9)  # nothing listens there
    monkeypatch.setattr(sending, "smtp_timeout_seconds", 3)
    client = logged_in(professional)

    response = write(client, nominative, to=colleague.address, subject="Urgent", body="À lire",
                     files=[("bilan.pdf", PDF, "application/pdf")])  # fmt: skip

    assert response.status_code == 422 and "injoignable" in text(response)
    [draft_id] = folder_ids(imap_store, nominative.address, "Drafts")
    [uid] = imap_store.sorted_uids(nominative.address, "Drafts")
    reopened = text(client.get(f"/mail/{nominative.id}/draft/{uid}"))
    assert "Urgent" in reopened and "À lire" in reopened and "bilan.pdf" in reopened
    assert draft_id


def test_message_over_the_operators_limit_is_refused_before_sending(
    webmail, sending, logged_in, professional, nominative, colleague, monkeypatch, db
):
    monkeypatch.setattr(sending, "mail_max_message_bytes", 64 * 1024)

    response = write(logged_in(professional), nominative, to=colleague.address, subject="Gros",
                     files=[("scanner.pdf", PDF * 20, "application/pdf")])  # fmt: skip

    assert response.status_code == 422 and "au-delà de la limite" in text(response)
    assert audit(db, "mail.send")[-1].outcome == "failure"


def test_patient_address_needs_a_qualified_ins_and_closing_the_conversation_adds_x_mss_mes(
    webmail, sending, logged_in, professional, nominative, establishment, db, imap_server, imap_credential
):
    patient_address = f"{NIR}@patient.mssante.fr"
    _run("adduser", patient_address)
    usager = Usager(establishment=establishment, local_id="DUI-9", ins=NIR, identity_status=IdentityStatus.VALIDEE,
                    birth_name="Durand", birth_first_names="Marie", birth_date=date(1950, 1, 2),
                    sex=Sex.F)  # fmt: skip
    db.add(usager)
    db.commit()
    client = logged_in(professional)

    refused = write(client, nominative, to=patient_address, subject="Rendez-vous", body="Mardi")
    assert refused.status_code == 422 and "INS qualifiée" in text(refused)

    usager.identity_status = IdentityStatus.QUALIFIEE
    db.commit()
    sent = write(client, nominative, to=patient_address, subject="Rendez-vous", body="Mardi", closed_to_replies="y")
    assert sent.status_code == 302
    event = audit(db, "mail.send")[-1]
    assert patient_address not in str(event.detail)
    got = received(imap_server, imap_credential, patient_address, event.detail["message_id"])
    assert got["X-MSS-MES"] == "FIN"


def test_saving_twice_keeps_one_draft_and_the_autosave_answers_a_fragment(
    webmail, sending, logged_in, professional, nominative, imap_store, db
):
    client = logged_in(professional)
    first = write(client, nominative, action="save", subject="Brouillon", body="v1",
                  files=[("a.pdf", PDF, "application/pdf")])  # fmt: skip
    uid = int(first.location.rsplit("/", 1)[1])

    second = client.post(
        f"/mail/{nominative.id}/compose", headers={"HX-Request": "true"},
        data={"csrf_token": csrf_token(client, f"/mail/{nominative.id}/draft/{uid}"), "mailbox_id": nominative.id,
              "subject": "Brouillon", "body": "v2", "draft_uid": uid, "keep": "0"},
    )  # fmt: skip

    fragment = text(second)
    assert second.status_code == 200 and 'id="draft-state"' in fragment and "<html" not in fragment
    assert "a.pdf" in fragment
    [new_uid] = imap_store.sorted_uids(nominative.address, "Drafts")
    assert new_uid != uid and "v2" in text(client.get(f"/mail/{nominative.id}/draft/{new_uid}"))
    assert [e.detail["operation"] for e in audit(db, "mail.draft") if e.detail.get("operation") == "save"] == ["save"] * 2


def test_stranger_cannot_write_from_someone_elses_mailbox(webmail, logged_in, stranger, nominative, db):
    client = logged_in(stranger)
    assert client.get(f"/mail/{nominative.id}/compose").status_code == 404
    assert audit(db, "mail.send")[-1].outcome == "denied"
