"""The IMAP adapter against the real Dovecot + Postfix of scripts/mailstack."""

from __future__ import annotations

import socket
import ssl
from dataclasses import replace

import pytest

from mail.imap import AuthenticationFailed, MasterUserCredential, SortKey
from tests.mail.conftest import days_ago, message, send_smtp, wait_for


def fill(append, mailbox, specs):
    """specs: (subject, sender, days_ago) -> {subject: uid}."""
    return {subject: append(mailbox, message(subject=subject, sender=sender, date=days_ago(age)), when=days_ago(age))
            for subject, sender, age in specs}


# -- access ----------------------------------------------------------------------------------------


def test_master_user_opens_any_mailbox_without_its_password(imap_store, imap_mailbox, imap_append):
    imap_append(imap_mailbox, message(subject="Résultats"))
    status = imap_store.status(imap_mailbox, "INBOX")
    assert (status.messages, status.unseen) == (1, 1)
    assert status.uidvalidity > 0 and status.uidnext == 2 and status.highestmodseq


def test_wrong_master_password_is_refused(make_imap_store, imap_credential, imap_mailbox):
    store = make_imap_store(credential=MasterUserCredential(imap_credential.master_user, "not-the-password"))
    with pytest.raises(AuthenticationFailed):
        store.status(imap_mailbox, "INBOX")
    assert store.pool.idle_count() == 0


def test_master_user_cannot_open_a_mailbox_that_does_not_exist(imap_store):
    with pytest.raises(AuthenticationFailed):
        imap_store.status("nobody-here@tilleuls.test.mssante.fr", "INBOX")


def test_certificate_is_verified(make_imap_store, imap_server, imap_mailbox):
    # The system trust store does not know the stack's private CA: the TLS handshake must fail.
    store = make_imap_store(server=replace(imap_server, ca_file=None))
    with pytest.raises(ssl.SSLCertVerificationError):
        store.status(imap_mailbox, "INBOX")
    implicit = make_imap_store(server=replace(imap_server, port=10993, security="tls", ca_file=None))
    with pytest.raises(ssl.SSLCertVerificationError):
        implicit.status(imap_mailbox, "INBOX")
    # ... and with the right CA, implicit TLS works too.
    assert make_imap_store(server=replace(imap_server, port=10993, security="tls")).status(imap_mailbox, "INBOX")


# -- pool ------------------------------------------------------------------------------------------


def test_pool_reuses_connection_between_calls(imap_store, imap_mailbox, new_imap_mailbox):
    imap_store.status(imap_mailbox, "INBOX")
    imap_store.list_folders(imap_mailbox)
    imap_store.sorted_uids(imap_mailbox, "INBOX")
    imap_store.envelopes(imap_mailbox, "INBOX", [1])
    assert imap_store.pool.opened == 1 and imap_store.pool.idle_count(imap_mailbox) == 1
    imap_store.status(new_imap_mailbox(), "INBOX")  # another mailbox: its own connection
    assert imap_store.pool.opened == 2


def test_dead_connection_is_replaced(imap_store, imap_mailbox):
    imap_store.status(imap_mailbox, "INBOX")
    with imap_store.pool.connection(imap_mailbox) as conn:
        conn.client.socket().shutdown(socket.SHUT_RDWR)  # the server or a firewall dropped it
    assert imap_store.status(imap_mailbox, "INBOX").messages == 0
    assert imap_store.pool.opened == 2 and imap_store.pool.idle_count(imap_mailbox) == 1


def test_idle_connections_expire(make_imap_store, imap_mailbox):
    now = [0.0]
    store = make_imap_store()
    store.pool._clock = lambda: now[0]
    store.status(imap_mailbox, "INBOX")
    now[0] += store.pool.idle_seconds + 1
    store.status(imap_mailbox, "INBOX")
    assert store.pool.opened == 2 and store.pool.idle_count() == 1


# -- folders ---------------------------------------------------------------------------------------


