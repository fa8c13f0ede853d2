"""Mailboxes the portal opens, and who is delegated to the organisational ones."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, String
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


class DeliveryStatus(enum.StrEnum):
    """Where a sent message stands for one recipient, from the reports that came back."""

    PENDING = "pending"  # no report yet
    DELAYED = "delayed"
    DELIVERED = "delivered"
    FAILED = "failed"
    READ = "read"  # read receipt: displayed
    DELETED = "deleted"  # read receipt: deleted without being displayed
    PROCESSED = "processed"  # read receipt: handled by software, or dispatched

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self])


STATUS_LABELS = {
    DeliveryStatus.PENDING: _l("En attente"),
    DeliveryStatus.DELAYED: _l("Retardé"),
    DeliveryStatus.DELIVERED: _l("Distribué"),
    DeliveryStatus.FAILED: _l("Échec"),
    DeliveryStatus.READ: _l("Lu"),
    DeliveryStatus.DELETED: _l("Supprimé sans être lu"),
    DeliveryStatus.PROCESSED: _l("Traité"),
}


class SentMessage(Base):
    """A message the portal sent from a mailbox, followed by the delivery and read reports it asked for."""

    __tablename__ = "sent_messages"
    __table_args__ = (Index("ix_sent_messages_mailbox_message", "mailbox_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(998))  # with its angle brackets, as in the header
    sent_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    dsn_requested: Mapped[bool]
    mdn_requested: Mapped[bool]

    recipients: Mapped[list[SentRecipient]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="SentRecipient.id"
    )


class SentRecipient(Base):
    __tablename__ = "sent_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    sent_message_id: Mapped[int] = mapped_column(ForeignKey("sent_messages.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(254))
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=10, values_callable=lambda kind: [k.value for k in kind]),
        default=DeliveryStatus.PENDING,
    )
    reason: Mapped[str | None] = mapped_column(String(500))  # the server's diagnostic of a failure
    reported_at: Mapped[datetime | None]  # when the last report about this recipient arrived
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]

    message: Mapped[SentMessage] = relationship(back_populates="recipients")


class ReportCheckpoint(Base):
    """The INBOX UIDs already searched for reports, so that each sync looks only at new mail."""

    __tablename__ = "report_checkpoints"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True)
    # IMAP UIDs and UIDVALIDITY are unsigned 32-bit numbers: too large for a signed INTEGER.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)


class MailboxMonth(Base):
    """Figures of one mailbox for one month, counted on the IMAP server and kept to answer the indicators fast."""

    __tablename__ = "mailbox_months"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)  # its first day
    received: Mapped[int]  # messages that arrived in INBOX that month
    sent: Mapped[int]  # messages of the Sent folder that month
    # Messages per partner domain, from the envelopes of at most mail.indicators.ENVELOPES_PER_MONTH
    # messages of each folder; `sampled` says the cap was reached.
    domains: Mapped[dict] = mapped_column(JSON, default=dict)
    sampled: Mapped[bool] = mapped_column(default=False)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
