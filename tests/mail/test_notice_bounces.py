"""A notice the operator's server took but could not deliver: the delivery report that Postfix returns to the
notice sender marks it failed, with the reason, in its proof chain and in its batch."""

import json

import pytest
from sqlalchemy import select

from mail.imap_pool import open_connection
from notices import batches, bounces, issuing, outbox
from notices.models import NoticeStatus, OutboxItem, OutboxState, ProofRecord
from tests.mail.conftest import wait_for
from tests.notices import conftest as notices_fixtures

make_usager = notices_fixtures.make_usager
FAMILY = "famille.martin@refus.example.org"
# The stack relays refus.example.org to a server that refuses every recipient (scripts/mailstack).
REASON = "Relay access denied"


@pytest.fixture()
def notice_sender(new_imap_mailbox) -> str:
    return new_imap_mailbox("avis")


@pytest.fixture()
def through_submission(submission, notice_sender):
    """Notices sent as an operator would have them: on submission, as the notice sender, by the master user."""
    return submission.model_copy(
        update={
            "notice_sender": notice_sender,
            "smtp_username": f"{notice_sender}*{submission.imap_master_user}",
            "smtp_password": submission.imap_master_password,
        }
    )


def collect(app, db, settings) -> int:
    with app.app_context():  # as in the worker, which reads the reports through the app's webmail
        return bounces.collect(db, settings)


def inbox_count(imap_server, imap_credential, address: str) -> int:
    client = open_connection(imap_server)
    try:
        imap_credential.login(client, address)
        return client.select_folder("INBOX", readonly=True)[b"EXISTS"]
    finally:
        client.logout()


def test_a_notice_refused_after_the_server_took_it_is_failed_with_the_reason_of_the_report(
    app, db, reception, make_usager, webmail, through_submission, notice_sender, imap_server, imap_credential
):
    usager = make_usager(email=FAMILY)
    [notice] = issuing.issue(
        db, reception, usager, [issuing.Choice(None, "email")], base_url="https://p.test/", settings=through_submission
    )
    issuing.send_email(db, notice, through_submission)
    assert notice.status == NoticeStatus.SENT, notice.failure_reason  # the operator's server took it
    wait_for(lambda: inbox_count(imap_server, imap_credential, notice_sender))

    assert collect(app, db, through_submission) == 1

    db.refresh(notice)
    assert notice.status == NoticeStatus.FAILED and REASON in notice.failure_reason
    last = json.loads(db.scalars(select(ProofRecord).order_by(ProofRecord.id.desc())).first().payload)
    assert (last["notice"], last["status"]) == (notice.reference, "failed")
    assert last["failure_reason"] == notice.failure_reason
    assert collect(app, db, through_submission) == 0  # a report is read once


def test_a_batch_notice_refused_after_acceptance_is_given_up_with_the_reason_in_the_batch_report(
    app, db, reception, establishment, make_usager, webmail, through_submission, notice_sender, imap_server,
    imap_credential,
):
    make_usager(email=FAMILY)
    batch = batches.launch(db, reception, batches.Selection(establishment.id), base_url="https://p.test/")
    [item_id] = outbox.claim(db, through_submission, "w")
    outbox.process(db, through_submission, item_id, "w")
    assert db.get(OutboxItem, item_id).state == OutboxState.SENT
    wait_for(lambda: inbox_count(imap_server, imap_credential, notice_sender))

    collect(app, db, through_submission)

    item = db.get(OutboxItem, item_id)
    assert item.state == OutboxState.PERMANENT and REASON in item.last_error
    assert [failed.id for failed in batches.failures(db, batch)] == [item_id]
    assert batches.progress(db, batch).failed == 1


def test_without_the_webmail_no_report_is_read_and_the_notice_stays_sent(
    app, db, reception, make_usager, through_submission, notice_sender, imap_server, imap_credential
):
    usager = make_usager(email=FAMILY)
    [notice] = issuing.issue(
        db, reception, usager, [issuing.Choice(None, "email")], base_url="https://p.test/", settings=through_submission
    )
    issuing.send_email(db, notice, through_submission)
    wait_for(lambda: inbox_count(imap_server, imap_credential, notice_sender))

    assert collect(app, db, through_submission) == 0
    assert notice.status == NoticeStatus.SENT
