"""Who may open which mailbox: the only place that decides it."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from mail.models import Delegation, Mailbox, MailboxKind
from portal.audit.service import DENIED, record
from portal.models import Role, User


def readable_mailboxes(db: Session, user: User) -> list[Mailbox]:
    """The user's own PER mailbox, the ORG ones they are delegated to or responsible for,
    and for administrators the APP ones; ordered for the mailbox switcher."""
    if not user.is_active:
        return []
    delegated = select(Delegation.mailbox_id).where(Delegation.user_id == user.id)
    rules = [
        (Mailbox.kind.in_([MailboxKind.PER, MailboxKind.ORG])) & (Mailbox.owner_id == user.id),
        (Mailbox.kind == MailboxKind.ORG) & Mailbox.id.in_(delegated),
    ]
    if user.has_role(Role.ADMINISTRATOR):
        rules.append(Mailbox.kind == MailboxKind.APP)
    stmt = (
        select(Mailbox)
        .where(Mailbox.is_active, or_(*rules))
        .order_by(Mailbox.kind.desc(), Mailbox.display_name)  # PER first, then ORG, then APP
    )
    return list(db.scalars(stmt))


def load_mailbox(db: Session, user: User, mailbox_id: int) -> Mailbox:
    """The mailbox if the user may open it; otherwise 404, as if it did not exist, and an audit line."""
    return _one_of(db, user, mailbox_id, readable_mailboxes(db, user), "mail.open")


def sending_mailboxes(db: Session, user: User) -> list[Mailbox]:
    """The mailboxes the user may write from: their own and the organisational ones they answer for.

    Applicative mailboxes are the software's: an administrator reads them but nobody writes from them.
    """
    return [mailbox for mailbox in readable_mailboxes(db, user) if mailbox.kind != MailboxKind.APP]


def load_sending_mailbox(db: Session, user: User, mailbox_id: int) -> Mailbox:
    """The mailbox if the user may write from it; otherwise 404 and an audit line, as load_mailbox."""
    return _one_of(db, user, mailbox_id, sending_mailboxes(db, user), "mail.send")


def _one_of(db: Session, user: User, mailbox_id: int, allowed: list[Mailbox], action: str) -> Mailbox:
    for mailbox in allowed:
        if mailbox.id == mailbox_id:
            return mailbox
    record(db, action, outcome=DENIED, actor=user, target=str(mailbox_id))
    db.commit()
    raise NotFound()
