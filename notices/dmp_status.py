"""What the DUI asks: may the establishment feed the DMP for a usager? As JSON, as a FHIR R4 Consent, and as a feed.

The answer is the usager page's (notices.oppositions.feeding_status), so that the DUI and the
reception staff never read two different statuses.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, or_, select, union_all
from sqlalchemy.orm import Session

from notices import oppositions
from notices.models import DuiClient, IdentityStatus, Notice, Opposition, Usager
from portal import ins

MAX_PAGE = 500
# FHIR: the OIDs of the INS matricule (FR Core, fr-core-patient-ins), and of FINESS.
INS_SYSTEMS = {ins.Kind.NIR: "urn:oid:1.2.250.1.213.1.4.8", ins.Kind.NIA: "urn:oid:1.2.250.1.213.1.4.9"}
INS_TYPES = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
FINESS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
PERFORMER_TYPES = {"usager": "Patient", "representative": "RelatedPerson", "staff": "Practitioner"}


class BadCursor(ValueError):
    """A cursor this portal did not give."""


@dataclass(frozen=True)
class Status:
    usager: Usager
    state: str  # oppositions.INFORMED, OPPOSITION or NOT_INFORMED
    since: datetime | None
    opposed_by: str | None  # "usager", "representative" or "staff" when state is OPPOSITION

    @property
    def may_feed(self) -> bool:
        # Feeding also needs a qualified INS (the RNIV): the DMP is keyed by it.
        return self.state == oppositions.INFORMED and self.usager.identity_status is IdentityStatus.QUALIFIEE


def find_usager(db: Session, client: DuiClient, identifier: str) -> Usager | None:
    """The client's establishment's usager named by a matricule INS (key checked) or by the DUI's own id."""
    stmt = select(Usager).where(Usager.establishment_id == client.establishment_id)
    try:
        matricule, _kind = ins.validate(identifier)
    except ins.InvalidMatricule:
        return db.scalar(stmt.where(Usager.local_id == identifier))
    # A DUI id may look like a matricule: the usager holding that INS comes first.
    matching = stmt.where(or_(Usager.ins == matricule, Usager.local_id == identifier))
    return db.scalar(matching.order_by(case((Usager.ins == matricule, 0), else_=1)).limit(1))


def status_of(db: Session, usager: Usager) -> Status:
    feeding = oppositions.feeding_status(db, usager)
    opposed_by = None
    if feeding.state == oppositions.OPPOSITION:
        opposed_by = _opposed_by(oppositions.active_opposition(db, usager.id))
    return Status(usager, feeding.state, feeding.since, opposed_by)


def as_json(status: Status) -> dict:
    return {
        "local_id": status.usager.local_id,
        "status": status.state,
        "since": _rfc3339(status.since),
        "opposed_by": status.opposed_by,
        "identity_qualified": status.usager.identity_status is IdentityStatus.QUALIFIEE,
        "may_feed": status.may_feed,
    }


def as_consent(status: Status) -> dict:
    """A FHIR R4 Consent: the usager's privacy directive about the establishment disclosing documents to the DMP.

    French law makes feeding the DMP an opt-out (art. L.1111-15 CSP): an opposition is an active
    directive that denies; information given makes an active directive that permits; before the
    information, the directive is a draft, not to be acted upon.
    """
    usager, establishment = status.usager, status.usager.establishment
    state = {oppositions.OPPOSITION: "active", oppositions.INFORMED: "active"}.get(status.state, "draft")
    provision = {
        "type": "permit" if status.state == oppositions.INFORMED else "deny",
        "action": [_concept("http://terminology.hl7.org/CodeSystem/consentaction", "disclose", "Disclose")],
    }
    if status.since:
        provision["period"] = {"start": _rfc3339(status.since)}
    consent = {
        "resourceType": "Consent",
        "id": f"dmp-{usager.id}",
        "status": state,
        "scope": _concept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", "Privacy Consent"),
        "category": [_concept("http://loinc.org", "59284-0", "Patient Consent")],
        "patient": {"identifier": _patient_identifier(usager), "display": usager.local_id},
        "organization": [
            {"identifier": {"system": FINESS_SYSTEM, "value": establishment.finess}, "display": establishment.name}
        ],
        "policyRule": _concept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTOUT", "opt-out"),
        "provision": provision,
    }
    if status.since:
        consent["dateTime"] = _rfc3339(status.since)
    if status.opposed_by:
        # Who opposed, by the kind of FHIR resource they would be; their name stays in the portal.
        consent["performer"] = [{"type": PERFORMER_TYPES[status.opposed_by]}]
    return consent


