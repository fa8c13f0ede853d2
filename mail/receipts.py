"""Following sent messages: what a send asked for, and the delivery (RFC 3464) and read (RFC 8098) reports.

Reports arrive as mail in the sending mailbox's INBOX. Each sync looks only at the UIDs that came
after a per-mailbox checkpoint, and only when some recent message still awaits a report, so that
listing a folder costs one STATUS when nothing new has arrived.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from mail.imap import ImapStore
from mail.mime import Message, parse_message
from mail.models import DeliveryStatus, Mailbox, ReportCheckpoint, SentMessage, SentRecipient
from portal import bounces
from portal.database import utcnow
from portal.models import User
from portal.smtp import xtext_decoded

INBOX = "INBOX"
# Reports for older messages are not looked for: a server gives up on a delivery within days, and a
# read receipt a month later says little.
REPORT_WINDOW = timedelta(days=30)
# A report never takes a recipient back: a late "delayed" does not undo "delivered", nor this "read".
RANK = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.DELAYED: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.PROCESSED: 3,
    DeliveryStatus.DELETED: 3,
    DeliveryStatus.READ: 4,
}
# An operator's MTA hands mail to its mailbox store over LMTP, which speaks no DSN: Postfix then
# reports the final hop as "relayed" (so does the test stack with Dovecot), and that is the delivery.
DSN_ACTIONS = {
    "delivered": DeliveryStatus.DELIVERED,
    "relayed": DeliveryStatus.DELIVERED,
    "expanded": DeliveryStatus.DELIVERED,
    "delayed": DeliveryStatus.DELAYED,
    "failed": DeliveryStatus.FAILED,
}
DISPOSITIONS = {"displayed": DeliveryStatus.READ, "deleted": DeliveryStatus.DELETED}


def record_sent(
    db: Session,
    mailbox: Mailbox,
    message_id: str,
    recipients: Sequence[str],
    dsn_asked: bool,
    mdn_asked: bool,
    actor: User,
) -> SentMessage:
    """Remember a message just sent from `mailbox` (which the caller let `actor` open), to follow its reports.

    The send must use the Message-ID as its envelope id (ENVID), which delivery reports return.
    """
    sent = SentMessage(
        mailbox_id=mailbox.id,
        message_id=message_id,
        sent_by_id=actor.id,
        dsn_requested=dsn_asked,
        mdn_requested=mdn_asked,
        recipients=[SentRecipient(address=address) for address in dict.fromkeys(a.strip().lower() for a in recipients)],
    )
    db.add(sent)
    db.commit()
    return sent


def tracked(db: Session, mailbox: Mailbox, message_ids: Iterable[str | None]) -> dict[str, SentMessage]:
    """The followed messages among `message_ids`, by Message-ID (the latest send when one was sent twice)."""
    wanted = {message_id for message_id in message_ids if message_id}
    if not wanted:
        return {}
    stmt = (
        select(SentMessage)
        .where(SentMessage.mailbox_id == mailbox.id, SentMessage.message_id.in_(wanted))
        .options(selectinload(SentMessage.recipients))
        .order_by(SentMessage.id)
    )
    return {sent.message_id: sent for sent in db.scalars(stmt)}


def overall(sent: SentMessage) -> SentRecipient:
    """The recipient that sums the message up in a list: a failure if any, else the least advanced."""
    failed = [r for r in sent.recipients if r.status is DeliveryStatus.FAILED]
    return failed[0] if failed else min(sent.recipients, key=lambda r: RANK[r.status])


def sync_reports(db: Session, store: ImapStore, mailbox: Mailbox) -> int:
    """Match the reports that reached the mailbox's INBOX since the last sync; returns how many matched."""
    # Most listings are of mailboxes awaiting no report: they cost one query and no IMAP round trip.
    # Their checkpoint may lag meanwhile; the search of a later sync is bounded by the send date anyway.
    since = _oldest_awaiting(db, mailbox)
    if since is None:
        return 0
    status = store.status(mailbox.address, INBOX)
    checkpoint = db.get(ReportCheckpoint, mailbox.id)
    after = checkpoint.last_uid if checkpoint and checkpoint.uidvalidity == status.uidvalidity else 0
    newest = status.uidnext - 1
    if newest <= after:
        return 0
    matched = 0
    for raw in store.reports(mailbox.address, INBOX, after, since.date()):
        matched += _apply(db, mailbox, parse_message(raw))
    db.commit()
    _advance(db, mailbox, status.uidvalidity, newest, checkpoint)
    return matched


