"""A mailbox's message handed to Postfix's submission port (STARTTLS, the stack's CA, master login) arrives."""

import email
import uuid
from email.message import EmailMessage
from email.policy import default

import pytest

from mail.sending import transmit
from portal.smtp import Connection, SendFailed, SmtpServer, xtext, xtext_decoded
from tests.mail.conftest import messages_with_id, wait_for


def letter(sender: str, recipient: str) -> tuple[str, bytes]:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, recipient, "Transmission"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@tilleuls.test.mssante.fr>"
    message.set_content("Bonjour,\nle compte rendu suit.\n")
    return message["Message-ID"], message.as_bytes()


def test_message_sent_as_a_mailbox_reaches_the_other_mailbox_with_dsn_asked(
    submission, new_imap_mailbox, imap_server, imap_credential
):
    sender, recipient = new_imap_mailbox("infirmiere"), new_imap_mailbox("medecin")
    message_id, raw = letter(sender, recipient)

    asked = transmit(submission, sender, raw, recipients=[recipient], notify=["SUCCESS", "FAILURE"], envelope_id=message_id)

    assert asked  # Postfix offers DSN
    [received] = wait_for(lambda: messages_with_id(imap_server, imap_credential, recipient, message_id))
    assert email.message_from_bytes(received, policy=default)["From"] == sender


def test_sending_as_another_address_is_refused_by_the_operator(submission, new_imap_mailbox):
    sender, other, recipient = new_imap_mailbox("a"), new_imap_mailbox("b"), new_imap_mailbox("c")
    _message_id, raw = letter(other, recipient)

    with pytest.raises(SendFailed):
        # Logged in as `sender` but claiming `other` as envelope sender: the sender login map refuses.
        server = SmtpServer(
            host=submission.smtp_host,
            port=submission.smtp_port,
            security=submission.smtp_security,
            ca_file=str(submission.smtp_ca_file),
            username=f"{sender}*{submission.imap_master_user}",
            password=submission.imap_master_password.get_secret_value(),
        )
        with Connection(server) as connection:
            connection.send(raw, sender=other, recipients=[recipient])


def test_certificate_not_signed_by_the_configured_ca_is_refused(submission, new_imap_mailbox):
    sender, recipient = new_imap_mailbox("a"), new_imap_mailbox("b")
    _message_id, raw = letter(sender, recipient)
    untrusting = submission.model_copy(update={"smtp_ca_file": None})  # the system store knows no test CA

    with pytest.raises(SendFailed, match="injoignable"):
        transmit(untrusting, sender, raw, recipients=[recipient])


def test_envelope_id_is_encoded_as_xtext_and_decoded_back():
    assert xtext("<a+b=c@d>") == "<a+2Bb+3Dc@d>"
    assert xtext("é") == "+C3+A9"
    assert xtext_decoded(xtext("<é+x=y@d>")) == "<é+x=y@d>"
