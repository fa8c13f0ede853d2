"""Administration of mailboxes and delegations (administrators only)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mail.models import Delegation, Mailbox, MailboxKind
from portal.access import require_role
from portal.audit.service import SUCCESS, record
from portal.models import Establishment, Role, User
from portal.pagination import Page, paginate


class Duplicate(Exception):
    """The address is already registered."""


class InvalidMailbox(ValueError):
    """The mailbox's facts contradict its kind; the message, in French, says which rule."""


@dataclass(frozen=True)
class MailboxData:
    address: str
    kind: MailboxKind
    display_name: str
    establishment_id: int
    owner_id: int | None


def search(db: Session, actor: User, text: str, page: int) -> Page[Mailbox]:
    require_role(actor, Role.ADMINISTRATOR, "mail.admin_search")
    stmt = select(Mailbox).options(selectinload(Mailbox.owner), selectinload(Mailbox.establishment))
    if text:
        pattern = text.strip()
        stmt = stmt.where(
            Mailbox.address.icontains(pattern, autoescape=True) | Mailbox.display_name.icontains(pattern, autoescape=True)
        )
    return paginate(db, stmt.order_by(Mailbox.kind.desc(), func.lower(Mailbox.address)), page)


def get(db: Session, actor: User, mailbox_id: int) -> Mailbox | None:
    require_role(actor, Role.ADMINISTRATOR, "mail.admin_get")
    return db.get(Mailbox, mailbox_id)


def people(db: Session, actor: User) -> list[User]:
    """Active users who can own, answer for or be delegated to a mailbox."""
    require_role(actor, Role.ADMINISTRATOR, "mail.admin_people")
    return list(db.scalars(select(User).where(User.is_active).order_by(func.lower(User.last_name), User.id)))


def establishments(db: Session, actor: User) -> list[Establishment]:
    require_role(actor, Role.ADMINISTRATOR, "mail.admin_establishments")
    return list(db.scalars(select(Establishment).where(Establishment.is_active).order_by(Establishment.name)))


def create(db: Session, actor: User, data: MailboxData) -> Mailbox:
    require_role(actor, Role.ADMINISTRATOR, "mail.admin_create")
    data = _checked(db, data)
    mailbox = Mailbox(**data.__dict__)
    db.add(mailbox)
    record(db, "mail.mailbox_created", outcome=SUCCESS, actor=actor, target=mailbox.address, detail={"kind": data.kind})
    db.commit()
    return mailbox


def update(db: Session, actor: User, mailbox: Mailbox, display_name: str, owner_id: int | None) -> None:
    """The address and kind are the operator's facts and stay; the label and the person can change."""
    require_role(actor, Role.ADMINISTRATOR, "mail.admin_update")
    data = _checked(
        db,
        MailboxData(mailbox.address, mailbox.kind, display_name, mailbox.establishment_id, owner_id),
        existing=mailbox,
    )
    changed = [name for name in ("display_name", "owner_id") if getattr(mailbox, name) != getattr(data, name)]
    if changed:
        mailbox.display_name, mailbox.owner_id = data.display_name, data.owner_id
        record(db, "mail.mailbox_updated", outcome=SUCCESS, actor=actor, target=mailbox.address, detail={"fields": changed})
        db.commit()


def set_active(db: Session, actor: User, mailbox: Mailbox, active: bool) -> None:
    require_role(actor, Role.ADMINISTRATOR, "mail.admin_set_active")
    mailbox.is_active = active
    action = "mail.mailbox_reactivated" if active else "mail.mailbox_deactivated"
    record(db, action, outcome=SUCCESS, actor=actor, target=mailbox.address)
    db.commit()


def add_delegate(db: Session, actor: User, mailbox: Mailbox, user_id: int) -> None:
    require_role(actor, Role.ADMINISTRATOR, "mail.admin_delegate")
    if mailbox.kind is not MailboxKind.ORG:
        raise InvalidMailbox(_l("Seules les boîtes organisationnelles ont des délégués."))
    user = db.get(User, user_id)
    if user is None or not user.is_active:
        raise InvalidMailbox(_l("Cet utilisateur est inconnu ou désactivé."))
    if any(d.user_id == user_id for d in mailbox.delegations):
        return
    mailbox.delegations.append(Delegation(user=user, granted_by_id=actor.id))
    record(db, "mail.delegation_granted", outcome=SUCCESS, actor=actor, target=mailbox.address, detail={"user": user.email})
    db.commit()


def remove_delegate(db: Session, actor: User, mailbox: Mailbox, user_id: int) -> None:
    require_role(actor, Role.ADMINISTRATOR, "mail.admin_delegate")
    for delegation in mailbox.delegations:
        if delegation.user_id == user_id:
            mailbox.delegations.remove(delegation)
            record(
                db, "mail.delegation_revoked", outcome=SUCCESS, actor=actor, target=mailbox.address,
                detail={"user": delegation.user.email},
            )
            db.commit()
            return


def _checked(db: Session, data: MailboxData, existing: Mailbox | None = None) -> MailboxData:
    data = MailboxData(
        address=data.address.strip().lower(),
        kind=data.kind,
        display_name=data.display_name.strip(),
        establishment_id=data.establishment_id,
        owner_id=data.owner_id if data.kind is not MailboxKind.APP else None,
    )
    if data.kind is MailboxKind.PER and data.owner_id is None:
        raise InvalidMailbox(_l("Une boîte nominative a besoin de son titulaire."))
    if data.kind is MailboxKind.ORG and data.owner_id is None:
        raise InvalidMailbox(_l("Une boîte organisationnelle a besoin d'un responsable."))
    if existing is None and db.scalar(select(Mailbox.id).where(Mailbox.address == data.address)):
        raise Duplicate(data.address)
    return data
