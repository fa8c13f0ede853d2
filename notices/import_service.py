"""Importing usagers from a DUI export: a dry run, then the import of every valid row in one transaction.

Each row is checked by the very form reception staff fill in (notices.forms.UsagerForm), matched to a
usager of the establishment by the DUI's local id, then by INS, and either imported whole,
representatives included, or rejected whole with its reasons. The dry run does the same work and rolls
it back, so that the preview counts what the import will do, database constraints included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from werkzeug.datastructures import MultiDict

from notices import importer, service
from notices.forms import UsagerForm
from notices.models import Protection, Usager
from portal import ins
from portal.access import PermissionDenied
from portal.audit.service import CLI_ACTOR, FAILURE, SUCCESS, record
from portal.models import Establishment, User

ACTION = "notices.usager_import"
# Values per IN (...) list: well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 500
# What a new usager gets for an optional column the file does not have.
NEW_USAGER_DEFAULTS = {"protection": Protection.NONE.value}


class ImportFailed(Exception):
    """The database refused the import: nothing of it was saved."""


@dataclass(frozen=True)
class RejectedRow:
    position: int
    where: str  # "ligne 12", "entrée 3"
    problems: tuple[importer.Problem, ...]


@dataclass
class Report:
    format: str
    encoding: str
    delimiter: str | None
    rows: int
    applied: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """What the audit line keeps: numbers only, never a value of the file."""
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": len(self.rejected)}  # fmt: skip


def establishment_by_finess(db: Session, finess: str) -> Establishment | None:
    return db.scalar(select(Establishment).where(Establishment.finess == finess.strip()))


def preview(db: Session, actor: User | None, establishment_id: int, data: bytes) -> Report:
    """What importing `data` would do, without saving anything; `actor` None is the operator at the command line."""
    return _run(db, actor, establishment_id, data, apply=False)


def apply(db: Session, actor: User | None, establishment_id: int, data: bytes) -> Report:
    """Import every valid row of `data` in one transaction; ImportFailed if the database refuses it."""
    return _run(db, actor, establishment_id, data, apply=True)


def _run(db: Session, actor: User | None, establishment_id: int, data: bytes, apply: bool) -> Report:
    if actor is not None and establishment_id not in {e.id for e in service.registration_establishments(actor)}:
        raise PermissionDenied(ACTION)
    reading = importer.read(data)
    report = Report(reading.format, reading.encoding, reading.delimiter, len(reading.records), apply,
                    warnings=reading.warnings)  # fmt: skip
    records = reading.records
    _reject_duplicates(reading)
    existing = _existing(db, establishment_id, records)
    targets = _match(reading, existing)
    plans = []
    # One form for all the rows: binding its fields costs more than checking a row.
    form = UsagerForm(formdata=None, meta={"csrf": False})
    del form.establishment_id  # the establishment is the import's
    for row in records:
        target = targets.get(row.position)
        if not row.problems:
            if target is not None and _same_as_stored(row, target):
                report.unchanged += 1  # what a nightly re-export mostly holds; applying it would change nothing
                continue
            usager_data = _validated(form, reading, row, target)
            if usager_data is not None:
                plans.append((target, usager_data))
                continue
        report.rejected.append(RejectedRow(row.position, reading.where(row.position), tuple(row.problems)))
    try:
        for target, usager_data in plans:
            if target is None:
                usager = Usager(establishment_id=establishment_id)
                service.apply_usager_data(usager, usager_data)
                db.add(usager)
                report.created += 1
            elif service.apply_usager_data(target, usager_data):
                report.updated += 1
            else:
                report.unchanged += 1
        db.flush()
        if not apply:
            db.rollback()
            return report
        _audit(db, actor, establishment_id, SUCCESS, report)
        db.commit()
    except SQLAlchemyError as error:
        db.rollback()
        if apply:
            _audit(db, actor, establishment_id, FAILURE, report, error=type(error).__name__)
            db.commit()
        raise ImportFailed(
            _l("La base de données a refusé l'import : rien n'a été enregistré. Réessayez dans un instant.")
        ) from error
    return report


def _reject_duplicates(reading: importer.Reading) -> None:
    """Rows sharing a DUI id or a matricule are all rejected: which one is right is the DUI's to say."""
    for name, key in (("local_id", str.strip), ("ins", ins.normalise)):
        groups: dict[str, list[importer.Record]] = {}
        for row in reading.records:
            value = key(row.values.get(name, ""))
            if value:
                groups.setdefault(value, []).append(row)
        for rows in groups.values():
            for row in rows if len(rows) > 1 else ():
                others = ", ".join(reading.where(other.position) for other in rows if other is not row)
                reason = _l(
                    "En double dans le fichier (voir aussi %(others)s) : aucune de ces lignes n'est importée.",
                    others=others,
                )
                row.problems.append(importer.Problem(reading.label(name), reason))