def test_folders_carry_special_use_flags_and_hierarchy(imap_store, imap_mailbox, imap_server, imap_credential):
    from mail.imap_pool import open_connection

    client = open_connection(imap_server)
    imap_credential.login(client, imap_mailbox)
    client.create_folder("Archives/2024 été")
    client.logout()
    folders = {f.name: f for f in imap_store.list_folders(imap_mailbox)}
    assert list(folders)[0] == "INBOX"
    assert {f.special_use for f in folders.values()} >= {"\\Sent", "\\Drafts", "\\Trash", "\\Junk"}
    child = folders["Archives/2024 été"]
    assert (child.parent, child.depth, child.leaf_name, child.delimiter) == ("Archives", 1, "2024 été", "/")
    assert folders["Archives"].has_children and not folders["INBOX"].has_children


# -- sorting and paging ----------------------------------------------------------------------------


def test_sorted_uids_are_cached_until_the_folder_changes(imap_store, imap_mailbox, imap_append, imap_command_log):
    uids = [imap_append(imap_mailbox, message(subject=f"n°{i}", date=days_ago(10 - i))) for i in range(10)]
    first = imap_store.page(imap_mailbox, "INBOX", number=1, size=4)
    assert [e.uid for e in first.envelopes] == uids[::-1][:4] and first.total == 10 and first.pages == 3
    second = imap_store.page(imap_mailbox, "INBOX", number=2, size=4)
    assert [e.uid for e in second.envelopes] == uids[::-1][4:8]
    # The cold first page asked for its 4 UIDs only; the whole list was sorted once meanwhile
    # (in the background), and the second page waited for it instead of sorting again.
    sorts = len(imap_command_log.commands(b"UID SORT"))
    assert [b"PARTIAL 1:4" in line for line in imap_command_log.commands(b"UID SORT")] == [True, False]

    imap_store.set_seen(imap_mailbox, "INBOX", [uids[0]])  # HIGHESTMODSEQ moves; the order does not
    third = imap_store.page(imap_mailbox, "INBOX", number=3, size=4)
    assert [e.uid for e in third.envelopes] == uids[::-1][8:] and third.envelopes[-1].seen
    assert imap_store.neighbours(imap_mailbox, "INBOX", uids[5]) == (uids[6], uids[4])
    assert len(imap_command_log.commands(b"UID SORT")) == sorts, "the cached list was sorted again"

    newest = imap_append(imap_mailbox, message(subject="nouveau"))  # UIDNEXT changes
    again = imap_store.page(imap_mailbox, "INBOX", number=1, size=4)
    assert again.envelopes[0].uid == newest and again.total == 11
    assert len(imap_command_log.commands(b"UID SORT")) > sorts


def test_cold_cache_asks_the_server_for_one_page_only(imap_store, imap_mailbox, imap_append, imap_command_log):
    for i in range(6):
        imap_append(imap_mailbox, message(subject=f"m{i}", date=days_ago(i)))
    imap_store.page(imap_mailbox, "INBOX", number=2, size=2)
    partial = [line for line in imap_command_log.commands(b"UID SORT") if b"PARTIAL" in line]
    assert partial and b"PARTIAL 3:4" in partial[0]


def test_sort_by_sender_and_subject(imap_store, imap_mailbox, imap_append):
    got = fill(imap_append, imap_mailbox, [
        ("Re: Zinc", "Bernard <bernard@demo.mssante.fr>", 3),
        ("alpha", "zoe@demo.mssante.fr", 2),
        ("[Labo] Fwd: Bilan", "Anne <anne@demo.mssante.fr>", 1),
        ("Courrier", "Claire <claire@demo.mssante.fr>", 4),
    ])
    by_subject = imap_store.sorted_uids(imap_mailbox, "INBOX", SortKey.SUBJECT, reverse=False)
    assert by_subject == [got["alpha"], got["[Labo] Fwd: Bilan"], got["Courrier"], got["Re: Zinc"]]
    by_sender = imap_store.sorted_uids(imap_mailbox, "INBOX", SortKey.FROM, reverse=False)
    assert by_sender == [got["[Labo] Fwd: Bilan"], got["Re: Zinc"], got["Courrier"], got["alpha"]]
    assert imap_store.sorted_uids(imap_mailbox, "INBOX", SortKey.FROM, reverse=True) == by_sender[::-1]
    by_date = imap_store.sorted_uids(imap_mailbox, "INBOX", SortKey.DATE, reverse=True)
    assert by_date == [got["[Labo] Fwd: Bilan"], got["alpha"], got["Re: Zinc"], got["Courrier"]]


