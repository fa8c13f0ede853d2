"""Notices refused after the server took them, told by the delivery reports that come back to their sender.

The operator's server accepts a notice for a family's e-mail address; the family's server may still
refuse it (no such mailbox, mailbox full) and send a delivery report back to the notice sender.
Such a notice was not given: it is marked failed with the reason, proved, and its batch row given
up, so that reception sees it and the DUI's DMP status no longer counts it. Notices are sent with
their Message-ID as envelope id (RFC 3461), which the report returns.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notices import issuing
from notices.models import BounceCheckpoint, Notice, NoticeStatus, OutboxItem, OutboxState
from portal import bounces
from portal.settings import Settings

REFUSED = "refusé après l'envoi par le serveur du destinataire : {reason}"


def collect(db: Session, settings: Settings) -> int:
    """Read the reports that came back since the last look; the number of notices marked failed. Committed."""
    address = settings.notice_sender
    checkpoint = db.get(BounceCheckpoint, address)
    uidvalidity, after_uid = (checkpoint.uidvalidity, checkpoint.last_uid) if checkpoint else (0, 0)
    # No transaction stays open while the mail server answers (on SQLite it would hold the write lock).
    db.commit()
    reports = bounces.reported(address, uidvalidity, after_uid)
    if reports is None:
        return 0
    marked = 0
    for failure in reports.failures:
        notice = _sent_notice(db, failure)
        if notice is None:
            continue
        reason = REFUSED.format(reason=failure.reason)
        issuing.set_status(db, notice, NoticeStatus.FAILED, failure_reason=reason)
        issuing.prove_status(db, notice)
        item = db.scalar(select(OutboxItem).where(OutboxItem.notice_id == notice.id))
        if item is not None:
            item.state, item.last_error = OutboxState.PERMANENT, reason
        marked += 1
    if checkpoint is None:
        db.add(BounceCheckpoint(address=address, uidvalidity=reports.uidvalidity, last_uid=reports.last_uid))
    else:
        checkpoint.uidvalidity, checkpoint.last_uid = reports.uidvalidity, reports.last_uid
    try:
        db.commit()
    except IntegrityError:
        # Another worker read the same first reports at the same time and recorded them: its marks stand.
        db.rollback()
        return 0
    return marked


def _sent_notice(db: Session, failure: bounces.Failure) -> Notice | None:
    """The sent notice the report is about, locked until the commit (a second worker then finds it failed)."""
    for message_id in failure.message_ids:
        notice = db.scalar(select(Notice).where(Notice.message_id == message_id).with_for_update())
        if notice is not None:
            same_recipient = notice.recipient_address.lower() == failure.recipient.lower()
            return notice if notice.status == NoticeStatus.SENT and same_recipient else None
    return None
