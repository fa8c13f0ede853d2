"""Mailboxes the portal opens, and who is delegated to the organisational ones."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import Base, utcnow
from portal.models import Establishment, User


class MailboxKind(enum.StrEnum):
    PER = "PER"  # nominative: one professional
    ORG = "ORG"  # organisational: a service, used by its delegates
    APP = "APP"  # applicative: used by the software itself (notices)

    @property
    def label(self) -> str:
        return str(KIND_LABELS[self])


KIND_LABELS = {
    MailboxKind.PER: _l("Nominative"),
    MailboxKind.ORG: _l("Organisationnelle"),
    MailboxKind.APP: _l("Applicative"),
}


class Mailbox(Base):
    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254), unique=True)
    kind: Mapped[MailboxKind] = mapped_column(Enum(MailboxKind, native_enum=False, length=3))
    display_name: Mapped[str] = mapped_column(String(200))
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"), index=True)
    # PER: the professional who owns it. ORG: the person responsible for it.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    establishment: Mapped[Establishment] = relationship()
    owner: Mapped[User | None] = relationship()
    delegations: Mapped[list[Delegation]] = relationship(
        back_populates="mailbox", cascade="all, delete-orphan", order_by="Delegation.granted_at"
    )


class Delegation(Base):
    """An administrator lets a user read and write from an organisational mailbox."""

    __tablename__ = "delegations"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    mailbox: Mapped[Mailbox] = relationship(back_populates="delegations")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