def _existing(db: Session, establishment_id: int, records: list[importer.Record]) -> list[Usager]:
    """The establishment's usagers that rows may name, by DUI id or by matricule, representatives loaded."""
    local_ids = sorted({row.values.get("local_id", "").strip() for row in records} - {""})
    matricules = sorted({ins.normalise(row.values.get("ins", "")) for row in records} - {""})
    found: dict[int, Usager] = {}
    for column, values in ((Usager.local_id, local_ids), (Usager.ins, matricules)):
        for start in range(0, len(values), CHUNK):
            stmt = (
                select(Usager)
                .options(selectinload(Usager.representatives))
                .where(Usager.establishment_id == establishment_id, column.in_(values[start : start + CHUNK]))
            )
            found.update((usager.id, usager) for usager in db.scalars(stmt))
    return list(found.values())


def _match(reading: importer.Reading, existing: list[Usager]) -> dict[int, Usager]:
    """Row position -> the usager it updates: by DUI id, else by matricule. Conflicting rows get problems."""
    by_local_id = {usager.local_id: usager for usager in existing}
    by_ins = {usager.ins: usager for usager in existing if usager.ins}
    targets: dict[int, Usager] = {}
    claims: dict[int, list[importer.Record]] = {}
    for row in reading.records:
        matricule = ins.normalise(row.values.get("ins", ""))
        target = by_local_id.get(row.values.get("local_id", "").strip())
        holder = by_ins.get(matricule)
        if target is None:
            target = holder
        elif holder is not None and holder is not target:
            reason = _l("Ce matricule INS est déjà celui d'un autre usager de l'établissement.")
            row.problems.append(importer.Problem(reading.label("ins"), reason))
            continue
        if target is not None:
            targets[row.position] = target
            claims.setdefault(target.id, []).append(row)
    for rows in claims.values():
        for row in rows if len(rows) > 1 else ():
            others = ", ".join(reading.where(other.position) for other in rows if other is not row)
            reason = _l(
                "Vise le même dossier que %(others)s (même identifiant DUI ou même matricule INS).", others=others
            )
            row.problems.append(importer.Problem(reading.label("local_id"), reason))
    return targets


def _validated(
    form: UsagerForm, reading: importer.Reading, row: importer.Record, target: Usager | None
) -> service.UsagerData | None:
    """The row over the stored record, checked by the usager form; None, with the row's problems, if invalid."""
    values = _stored(target) if target is not None else dict(NEW_USAGER_DEFAULTS)
    values.update(row.values)
    representatives = [(None, r) for r in _stored_representatives(target)] if target is not None else []
    if row.representatives is not None:
        representatives = _merged_representatives(representatives, row.representatives)
    formdata = MultiDict(values)
    for index, (_number, rep) in enumerate(representatives):
        formdata.update({f"representatives-{index}-{name}": value for name, value in rep.items()})
    form.process(formdata)
    if form.validate():
        return form.usager_data()
    for name, errors in form.errors.items():
        if name != "representatives":
            row.problems.extend(importer.Problem(reading.label(name), str(error)) for error in errors)
            continue
        for index, entry in enumerate(errors):
            number = representatives[index][0] or index + 1
            for sub, messages in entry.items():
                row.problems.extend(importer.Problem(reading.label(sub, number), str(m)) for m in messages)
    return None


def _same_as_stored(row: importer.Record, usager: Usager) -> bool:
    """Every value the row carries is, as text, the stored one (representatives in the same order)."""
    stored = _stored(usager)
    if any(stored[name] != value for name, value in row.values.items()):
        return False
    if row.representatives is None:
        return True
    representatives = _stored_representatives(usager)
    return len(representatives) == len(row.representatives) and all(
        all(stored_rep[name] == value for name, value in values.items())
        for stored_rep, (_number, values) in zip(representatives, row.representatives, strict=True)
    )


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(getattr(value, "value", value))


def _stored(usager: Usager) -> dict[str, str]:
    return {name: _text(getattr(usager, name)) for name in service.USAGER_FIELDS}


def _stored_representatives(usager: Usager) -> list[dict[str, str]]:
    return [
        {"id": str(r.id), **{name: _text(getattr(r, name)) for name in service.REPRESENTATIVE_FIELDS}}
        for r in usager.representatives
    ]


def _merged_representatives(stored, rows):
    """The file's representatives, each over the stored one of the same role and name, whose record it keeps.

    A stored representative the file no longer lists is removed, as the DUI says.
    """
    unused = [rep for _number, rep in stored]
    merged = []
    for number, values in rows:
        key = (values.get("role"), importer.fold(values.get("last_name", "")))
        same = next((rep for rep in unused if (rep["role"], importer.fold(rep["last_name"])) == key), None)
        if same is not None:
            unused.remove(same)
        merged.append((number, {**(same or {}), **values}))
    return merged


def _audit(db: Session, actor: User | None, establishment_id: int, outcome: str, report: Report, **extra) -> None:
    detail = {"format": report.format, "encoding": report.encoding, **report.counts(), **extra}
    record(db, ACTION, outcome=outcome, target=f"establishment:{establishment_id}", actor=actor,
           actor_label=None if actor else CLI_ACTOR, detail=detail)  # fmt: skip