def failures_reported(store: ImapStore, address: str, uidvalidity: int, after_uid: int) -> bounces.Reports:
    """The failed recipients that delivery reports in `address`'s INBOX tell of, above `after_uid`
    while the INBOX keeps `uidvalidity` (from the start of the report window otherwise).

    For messages that are not followed as SentMessage rows (the notices): any address the portal
    sends from, whether or not it is a mailbox of the webmail.
    """
    status = store.status(address, INBOX)
    after = after_uid if uidvalidity == status.uidvalidity else 0
    newest = status.uidnext - 1
    failures = []
    if newest > after:
        for raw in store.reports(address, INBOX, after, (utcnow() - REPORT_WINDOW).date()):
            report = parse_message(raw)
            if report.delivery_report is None:
                continue
            message_ids = tuple(dict.fromkeys(m for m in _dsn_message_ids(report) if m))
            failures += [
                bounces.Failure(message_ids, e.original_recipient or e.recipient, e.diagnostic or e.status)
                for e in report.delivery_report.recipients
                if e.failed
            ]
    return bounces.Reports(status.uidvalidity, max(newest, after), failures)


def _oldest_awaiting(db: Session, mailbox: Mailbox) -> datetime | None:
    """When the oldest recent message still awaiting a report was sent; None when none awaits."""
    awaiting = or_(
        SentRecipient.status.in_([DeliveryStatus.PENDING, DeliveryStatus.DELAYED]),
        (SentRecipient.status == DeliveryStatus.DELIVERED) & SentMessage.mdn_requested,
    )
    stmt = (
        select(func.min(SentMessage.sent_at))
        .join(SentMessage.recipients)
        .where(SentMessage.mailbox_id == mailbox.id, SentMessage.sent_at >= utcnow() - REPORT_WINDOW, awaiting)
    )
    return db.scalar(stmt)


def _advance(
    db: Session, mailbox: Mailbox, uidvalidity: int, last_uid: int, checkpoint: ReportCheckpoint | None
) -> None:
    if checkpoint is None:
        db.add(ReportCheckpoint(mailbox_id=mailbox.id, uidvalidity=uidvalidity, last_uid=last_uid))
    else:
        same = checkpoint.uidvalidity == uidvalidity
        checkpoint.uidvalidity = uidvalidity
        checkpoint.last_uid = max(last_uid, checkpoint.last_uid) if same else last_uid
    try:
        db.commit()
    except IntegrityError:
        # Another request created the checkpoint meanwhile; matching is idempotent, the next sync goes on.
        db.rollback()


def _apply(db: Session, mailbox: Mailbox, report: Message) -> int:
    when = report.date if report.date and report.date.tzinfo else utcnow()
    if report.delivery_report is not None:
        sent = _find(db, mailbox, _dsn_message_ids(report))
        if sent is None:
            return 0
        for entry in report.delivery_report.recipients:
            status = DSN_ACTIONS.get(entry.action)
            recipient = _recipient(sent, entry.original_recipient, entry.recipient)
            if status is not None and recipient is not None:
                reason = (entry.diagnostic or entry.status) if status is DeliveryStatus.FAILED else None
                _update(recipient, status, when, reason)
        return 1
    if report.read_receipt is not None:
        receipt = report.read_receipt
        sent = _find(db, mailbox, [receipt.original_message_id])
        recipient = _recipient(sent, receipt.final_recipient) if sent is not None else None
        if recipient is None:
            return 0
        _update(recipient, DISPOSITIONS.get(receipt.disposition, DeliveryStatus.PROCESSED), when, None)
        return 1
    return 0


def _dsn_message_ids(report: Message) -> list[str | None]:
    """Where a delivery report names the message: the envelope id we gave (its Message-ID), a reply
    reference, or the returned headers (RET=HDRS) or message."""
    ids = [xtext_decoded(report.delivery_report.original_envelope_id), report.in_reply_to, *report.references]
    ids += [returned.message_id for returned in report.attached_messages]
    for attachment in report.attachments:
        if attachment.content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(attachment.data)
            ids.append((headers.get("message-id") or "").strip() or None)
    return ids


def _find(db: Session, mailbox: Mailbox, message_ids: Sequence[str | None]) -> SentMessage | None:
    for message_id in message_ids:
        if message_id:
            found = tracked(db, mailbox, [message_id]).get(message_id)
            if found is not None:
                return found
    return None


def _recipient(sent: SentMessage, *addresses: str | None) -> SentRecipient | None:
    by_address = {recipient.address: recipient for recipient in sent.recipients}
    return next((by_address[a.lower()] for a in addresses if a and a.lower() in by_address), None)


def _update(recipient: SentRecipient, status: DeliveryStatus, when: datetime, reason: str | None) -> None:
    if status is DeliveryStatus.DELIVERED and recipient.delivered_at is None:
        recipient.delivered_at = when
    if status is DeliveryStatus.READ and recipient.read_at is None:
        recipient.read_at = when
    if RANK[status] >= RANK[recipient.status]:
        recipient.status, recipient.reported_at = status, when
        recipient.reason = reason[:500] if reason else None
