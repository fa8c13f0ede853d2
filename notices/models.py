"""Usagers of an establishment, their identity (INS), legal situation and representatives; notice texts."""

from __future__ import annotations

import enum
import json
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, Enum, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.database import Base, utcnow
from portal.models import Establishment, User


def _enum(cls: type[enum.Enum], length: int) -> Enum:
    # Stored as their values in a VARCHAR, as the other models do: no native type to migrate.
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


# The content types of a notice: a letter, or the message sent.
PDF = "application/pdf"
EML = "message/rfc822"

class IdentityStatus(enum.StrEnum):
    """The RNIV statuses; only a qualified INS may be used to exchange or share data."""

    PROVISOIRE = "provisoire"
    RECUPEREE = "recuperee"
    VALIDEE = "validee"
    QUALIFIEE = "qualifiee"

    @property
    def label(self) -> str:
        return str(IDENTITY_STATUS_LABELS[self])


IDENTITY_STATUS_LABELS = {
    IdentityStatus.PROVISOIRE: _l("Identité provisoire"),
    IdentityStatus.RECUPEREE: _l("Identité récupérée"),
    IdentityStatus.VALIDEE: _l("Identité validée"),
    IdentityStatus.QUALIFIEE: _l("Identité qualifiée"),
}


class Sex(enum.StrEnum):
    F = "F"
    M = "M"

    @property
    def label(self) -> str:
        return str(SEX_LABELS[self])


SEX_LABELS = {Sex.F: _l("Féminin"), Sex.M: _l("Masculin")}


class Protection(enum.StrEnum):
    NONE = "none"
    CURATELLE = "curatelle"
    REPRESENTATION_BIENS = "representation_biens"
    REPRESENTATION_PERSONNE = "representation_personne"

    @property
    def label(self) -> str:
        return str(PROTECTION_LABELS[self])


PROTECTION_LABELS = {
    Protection.NONE: _l("Aucune mesure de protection"),
    Protection.CURATELLE: _l("Curatelle (assistance)"),
    Protection.REPRESENTATION_BIENS: _l("Représentation pour les biens seulement"),
    Protection.REPRESENTATION_PERSONNE: _l("Représentation relative à la personne"),
}


class RepresentativeRole(enum.StrEnum):
    PARENT = "parent"
    TUTEUR = "tuteur"
    CURATEUR = "curateur"
    HABILITE = "habilite"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    RepresentativeRole.PARENT: _l("Parent (autorité parentale)"),
    RepresentativeRole.TUTEUR: _l("Tuteur"),
    RepresentativeRole.CURATEUR: _l("Curateur"),
    RepresentativeRole.HABILITE: _l("Personne habilitée (habilitation familiale)"),
}