def test_fallback_sort_without_sort_capability_matches_server_sort(
    make_imap_store, imap_store, imap_mailbox, imap_append
):
    same_day = days_ago(5)
    specs = [
        ("Re: Re: Planning", "Marc <marc@demo.mssante.fr>", 2, None),
        ("planning", "anne@demo.mssante.fr", 3, None),
        ("=?utf-8?q?=C3=89tat_des_lieux?=", "Élodie <elodie@demo.mssante.fr>", 1, None),
        ("Égalité", "bruno@demo.mssante.fr", 4, None),
        ("Fwd: Rappel (fwd)", "Marc <marc@demo.mssante.fr>", 6, same_day),
        ("Rappel", "marc@demo.mssante.fr", 7, same_day),  # same date, same base subject: ties
        ("sans date", "zed@demo.mssante.fr", 0, None),
    ]
    for subject, sender, age, date in specs:
        raw = message(subject=subject, sender=sender, date=date or days_ago(age))
        if subject == "sans date":
            raw = b"".join(line for line in raw.splitlines(keepends=True) if not line.startswith(b"Date:"))
        imap_append(imap_mailbox, raw, when=days_ago(age + 0.5))
    fallback = make_imap_store(disabled_capabilities=frozenset({"SORT", "ESORT"}))
    for key in SortKey:
        for reverse in (False, True):
            expected = imap_store.sorted_uids(imap_mailbox, "INBOX", key, reverse)
            assert fallback.sorted_uids(imap_mailbox, "INBOX", key, reverse) == expected, (key, reverse)
    page = fallback.page(imap_mailbox, "INBOX", number=1, size=3)
    assert [e.uid for e in page.envelopes] == imap_store.sorted_uids(imap_mailbox, "INBOX")[:3]


def test_page_fetches_only_visible_envelopes(imap_store, imap_mailbox, imap_append, imap_command_log):
    uids = [imap_append(imap_mailbox, message(subject=f"m{i}", date=days_ago(20 - i))) for i in range(8)]
    attached = imap_append(
        imap_mailbox,
        message(subject="=?utf-8?b?Q29tcHRlLXJlbmR1IMOpY2hvZ3JhcGhpZQ==?=", sender="=?utf-8?q?Dr_=C3=89lise_Roy?= <elise@demo.mssante.fr>",
                attachment=b"%PDF-1.4 ..."),
    )
    imap_store.sorted_uids(imap_mailbox, "INBOX")  # warm: the page below needs no sort
    imap_command_log.lines.clear()
    page = imap_store.page(imap_mailbox, "INBOX", number=1, size=3)
    assert [e.uid for e in page.envelopes] == [attached, uids[7], uids[6]]
    fetches = imap_command_log.commands(b"UID FETCH")
    assert len(fetches) == 1 and fetches[0].split()[3] == f"{attached},{uids[7]},{uids[6]}".encode()
    first = page.envelopes[0]
    assert first.subject == "Compte-rendu échographie"
    assert (first.sender.name, first.sender.email) == ("Dr Élise Roy", "elise@demo.mssante.fr")
    assert first.has_attachments and not page.envelopes[1].has_attachments
    assert first.to[0].email == "infirmiere@tilleuls.test.mssante.fr"
    assert first.date.tzinfo and first.internal_date.tzinfo and first.size > 0 and not first.seen


# -- messages --------------------------------------------------------------------------------------


def test_reading_does_not_mark_seen(imap_store, imap_mailbox, imap_append):
    uid = imap_append(imap_mailbox, message(subject="Confidentiel", body="Contenu médical."))
    raw = imap_store.raw_message(imap_mailbox, "INBOX", uid)
    assert b"Subject: Confidentiel" in raw
    assert not imap_store.envelopes(imap_mailbox, "INBOX", [uid])[0].seen
    imap_store.set_seen(imap_mailbox, "INBOX", [uid])
    imap_store.set_flagged(imap_mailbox, "INBOX", [uid])
    envelope = imap_store.envelopes(imap_mailbox, "INBOX", [uid])[0]
    assert envelope.seen and envelope.flagged
    imap_store.set_seen(imap_mailbox, "INBOX", [uid], seen=False)
    imap_store.set_flagged(imap_mailbox, "INBOX", [uid], flagged=False)
    envelope = imap_store.envelopes(imap_mailbox, "INBOX", [uid])[0]
    assert not envelope.seen and not envelope.flagged