@dataclass(frozen=True)
class Change:
    status: Status
    changed_at: datetime


@dataclass(frozen=True)
class Changes:
    items: list[Change]
    cursor: str | None  # where the next poll starts; the one given when nothing changed since
    more: bool  # another page is ready at once


def changes(db: Session, client: DuiClient, since: datetime | None, cursor: str | None, limit: int) -> Changes:
    """The usagers whose status may have changed after `since` (or after the cursor), oldest change first.

    A change is an opposition recorded or withdrawn, a notice whose status moved, or an edit of
    the usager's record (a new representative, a new admission): each item gives the status now.
    """
    after_at, after_id = decode_cursor(cursor) if cursor else (since or datetime.min.replace(tzinfo=UTC), 0)
    moments = union_all(
        select(Opposition.usager_id.label("usager_id"), Opposition.recorded_at.label("at")),
        select(Opposition.usager_id, Opposition.withdrawn_at).where(Opposition.withdrawn_at.is_not(None)),
        select(Notice.usager_id, Notice.status_changed_at),
        select(Usager.id, Usager.updated_at).where(Usager.establishment_id == client.establishment_id),
    ).subquery()
    latest = (
        select(moments.c.usager_id, func.max(moments.c.at).label("changed_at")).group_by(moments.c.usager_id).subquery()
    )
    rows = db.execute(
        select(Usager, latest.c.changed_at)
        .join(latest, latest.c.usager_id == Usager.id)
        .where(
            Usager.establishment_id == client.establishment_id,
            or_(latest.c.changed_at > after_at, and_(latest.c.changed_at == after_at, Usager.id > after_id)),
        )
        .order_by(latest.c.changed_at, Usager.id)
        .limit(limit + 1)
    ).all()
    items = [Change(status_of(db, usager), changed_at) for usager, changed_at in rows[:limit]]
    if items:
        cursor = encode_cursor(items[-1].changed_at, items[-1].status.usager.id)
    elif cursor is None:
        cursor = encode_cursor(after_at, after_id)
    return Changes(items, cursor, more=len(rows) > limit)


def encode_cursor(at: datetime, usager_id: int) -> str:
    return base64.urlsafe_b64encode(f"{at.astimezone(UTC).isoformat()}|{usager_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, usager_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        moment = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise BadCursor(cursor) from error
    if moment.tzinfo is None or not usager_id.isdigit():
        raise BadCursor(cursor)
    return moment, int(usager_id)


def change_as_json(change: Change) -> dict:
    return {**as_json(change.status), "changed_at": _rfc3339(change.changed_at)}


def _opposed_by(opposition: Opposition | None) -> str:
    if opposition is None or opposition.notice is None:
        return "staff"
    return "usager" if opposition.notice.addressee_capacity == "usager" else "representative"


def _patient_identifier(usager: Usager) -> dict:
    # FR Core conveys the INS only for a qualified identity; otherwise the DUI's own id names the usager.
    if usager.ins and usager.identity_status is IdentityStatus.QUALIFIEE:
        _matricule, kind = ins.validate(usager.ins)
        code = f"INS-{kind.value}"
        return {
            "type": {"coding": [{"system": INS_TYPES, "code": code}]},
            "system": INS_SYSTEMS[kind],
            "value": usager.ins,
        }
    return {"type": {"text": "DUI"}, "value": usager.local_id}


def _concept(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _rfc3339(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None