class Usager(Base):
    __tablename__ = "usagers"
    __table_args__ = (
        UniqueConstraint("establishment_id", "local_id", name="uq_usagers_establishment_local_id"),
        UniqueConstraint("establishment_id", "ins", name="uq_usagers_establishment_ins"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"), index=True)
    # The DUI's own id: how the DUI names this usager when it imports or asks about them.
    local_id: Mapped[str] = mapped_column(String(64))
    # Matricule INS (NIR or NIA, key included); none while the identity is provisional or only validated.
    ins: Mapped[str | None] = mapped_column(String(15))
    identity_status: Mapped[IdentityStatus] = mapped_column(_enum(IdentityStatus, 10))
    # The five INS traits, as the INSi teleservice returns them.
    birth_name: Mapped[str] = mapped_column(String(100))
    birth_first_names: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date]
    sex: Mapped[Sex] = mapped_column(_enum(Sex, 1))
    # INSEE code of the birth commune (99xxx: born abroad); "" when unknown.
    birth_place_code: Mapped[str] = mapped_column(String(5), default="")
    admission_date: Mapped[date | None]
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    protection: Mapped[Protection] = mapped_column(_enum(Protection, 30), default=Protection.NONE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    establishment: Mapped[Establishment] = relationship()
    representatives: Mapped[list[Representative]] = relationship(
        back_populates="usager", cascade="all, delete-orphan", order_by="Representative.position"
    )

    @property
    def display_name(self) -> str:
        return f"{self.birth_name.upper()} {self.birth_first_names}"

    @property
    def has_postal_address(self) -> bool:
        return bool(self.address_line1 and self.postal_code and self.city)


class Representative(Base):
    """A parent, guardian, curator or authorised family member; the judgment is kept here, as DOMAIN asks."""

    __tablename__ = "representatives"

    id: Mapped[int] = mapped_column(primary_key=True)
    usager_id: Mapped[int] = mapped_column(ForeignKey("usagers.id", ondelete="CASCADE"), index=True)
    # Order of entry: the plan names representatives by this position.
    position: Mapped[int] = mapped_column(default=0)
    role: Mapped[RepresentativeRole] = mapped_column(_enum(RepresentativeRole, 10))
    last_name: Mapped[str] = mapped_column(String(100))
    first_names: Mapped[str] = mapped_column(String(200), default="")
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    # The protection judgment: type (tutelle, habilitation familiale, mandat de protection future...),
    # scope (person, property, both), reference (court and number) and dates.
    judgment_type: Mapped[str] = mapped_column(String(100), default="")
    judgment_scope: Mapped[str] = mapped_column(String(200), default="")
    judgment_reference: Mapped[str] = mapped_column(String(200), default="")
    judgment_date: Mapped[date | None]
    measure_end_date: Mapped[date | None]

    usager: Mapped[Usager] = relationship(back_populates="representatives")

    @property
    def display_name(self) -> str:
        return f"{self.last_name.upper()} {self.first_names}".strip()

    @property
    def has_postal_address(self) -> bool:
        return bool(self.address_line1 and self.postal_code and self.city)


class NoticeText(Base):
    """One version of an establishment's text for one notice variant.

    Every save adds a version and none is ever changed (a listener refuses it): a notice records
    the version it used, which is what the establishment shows to prove what it said.
    """

    __tablename__ = "notice_texts"
    __table_args__ = (
        UniqueConstraint("establishment_id", "variant", "number", name="uq_notice_texts_establishment_variant_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"), index=True)
    variant: Mapped[str] = mapped_column(String(20))  # one of notices.plan.VARIANTS
    # 1, 2, 3... per establishment and variant; the unique constraint settles two simultaneous saves.
    number: Mapped[int]
    # The template (notices.templating): Markdown-like paragraphs, lists and titles with {{ fields }}.
    body: Mapped[str] = mapped_column(Text)
    # The version whose body was brought back, when this one is a restoration.
    restored_from_number: Mapped[int | None]
    # None for the portal's default text, materialised when a notice first needs a version id.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_label: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    establishment: Mapped[Establishment] = relationship()
    author: Mapped[User | None] = relationship()


class NoticeTextIsImmutable(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_text_changes(session: Session, _context, _instances) -> None:
    if any(isinstance(obj, NoticeText) for obj in (*session.dirty, *session.deleted)):
        raise NoticeTextIsImmutable("notice text versions cannot be changed or deleted")


class NoticeStatus(enum.StrEnum):
    PREPARED = "prepared"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    PRINTED = "printed"
    HANDED_OVER = "handed_over"

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self])


STATUS_LABELS = {
    NoticeStatus.PREPARED: _l("préparée"),
    NoticeStatus.SENT: _l("envoyée"),
    NoticeStatus.DELIVERED: _l("distribuée"),
    NoticeStatus.FAILED: _l("échec"),
    NoticeStatus.PRINTED: _l("imprimée"),
    NoticeStatus.HANDED_OVER: _l("remise en main propre"),
}
# The statuses that show the information was given (or sent, for e-mail: no delivery report yet).
GIVEN_STATUSES = frozenset({NoticeStatus.SENT, NoticeStatus.DELIVERED, NoticeStatus.PRINTED, NoticeStatus.HANDED_OVER})


class Notice(Base):
    """One addressee x one channel of one usager's DMP information; a reissue is a new notice.

    Keeps the exact content given (PDF letter or e-mail message) and its SHA-256: what the
    establishment shows to prove what it said, to whom, how and when.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    usager_id: Mapped[int] = mapped_column(ForeignKey("usagers.id", ondelete="CASCADE"), index=True)
    # None when the addressee is the usager.
    representative_id: Mapped[int | None] = mapped_column(ForeignKey("representatives.id", ondelete="SET NULL"))
    # As given: the representative's name may change later, the notice's addressee does not.
    addressee_name: Mapped[str] = mapped_column(String(320))
    addressee_capacity: Mapped[str] = mapped_column(String(20))  # "usager" or a RepresentativeRole value
    variant: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(30))
    may_oppose: Mapped[bool]
    text_id: Mapped[int] = mapped_column(ForeignKey("notice_texts.id"))
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[NoticeStatus] = mapped_column(_enum(NoticeStatus, 12), default=NoticeStatus.PREPARED)
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issuer_label: Mapped[str] = mapped_column(String(254))
    # The e-mail address it went to; "" for letters and hand delivery.
    recipient_address: Mapped[str] = mapped_column(String(254), default="")
    # Fixed when the notice is prepared, so that a retry sends the same message, never a second one.
    # Indexed: a delivery report names the notice by it (notices.bounces).
    message_id: Mapped[str] = mapped_column(String(254), default="", index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(40))
    content_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    printed_at: Mapped[datetime | None]
    handed_over_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    usager: Mapped[Usager] = relationship()
    representative: Mapped[Representative | None] = relationship()
    text: Mapped[NoticeText] = relationship()
    issuer: Mapped[User | None] = relationship()
    link: Mapped[OppositionLink | None] = relationship(viewonly=True)

    @property
    def is_letter(self) -> bool:
        """A letter to print (PDF), rather than the message sent."""
        return self.content_type == PDF

    @property
    def file_name(self) -> str:
        return f"notice-{self.reference}.{'pdf' if self.is_letter else 'eml'}"


class OppositionLink(Base):
    """The personal link printed on one notice: only the SHA-256 of its token is kept."""

    __tablename__ = "opposition_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Wrong birth dates typed on the link's page; the link closes after notices.links.MAX_FAILED_CHECKS.
    failed_checks: Mapped[int] = mapped_column(default=0)

    notice: Mapped[Notice] = relationship()


class Opposition(Base):
    """An opposition to the establishment feeding the DMP, from a link or by staff; withdrawn, never deleted."""

    __tablename__ = "oppositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    usager_id: Mapped[int] = mapped_column(ForeignKey("usagers.id", ondelete="CASCADE"), index=True)
    # The notice whose link was used; None when a staff member recorded what the person said.
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Who opposed, as a sentence of the record: "Paul BERNARD (tuteur)".
    opposed_by: Mapped[str] = mapped_column(String(320))
    # The legitimate reason, as stated: never checked, never asked to be proved.
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    # Reception staff have seen it (the notification on the usagers' page).
    acknowledged_at: Mapped[datetime | None]

    usager: Mapped[Usager] = relationship()
    notice: Mapped[Notice | None] = relationship()


class ProofRecord(Base):
    """One link of an establishment's proof chain: canonical JSON, the previous record's hash, its own, signed."""

    __tablename__ = "proof_records"
    __table_args__ = (UniqueConstraint("establishment_id", "sequence", name="uq_proof_records_establishment_sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"), index=True)
    # 1, 2, 3... per establishment: two records appended at once collide on the constraint.
    sequence: Mapped[int]
    usager_id: Mapped[int | None] = mapped_column(ForeignKey("usagers.id", ondelete="SET NULL"), index=True)
    payload: Mapped[str] = mapped_column(Text)
    previous_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))
    # ASCII-armoured detached OpenPGP signature of record_hash, by the establishment's key.
    signature: Mapped[str] = mapped_column(Text)
    key_fingerprint: Mapped[str] = mapped_column(String(64))


class DuiClient(Base):
    """A DUI allowed to ask the DMP status of one establishment's usagers; only the SHA-256 of its token is kept."""

    __tablename__ = "dui_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"), index=True)
    # Names the client in the audit log: "DUI Cegi, serveur de production".
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    establishment: Mapped[Establishment] = relationship()