def test_move_and_delete_to_trash_and_empty_trash(imap_store, imap_mailbox, imap_append, imap_command_log):
    keep, moved, deleted = (imap_append(imap_mailbox, message(subject=s)) for s in ("garder", "classer", "jeter"))
    assert len(imap_store.sorted_uids(imap_mailbox, "INBOX")) == 3
    imap_store.move(imap_mailbox, "INBOX", [moved], "Junk")
    imap_store.delete(imap_mailbox, "INBOX", [deleted])
    sorts = len(imap_command_log.commands(b"UID SORT"))
    assert imap_store.sorted_uids(imap_mailbox, "INBOX") == [keep]
    assert len(imap_command_log.commands(b"UID SORT")) == sorts, "removals are applied to the cached list"
    assert imap_store.status(imap_mailbox, "Junk").messages == 1
    trash = imap_store.sorted_uids(imap_mailbox, "Trash")
    assert len(trash) == 1
    assert imap_store.envelopes(imap_mailbox, "Trash", trash)[0].subject == "jeter"
    imap_store.delete(imap_mailbox, "Trash", trash)  # deleting in the Trash expunges
    assert imap_store.status(imap_mailbox, "Trash").messages == 0
    imap_store.move(imap_mailbox, "Junk", imap_store.sorted_uids(imap_mailbox, "Junk"), "Trash")
    assert imap_store.empty_trash(imap_mailbox) == 1
    assert imap_store.status(imap_mailbox, "Trash").messages == 0
    assert imap_store.status(imap_mailbox, "INBOX").messages == 1


def test_move_without_move_capability_copies_then_expunges(make_imap_store, imap_mailbox, imap_append):
    store = make_imap_store(disabled_capabilities=frozenset({"MOVE"}))
    uid = imap_append(imap_mailbox, message(subject="à classer"))
    store.move(imap_mailbox, "INBOX", [uid], "Drafts")
    assert store.status(imap_mailbox, "INBOX").messages == 0
    assert store.status(imap_mailbox, "Drafts").messages == 1


def test_search_finds_subject_and_body_words(imap_store, imap_mailbox, imap_append):
    scan = imap_append(imap_mailbox, message(subject="Scanner thoracique", body="Pas d'embolie pulmonaire.", date=days_ago(2)))
    lab = imap_append(imap_mailbox, message(subject="Bilan sanguin", body="Hémoglobine normale, embolie écartée.",
                                            sender="Laboratoire <labo@demo.mssante.fr>", date=days_ago(1)))
    imap_append(imap_mailbox, message(subject="Planning", body="Réunion jeudi."))
    assert imap_store.search(imap_mailbox, "INBOX", "thoracique", "subject") == [scan]
    assert imap_store.search(imap_mailbox, "INBOX", "embolie", "body") == [lab, scan]  # list order
    assert imap_store.search(imap_mailbox, "INBOX", "embolie", "body", reverse=False) == [scan, lab]
    assert imap_store.search(imap_mailbox, "INBOX", "hémoglobine", "text") == [lab]
    assert imap_store.search(imap_mailbox, "INBOX", "labo", "from") == [lab]
    assert imap_store.search(imap_mailbox, "INBOX", "embolie jeudi", "body") == []


def test_mail_delivered_by_smtp_arrives_in_inbox(imap_store, imap_mailbox):
    send_smtp(imap_mailbox, message(subject="Par SMTP", to=imap_mailbox, body="Livré par LMTP."))
    assert wait_for(lambda: imap_store.status(imap_mailbox, "INBOX").messages == 1)
    [uid] = imap_store.sorted_uids(imap_mailbox, "INBOX")
    assert b"Livr" in imap_store.raw_message(imap_mailbox, "INBOX", uid)
    assert imap_store.envelopes(imap_mailbox, "INBOX", [uid])[0].subject == "Par SMTP"
