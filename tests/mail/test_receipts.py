"""Delivery and read reports come back through Postfix and Dovecot and show on the sent message."""

import email
import subprocess
import uuid
from email.message import EmailMessage
from email.policy import default

import pytest
from imapclient import IMAPClient
from sqlalchemy import select

from mail import mdn, receipts
from mail.imap_pool import open_connection
from mail.mime import parse_message
from mail.models import DeliveryStatus, Mailbox
from portal.models import AuditEvent, Role
from tests.conftest import csrf_token, login, text
from tests.mail.conftest import delivery_report, stack_dir, wait_for, write

ASKED = "L'expéditeur demande un accusé de lecture"


@pytest.fixture()
def doctor(make_user):
    return make_user("medecin@tilleuls.test.mssante.fr", Role.PROFESSIONAL, national_id="810000000033")


@pytest.fixture()
def doctors_box(make_nominative, doctor) -> Mailbox:
    return make_nominative(doctor, "medecin", "Médecin Test")


def letter(sender: str, recipients: list[str], read_receipt: bool = False) -> tuple[str, bytes]:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(recipients), "Compte rendu de consultation"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@tilleuls.test.mssante.fr>"
    if read_receipt:
        message["Disposition-Notification-To"] = sender
    message.set_content("Bonjour,\nle compte rendu suit.\n")
    return message["Message-ID"], message.as_bytes()


def send_tracked(client, db, mailbox, recipients, read_receipt=False) -> str:
    """Send through the portal's editor: DSN asked with the Message-ID as ENVID, recorded, filed in Sent."""
    fields = {"read_receipt": "y"} if read_receipt else {}
    response = write(client, mailbox, to=", ".join(recipients), subject="Compte rendu de consultation",
                     body="Bonjour,\nle compte rendu suit.\n", **fields)  # fmt: skip
    assert response.status_code == 302
    sent = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "mail.send", AuditEvent.target == mailbox.address)
        .order_by(AuditEvent.id.desc())
    ).first()
    return sent.detail["message_id"]


def inbox(imap_server, imap_credential, mailbox: str) -> list[bytes]:
    client: IMAPClient = open_connection(imap_server)
    try:
        imap_credential.login(client, mailbox)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        return [data[b"RFC822"] for data in client.fetch(uids, ["RFC822"]).values()] if uids else []
    finally:
        client.logout()


def test_success_report_shows_the_message_delivered_in_the_sent_folder(
    webmail, sending, db, logged_in, professional, nominative, new_imap_mailbox, imap_server,
    imap_credential,
):
    colleague = new_imap_mailbox("kine")
    client = logged_in(professional)
    message_id = send_tracked(client, db, nominative, [colleague])
    assert wait_for(lambda: inbox(imap_server, imap_credential, nominative.address))  # Postfix's success DSN

    page = text(client.get(f"/mail/{nominative.id}/folder/Sent"))
    assert "Distribué" in page
    [recipient] = receipts.tracked(db, nominative, [message_id])[message_id].recipients
    assert (recipient.address, recipient.status) == (colleague, DeliveryStatus.DELIVERED)
    assert recipient.delivered_at is not None


def test_failure_report_for_an_unknown_local_address_shows_the_servers_reason(
    webmail, db, logged_in, professional, nominative, imap_append, imap_server, imap_credential
):
    unknown = "personne-inconnue@tilleuls.test.mssante.fr"
    message_id, raw = letter(nominative.address, [unknown])
    # Submission refuses an unknown local address during the dialogue (transmit raises SendFailed and
    # nothing is followed). Postfix's local submission queues it like a message a remote operator
    # accepted, so that Dovecot refuses the recipient at delivery and Postfix bounces it.
    subprocess.run(
        ["/usr/sbin/sendmail", "-C", str(stack_dir() / "postfix"), "-f", nominative.address, "-N", "success,failure",
         "-V", message_id, "-R", "hdrs", "--", unknown],
        input=raw, check=True, timeout=30,
    )
    receipts.record_sent(db, nominative, message_id, [unknown], True, False, professional)
    imap_append(nominative.address, raw, folder="Sent", flags=["\\Seen"])
    assert wait_for(lambda: inbox(imap_server, imap_credential, nominative.address))

    page = text(logged_in(professional).get(f"/mail/{nominative.id}/folder/Sent"))

    [recipient] = receipts.tracked(db, nominative, [message_id])[message_id].recipients
    assert recipient.status is DeliveryStatus.FAILED and "doesn't exist" in recipient.reason
    assert f"Échec : {recipient.reason}" in page


