"""Usagers: search, read, register and edit, scoped to the acting user's establishments."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from notices import plan as notice_plan
from notices.models import IdentityStatus, Protection, Representative, RepresentativeRole, Sex, Usager
from portal.access import PermissionDenied
from portal.audit.service import SUCCESS, record
from portal.database import utcnow
from portal.models import Establishment, Role, User
from portal.pagination import Page, paginate

# Who may register and edit usagers; professionals of the establishment may read them.
REGISTRARS = frozenset({Role.RECEPTION, Role.ADMINISTRATOR})
READERS = REGISTRARS | {Role.PROFESSIONAL}


class Duplicate(Exception):
    """Another usager of the establishment already holds this value; `field` names the form field."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class RepresentativeData:
    # The recorded representative this row edits; None for a new one.
    id: int | None
    role: RepresentativeRole
    last_name: str
    first_names: str = ""
    address_line1: str = ""
    address_line2: str = ""
    postal_code: str = ""
    city: str = ""
    email: str = ""
    judgment_type: str = ""
    judgment_scope: str = ""
    judgment_reference: str = ""
    judgment_date: date | None = None
    measure_end_date: date | None = None


@dataclass(frozen=True)
class UsagerData:
    local_id: str
    ins: str | None
    identity_status: IdentityStatus
    birth_name: str
    birth_first_names: str
    birth_date: date
    sex: Sex
    birth_place_code: str = ""
    admission_date: date | None = None
    address_line1: str = ""
    address_line2: str = ""
    postal_code: str = ""
    city: str = ""
    email: str = ""
    protection: Protection = Protection.NONE
    representatives: tuple[RepresentativeData, ...] = ()


USAGER_FIELDS = tuple(f.name for f in fields(UsagerData) if f.name != "representatives")
REPRESENTATIVE_FIELDS = tuple(f.name for f in fields(RepresentativeData) if f.name != "id")


def may_edit(actor: User, usager: Usager) -> bool:
    return _has_any_role(actor, REGISTRARS) and usager.establishment_id in _establishment_ids(actor)


def may_register(actor: User) -> bool:
    return _has_any_role(actor, REGISTRARS)


def registration_establishments(actor: User) -> list[Establishment]:
    """The establishments where the actor may register usagers."""
    return list(actor.establishments) if _has_any_role(actor, REGISTRARS) else []


def search_usagers(db: Session, actor: User, text: str, page: int) -> Page[Usager]:
    _require_any_role(actor, READERS, "notices.search_usagers")
    stmt = (
        select(Usager)
        .where(Usager.establishment_id.in_(_establishment_ids(actor)))
        .order_by(func.lower(Usager.birth_name), func.lower(Usager.birth_first_names), Usager.id)
    )
    # Each word must appear somewhere, so "durand 1840" finds Marie Durand with an INS holding 1840.
    columns = (Usager.birth_name, Usager.birth_first_names, Usager.ins, Usager.local_id)
    for word in text.split():
        stmt = stmt.where(or_(*(column.icontains(word, autoescape=True) for column in columns)))
    return paginate(db, stmt, page)


def get_usager(db: Session, actor: User, usager_id: int) -> Usager | None:
    """The usager if the actor may read them; None (a 404, which says nothing) otherwise."""
    _require_any_role(actor, READERS, "notices.get_usager")
    usager = db.scalar(select(Usager).options(selectinload(Usager.representatives)).where(Usager.id == usager_id))
    if usager is None or usager.establishment_id not in _establishment_ids(actor):
        return None
    return usager


def create_usager(db: Session, actor: User, establishment_id: int, data: UsagerData) -> Usager:
    _require_any_role(actor, REGISTRARS, "notices.create_usager")
    if establishment_id not in _establishment_ids(actor):
        raise PermissionDenied("notices.create_usager")
    usager = Usager(establishment_id=establishment_id)
    _refuse_duplicate(db, usager, data)
    changed = apply_usager_data(usager, data)
    db.add(usager)
    db.flush()
    record(
        db, "notices.usager_created", outcome=SUCCESS, actor=actor, target=_target(usager), detail={"fields": changed}
    )
    db.commit()
    return usager


def update_usager(db: Session, actor: User, usager: Usager, data: UsagerData) -> list[str]:
    """The names of the fields that changed; never their values, which are identity and health data."""
    if not may_edit(actor, usager):
        raise PermissionDenied("notices.update_usager")
    _refuse_duplicate(db, usager, data)
    changed = apply_usager_data(usager, data)
    if changed:
        record(
            db,
            "notices.usager_updated",
            outcome=SUCCESS,
            actor=actor,
            target=_target(usager),
            detail={"fields": changed},
        )
        db.commit()
    return changed


def plan_for(usager: Usager, today: date | None = None) -> list[notice_plan.Addressee]:
    """The notice plan from the usager's record, today being the day in France."""
    facts = notice_plan.Facts(
        birth_date=usager.birth_date,
        today=today or datetime.now(ZoneInfo("Europe/Paris")).date(),
        protection=usager.protection.value,
        ins_status=usager.identity_status.value,
        email=bool(usager.email),
        postal=usager.has_postal_address,
        representatives=tuple(
            notice_plan.RepresentativeFacts(role=r.role.value, email=bool(r.email), postal=r.has_postal_address)
            for r in usager.representatives
        ),
    )
    return notice_plan.plan(facts)


def _has_any_role(actor: User, roles: frozenset[Role]) -> bool:
    return actor.is_active and bool(actor.roles & roles)


def _require_any_role(actor: User, roles: frozenset[Role], action: str) -> None:
    if not _has_any_role(actor, roles):
        raise PermissionDenied(action)


def _establishment_ids(actor: User) -> set[int]:
    return {e.id for e in actor.establishments}


def _target(usager: Usager) -> str:
    # An id, never a name or an INS: the audit log is read by administrators, not by carers.
    return f"usager:{usager.id}"


def _refuse_duplicate(db: Session, usager: Usager, data: UsagerData) -> None:
    others = select(Usager.id).where(Usager.establishment_id == usager.establishment_id)
    if usager.id:
        others = others.where(Usager.id != usager.id)
    if db.scalar(others.where(Usager.local_id == data.local_id)):
        raise Duplicate("local_id")
    if data.ins and db.scalar(others.where(Usager.ins == data.ins)):
        raise Duplicate("ins")


def apply_usager_data(usager: Usager, data: UsagerData) -> list[str]:
    """Set the record to `data` without saving it; the names of the changed fields, in order."""
    changed = []
    for name in USAGER_FIELDS:
        if getattr(usager, name) != getattr(data, name):
            setattr(usager, name, getattr(data, name))
            changed.append(name)
    # Rows keep their record (and id) when edited, so that what later points at a representative
    # (a notice, an opposition link) keeps pointing at the same person.
    existing = {r.id: r for r in usager.representatives}
    kept = []
    for position, row in enumerate(data.representatives):
        representative = existing.pop(row.id, None) if row.id is not None else None
        if representative is None:
            representative = Representative()
            changed.append("representative_added")
        for name in REPRESENTATIVE_FIELDS:
            if getattr(representative, name) != getattr(row, name):
                setattr(representative, name, getattr(row, name))
                if representative.id is not None:
                    changed.append(f"representative.{name}")
        representative.position = position
        kept.append(representative)
    if existing:
        changed.append("representative_removed")
    usager.representatives = kept
    if changed:
        # Also when only representatives changed, which updates no column of the usager's row: the
        # DUI's feed of DMP status changes (notices.dmp_status.changes) reads this date.
        usager.updated_at = utcnow()
    return list(dict.fromkeys(changed))