class NoticeBatch(Base):
    """Notices issued at once to a selection of an establishment's usagers; its outbox rows are the work to do."""

    __tablename__ = "notice_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"), index=True)
    # Who launched it: the issuer of its notices, as if they had issued them one by one.
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The selection's criteria as JSON (notices.batches.Selection.as_json), for the batch's pages.
    selection: Mapped[str] = mapped_column(Text)
    # Where the opposition links point when PORTAL_PUBLIC_URL is unset: the URL the batch was launched from.
    base_url: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    establishment: Mapped[Establishment] = relationship()
    created_by: Mapped[User] = relationship()

    @property
    def criteria(self) -> dict:
        return json.loads(self.selection)


class OutboxState(enum.StrEnum):
    """Where one notice of a batch stands; see notices.outbox for the transitions."""

    PENDING = "pending"  # to prepare and send
    CLAIMED = "claimed"  # a worker holds it (its lease: claimed_at)
    ACCEPTED = "accepted"  # the SMTP server took the message; its proof record is still to write
    SENT = "sent"  # done: sent (e-mail, MSSanté) or ready in the batch's print file (letter)
    FAILED = "failed"  # a temporary failure: tried again at next_attempt_at
    PERMANENT = "permanent"  # refused for good (5xx, too many attempts, no longer in the plan)


class OutboxItem(Base):
    """One notice to prepare and send: an addressee of a usager by one channel, in one batch."""

    __tablename__ = "notice_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("notice_batches.id", ondelete="CASCADE"), index=True)
    usager_id: Mapped[int] = mapped_column(ForeignKey("usagers.id", ondelete="CASCADE"))
    # None when the addressee is the usager.
    representative_id: Mapped[int | None] = mapped_column(ForeignKey("representatives.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(30))
    # Set when the notice is prepared, in the same transaction: its Message-ID is fixed from then on.
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), unique=True)
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState, 10), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    claimed_at: Mapped[datetime | None]
    # The server's reply (or why it could not be reached) at the last failed attempt.
    last_error: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None]

    batch: Mapped[NoticeBatch] = relationship()
    usager: Mapped[Usager] = relationship()
    notice: Mapped[Notice | None] = relationship()


Index("ix_notice_outbox_state_next_attempt_at", OutboxItem.state, OutboxItem.next_attempt_at)


class BounceCheckpoint(Base):
    """How far the notice sender's INBOX was read for delivery reports (notices.bounces)."""

    __tablename__ = "notice_bounce_checkpoints"

    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    # IMAP UIDs and UIDVALIDITY are unsigned 32-bit numbers: too large for a signed INTEGER.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
