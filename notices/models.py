"""Usagers of an establishment, their identity (INS), legal situation and representatives; notice texts."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.database import Base, utcnow
from portal.models import Establishment, User


def _enum(cls: type[enum.Enum], length: int) -> Enum:
    # Stored as their values in a VARCHAR, as the other models do: no native type to migrate.
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


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
