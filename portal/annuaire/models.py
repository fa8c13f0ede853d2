"""The annuaire: MSSanté addresses, RPPS activities, trust-space domains, and the imports that fill them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from portal.database import Base, utcnow


def sort_key(length: int) -> String:
    # Folded keys are compared byte by byte on both databases, so that ranking and
    # prefix ranges agree: PostgreSQL's locale collations would ignore the spaces.
    return String(length).with_variant(String(length, collation="C"), "postgresql")


_TITLES = {"DR": "Dr", "PR": "Pr"}


class Professional(Base):
    """A professional of the RPPS file, summed up for the entries that carry their national id."""

    __tablename__ = "annuaire_professionals"

    national_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    profession_code: Mapped[str] = mapped_column(String(4))
    profession: Mapped[str] = mapped_column(String(100))
    specialty: Mapped[str] = mapped_column(String(150))
    # Folded words of every activity (professions, specialties, structures, towns).
    words: Mapped[str] = mapped_column(Text)


class Entry(Base):
    """One MSSanté address (the file has no other stable key) and what the extraction says of it."""

    __tablename__ = "annuaire_entries"
    __table_args__ = (
        Index("ix_annuaire_entries_address", "address", unique=True),
        Index("ix_annuaire_entries_name", "name_key", "rank"),
        Index("ix_annuaire_entries_national_id", "national_id"),
    )

    # Position in the ranking order (surname or structure, then first name or service, then file order).
    # Each import numbers the entries anew, so that one surname, or one prefix of surnames, is a range of
    # ranks, and SQLite's full-text index, whose rowid it is, returns its matches in ranking order.
    rank: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(String(254))
    bal_type: Mapped[str] = mapped_column(String(3))
    national_id: Mapped[str] = mapped_column(String(20))
    civility: Mapped[str] = mapped_column(String(20))
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    profession_code: Mapped[str] = mapped_column(String(4))
    profession: Mapped[str] = mapped_column(String(100))
    specialty: Mapped[str] = mapped_column(String(150))
    structure_id: Mapped[str] = mapped_column(String(30))
    structure_name: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(300))
    postal_code: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(3))
    # Ranking keys: the folded surname (or structure) and first name (or service).
    name_key: Mapped[str] = mapped_column(sort_key(100))
    first_key: Mapped[str] = mapped_column(sort_key(100))
    # Full-text documents: the extraction's folded words, and the RPPS words of the same national id.
    # On PostgreSQL, a generated tsvector column `document` (left out of the model, see portal.migrate)
    # holds both for the GIN index.
    own_text: Mapped[str] = mapped_column(Text)
    rpps_text: Mapped[str] = mapped_column(Text, default="")

    professional: Mapped[Professional | None] = relationship(
        primaryjoin=foreign(national_id) == Professional.national_id, viewonly=True, lazy="raise"
    )

    @property
    def is_local(self) -> bool:
        """A mailbox of this portal's establishments, built for a search (see service.register_local_source)."""
        return self.rank is None

    @property
    def title(self) -> str:
        """The civilité d'exercice as written before a name: the files give codes (DR, PR)."""
        return _TITLES.get(self.civility.upper(), self.civility)

    @property
    def display_name(self) -> str:
        if self.bal_type == "PER":
            return f"{self.first_name or ''} {(self.last_name or '').upper()}".strip()
        return " – ".join(part for part in (self.service, self.structure_name) if part) or self.address


class Activity(Base):
    """One row of the RPPS file: a professional's activity in one structure."""

    __tablename__ = "annuaire_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(20), index=True)
    profession_code: Mapped[str] = mapped_column(String(4))
    profession: Mapped[str] = mapped_column(String(100))
    specialty_code: Mapped[str] = mapped_column(String(10))
    specialty: Mapped[str] = mapped_column(String(150))
    mode_code: Mapped[str] = mapped_column(String(4))
    mode: Mapped[str] = mapped_column(String(50))
    structure_name: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(100))


class Domain(Base):
    """A domain of the MSSanté trust space (listeblanchemssante.xml)."""

    __tablename__ = "annuaire_domains"

    name: Mapped[str] = mapped_column(String(253), primary_key=True)
    description: Mapped[str] = mapped_column(String(300))
    operator_dn: Mapped[str] = mapped_column(String(500))
    updated: Mapped[str] = mapped_column(String(40))


class Import(Base):
    """One import of a file, written first so that the administration page can follow it."""

    __tablename__ = "annuaire_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # mssante, rpps or domains
    source: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="running")  # running, done, failed
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    size: Mapped[int] = mapped_column(default=0)
    bytes_read: Mapped[int] = mapped_column(default=0)
    rows_read: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    merged: Mapped[int] = mapped_column(default=0)
    rejected_count: Mapped[int] = mapped_column(default=0)
    # The first rejected lines, {"line": n, "reason": "..."}; the count says how many in all.
    rejected: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")

    @property
    def percent(self) -> int:
        return min(100, self.bytes_read * 100 // self.size) if self.size else 0
