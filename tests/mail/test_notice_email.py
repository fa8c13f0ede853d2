"""Notices by e-mail through the real Postfix, read back over IMAP: one message, even after an outage and a retry."""

import asyncio
import email
from concurrent.futures import ThreadPoolExecutor
from email.policy import default

from notices import issuing
from notices.models import NoticeStatus
from notices.rendering import EMAIL_SUBJECT
from portal.cli import main
from tests.mail.conftest import SMTP_PORT, messages_with_id, wait_for
from tests.notices import conftest as notices_fixtures

# The usagers of the notices tests.
make_usager = notices_fixtures.make_usager
usager_under_guardianship = notices_fixtures.usager_under_guardianship


def email_notice_to_guardian(db, reception, usager, address: str, settings):
    """A prepared e-mail notice to the usager's guardian, whose address is `address`."""
    guardian = usager.representatives[0]
    guardian.email = address
    db.commit()
    choice = issuing.Choice(guardian.id, "email")
    [notice] = issuing.issue(db, reception, usager, [choice], base_url="https://portail.test/", settings=settings)
    return notice


def test_email_notice_is_delivered_once_through_postfix(
    db, reception, usager_under_guardianship, settings, new_imap_mailbox, imap_server, imap_credential
):
    address = new_imap_mailbox("tuteur")
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": SMTP_PORT, "smtp_security": "plain"})

    notice = email_notice_to_guardian(db, reception, usager_under_guardianship, address, smtp)
    issuing.send_email(db, notice, smtp)
    issuing.send_email(db, notice, smtp)  # already sent: nothing goes out again

    assert notice.status == NoticeStatus.SENT and notice.sent_at
    found = wait_for(lambda: messages_with_id(imap_server, imap_credential, address, notice.message_id))
    assert len(found) == 1
    message = email.message_from_bytes(found[0], policy=default)
    assert message["Subject"] == EMAIL_SUBJECT
    assert notice.reference in message.get_body(("plain",)).get_content()


def test_smtp_outage_fails_then_retry_sends_the_same_message_id(
    db, reception, usager_under_guardianship, settings, new_imap_mailbox, imap_server, imap_credential
):
    address = new_imap_mailbox("tuteur")
    down = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": 9, "smtp_security": "plain", "smtp_timeout_seconds": 3})
    up = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": SMTP_PORT, "smtp_security": "plain"})

    notice = email_notice_to_guardian(db, reception, usager_under_guardianship, address, down)
    issuing.send_email(db, notice, down)
    assert notice.status == NoticeStatus.FAILED and "injoignable" in notice.failure_reason
    message_id, content = notice.message_id, notice.content

    issuing.retry(db, reception, notice, up)

    assert notice.status == NoticeStatus.SENT and notice.failure_reason == ""
    assert (notice.message_id, notice.content) == (message_id, content)
    found = wait_for(lambda: messages_with_id(imap_server, imap_credential, address, message_id))
    assert len(found) == 1


def test_send_pending_sends_what_a_request_left_prepared(
    app, db, reception, usager_under_guardianship, settings, new_imap_mailbox, imap_server, imap_credential, monkeypatch
):
    address = new_imap_mailbox("tuteur")
    notice = email_notice_to_guardian(db, reception, usager_under_guardianship, address, settings)
    assert notice.status == NoticeStatus.PREPARED  # as if the request had died before sending
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", SMTP_PORT)
    monkeypatch.setattr(settings, "smtp_security", "plain")

    result = app.test_cli_runner().invoke(main, ["notices", "send-pending"])
    assert result.exit_code == 0 and f"{notice.reference} sent" in result.output
    result = app.test_cli_runner().invoke(main, ["notices", "send-pending"])
    assert notice.reference not in result.output
    assert len(wait_for(lambda: messages_with_id(imap_server, imap_credential, address, notice.message_id))) == 1


def test_notice_is_sent_from_a_thread_that_runs_an_event_loop(
    db, reception, usager_under_guardianship, settings, new_imap_mailbox, imap_server, imap_credential
):
    address = new_imap_mailbox("tuteur")
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": SMTP_PORT, "smtp_security": "plain"})
    notice = email_notice_to_guardian(db, reception, usager_under_guardianship, address, smtp)

    async def inside_a_running_loop() -> None:  # as under an ASGI server or a browser-driving harness
        issuing.send_email(db, notice, smtp)

    # In a thread of the test's own, which the browser tests' event loop does not hold.
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, inside_a_running_loop()).result()
    assert notice.status == NoticeStatus.SENT
    assert len(wait_for(lambda: messages_with_id(imap_server, imap_credential, address, notice.message_id))) == 1
