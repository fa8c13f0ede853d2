"""Build a read receipt (RFC 8098 message disposition notification) that a user chose to send."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from mail.compose import WIRE
from mail.mime import Message
from portal.database import utcnow

PRODUCT = "Portail MSSante"
# The only disposition the portal reports: the user saw the message and agreed to say so.
DISPOSITION = "manual-action/MDN-sent-manually; displayed"


def read_receipt(original: Message, mailbox_address: str, mailbox_name: str, subject: str, text: str) -> bytes:
    """multipart/report; report-type=disposition-notification: `text` for people, then the fields.

    Addressed to the Disposition-Notification-To addresses (RFC 8098 § 2.1); Original-Message-ID
    only when the original had one (§ 3.2.5); the original itself is not returned (the optional
    third part), since it may carry health data the sender already has.
    """
    domain = mailbox_address.rpartition("@")[2]
    receipt = EmailMessage()
    receipt["From"] = formataddr((mailbox_name, mailbox_address))
    receipt["To"] = ", ".join(formataddr((a.name, a.email)) for a in original.disposition_notification_to)
    receipt["Subject"] = subject
    receipt["Date"] = format_datetime(utcnow())
    receipt["Message-ID"] = make_msgid(domain=domain)
    if original.message_id:
        receipt["In-Reply-To"] = original.message_id
        receipt["References"] = original.message_id
    receipt.set_content(text)
    receipt.make_mixed()
    receipt.set_type("multipart/report")
    receipt.set_param("report-type", "disposition-notification")

    fields = [f"Reporting-UA: {domain}; {PRODUCT}", f"Final-Recipient: rfc822; {mailbox_address}"]
    if original.message_id:
        fields.append(f"Original-Message-ID: {original.message_id}")
    fields.append(f"Disposition: {DISPOSITION}")
    notification = EmailMessage()
    notification["Content-Type"] = "message/disposition-notification"
    notification.set_payload("".join(field + "\r\n" for field in fields))
    receipt.attach(notification)
    # Folded at 78 columns, a long Message-ID moves to a continuation line and In-Reply-To would
    # read back with the folding space in front of it.
    return receipt.as_bytes(policy=WIRE)