def test_read_receipt_round_trip_between_two_mailboxes(
    webmail, sending, app, db, logged_in, professional, nominative, doctor, doctors_box, imap_server,
    imap_credential,
):
    recipients = [doctors_box.address]
    nurse = logged_in(professional)
    message_id = send_tracked(nurse, db, nominative, recipients, read_receipt=True)
    [received] = wait_for(lambda: inbox(imap_server, imap_credential, doctors_box.address))
    assert wait_for(lambda: inbox(imap_server, imap_credential, nominative.address))  # the success DSN first
    doctors = app.test_client()
    login(doctors, doctor, db)
    uid = 1

    message_page = f"/mail/{doctors_box.id}/message/{uid}/INBOX"
    assert ASKED in text(doctors.get(message_page))
    token = csrf_token(doctors, message_page)
    doctors.post(f"/mail/{doctors_box.id}/read-receipt/{uid}/INBOX", data={"send": "1", "csrf_token": token})

    assert ASKED not in text(doctors.get(message_page))
    reports = wait_for(
        lambda: [r for r in inbox(imap_server, imap_credential, nominative.address) if b"disposition-notification" in r]
    )
    mdn = email.message_from_bytes(reports[0], policy=default)
    assert mdn.get_content_type() == "multipart/report" and mdn.get_param("report-type") == "disposition-notification"
    assert (mdn["To"], mdn["In-Reply-To"]) == (nominative.address, message_id)
    assert mdn.get_payload()[1].get_content_type() == "message/disposition-notification"
    receipt = parse_message(reports[0]).read_receipt
    assert (receipt.original_message_id, receipt.final_recipient) == (message_id, doctors_box.address)
    assert (receipt.mode, receipt.disposition) == ("manual-action/MDN-sent-manually", "displayed")
    assert receipt.reporting_ua == "tilleuls.test.mssante.fr; Portail MSSante"
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "mail.mdn")).all()
    assert (event.actor_id, event.target, event.outcome) == (doctor.id, doctors_box.address, "success")
    assert event.detail["sent"] is True and event.detail["message_id"] == message_id

    page = text(nurse.get(f"/mail/{nominative.id}/folder/Sent"))
    assert "Lu" in page
    [recipient] = receipts.tracked(db, nominative, [message_id])[message_id].recipients
    assert recipient.status is DeliveryStatus.READ and recipient.read_at is not None


def test_a_read_receipt_says_in_words_who_read_the_message(webmail, logged_in, professional, nominative, imap_append):
    message_id, sent = letter(nominative.address, ["medecin@ch.test.mssante.fr"], read_receipt=True)
    subject = "Accusé de lecture : Compte rendu de consultation"
    receipt = mdn.read_receipt(parse_message(sent), "medecin@ch.test.mssante.fr", "Dr Test", subject, "Lu.")
    imap_append(nominative.address, receipt)
    page = text(logged_in(professional).get(f"/mail/{nominative.id}/message/1/INBOX"))
    assert "Accusé de lecture : votre message a été affiché par medecin@ch.test.mssante.fr." in page
    assert message_id not in page  # an identifier for software, not for people


def test_declining_a_read_receipt_sends_nothing_and_is_not_asked_again(
    webmail, sending, db, logged_in, professional, nominative, imap_append, imap_server, imap_credential
):
    _message_id, raw = letter("secretariat@demo.mssante.fr", [nominative.address], read_receipt=True)
    uid = imap_append(nominative.address, raw)
    client = logged_in(professional)
    token = csrf_token(client, f"/mail/{nominative.id}/message/{uid}/INBOX")

    client.post(f"/mail/{nominative.id}/read-receipt/{uid}/INBOX", data={"send": "0", "csrf_token": token})

    assert ASKED not in text(client.get(f"/mail/{nominative.id}/message/{uid}/INBOX"))
    again = client.post(f"/mail/{nominative.id}/read-receipt/{uid}/INBOX", data={"send": "1", "csrf_token": token})
    assert again.status_code == 404
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "mail.mdn")).all()
    assert event.detail["sent"] is False


def test_stranger_cannot_send_a_read_receipt_for_a_mailbox_they_cannot_open(
    webmail, sending, db, logged_in, stranger, nominative, imap_append, imap_server, imap_credential
):
    _message_id, raw = letter("secretariat@demo.mssante.fr", [nominative.address], read_receipt=True)
    uid = imap_append(nominative.address, raw)
    client = logged_in(stranger)
    token = csrf_token(client, "/")

    response = client.post(f"/mail/{nominative.id}/read-receipt/{uid}/INBOX", data={"send": "1", "csrf_token": token})

    assert response.status_code == 404
    client_flags = open_connection(imap_server)
    imap_credential.login(client_flags, nominative.address)
    client_flags.select_folder("INBOX", readonly=True)
    assert b"$MDNSent" not in client_flags.get_flags([uid])[uid]
    client_flags.logout()
    assert not db.scalars(select(AuditEvent).where(AuditEvent.action == "mail.mdn")).all()


def test_a_sync_with_no_new_mail_asks_the_server_only_for_the_inbox_status(
    db, professional, nominative, imap_store, imap_command_log, imap_append
):
    receipts.record_sent(db, nominative, "<a@demo.mssante.fr>", ["x@demo.mssante.fr"], True, True, professional)
    imap_append(nominative.address, letter("a@demo.mssante.fr", [nominative.address])[1])
    receipts.sync_reports(db, imap_store, nominative)
    assert imap_command_log.commands(b"UID SEARCH")  # the new message was looked at once
    imap_command_log.lines.clear()

    receipts.sync_reports(db, imap_store, nominative)

    assert imap_command_log.commands(b"STATUS") and not imap_command_log.commands(b"UID SEARCH")
    assert not imap_command_log.commands(b"UID FETCH")


def test_a_listing_of_a_mailbox_awaiting_no_report_asks_the_server_nothing(
    db, nominative, imap_store, imap_command_log, imap_append
):
    imap_append(nominative.address, letter("a@demo.mssante.fr", [nominative.address])[1])

    assert receipts.sync_reports(db, imap_store, nominative) == 0

    assert not imap_command_log.lines


def test_a_late_delay_report_does_not_undo_a_delivery(db, professional, nominative, imap_store, imap_append):
    recipient = "kine@demo.mssante.fr"
    sent = receipts.record_sent(db, nominative, "<suivi@demo.mssante.fr>", [recipient], True, False, professional)
    imap_append(nominative.address, delivery_report(nominative.address, sent.message_id, recipient))
    imap_append(nominative.address, delivery_report(nominative.address, sent.message_id, recipient, "delayed", "4.4.1"))

    assert receipts.sync_reports(db, imap_store, nominative) == 2

    assert sent.recipients[0].status is DeliveryStatus.DELIVERED
