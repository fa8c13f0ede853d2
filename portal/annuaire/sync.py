"""Loading read rows into the annuaire: a private staging table, then one transaction that swaps old for new.

Staging lives in a temporary table of the importing connection, so readers never see it.
The caller commits between batches (progress) and once after `merge_*`: until that last
commit, every other connection reads the previous data, and a failure rolls it all back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import Connection, delete, insert, select, text
from sqlalchemy.orm import Session

from portal.annuaire.importer import ACTIVITY_FIELDS, ENTRY_FIELDS, Domain, Rejected
from portal.annuaire.models import Domain as DomainRow
from portal.annuaire.models import Entry, NameVariant
from portal.annuaire.text import FUZZY_MIN_LENGTH, deletions

BATCH = 20_000
# Rejected lines kept for the report; the count says how many there were in all.
REJECTED_KEPT = 1000
STAGING = "annuaire_staging"


@dataclass
class Report:
    rows: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    merged: int = 0
    rejected_count: int = 0
    rejected: list[dict] = field(default_factory=list)

    def reject(self, rejected: Rejected) -> None:
        self.rejected_count += 1
        if len(self.rejected) < REJECTED_KEPT:
            self.rejected.append({"line": rejected.line, "reason": rejected.reason})


def stage(db: Session, fields: tuple[str, ...], records: Iterator, progress: Callable[[int], None]) -> Report:
    """Write the readable records to a fresh staging table; a repeated MSSanté address is merged into its first line."""
    connection = db.connection()
    connection.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
    columns = ", ".join(f"{name} TEXT NOT NULL" for name in fields)
    connection.execute(text(f"CREATE TEMPORARY TABLE {STAGING} (line INTEGER NOT NULL, {columns})"))
    report, seen = Report(), set()
    keyed = fields[0] == "address"
    while batch := list(islice(records, BATCH)):
        kept = []
        for record in batch:
            report.rows += 1
            if isinstance(record, Rejected):
                report.reject(record)
            elif keyed and record[1] in seen:
                report.merged += 1
            else:
                if keyed:
                    seen.add(record[1])
                kept.append(record)
        _copy(connection, ("line", *fields), kept)
        progress(report.rows)
    return report


def _copy(connection: Connection, columns: tuple[str, ...], rows: list[tuple]) -> None:
    # The drivers' bulk paths: COPY on PostgreSQL, executemany on SQLite (both far faster than the ORM).
    names = ", ".join(columns)
    cursor = connection.connection.cursor()
    if connection.dialect.name == "postgresql":
        with cursor.copy(f"COPY {STAGING} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cursor.executemany(f"INSERT INTO {STAGING} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
    cursor.close()


def merge_entries(db: Session, report: Report) -> None:
    """Make the entries what the staged extraction says, counting what changed."""
    run = db.connection().execute
    run(text(f"CREATE INDEX {STAGING}_address ON {STAGING} (address)"))
    rpps_words = "coalesce((SELECT p.words FROM annuaire_professionals p WHERE p.national_id = s.national_id), '')"
    report.removed = run(
        text(f"DELETE FROM annuaire_entries WHERE NOT EXISTS (SELECT 1 FROM {STAGING} s WHERE s.address = annuaire_entries.address)")
    ).rowcount
    assignments = ", ".join(f"{name} = s.{name}" for name in ENTRY_FIELDS[1:])
    report.updated = run(
        text(
            f"UPDATE annuaire_entries SET {assignments}, rpps_text = {rpps_words} FROM {STAGING} s "
            "WHERE s.address = annuaire_entries.address AND s.row_hash <> annuaire_entries.row_hash"
        )
    ).rowcount
    names = ", ".join(ENTRY_FIELDS)
    report.created = run(
        text(
            f"INSERT INTO annuaire_entries ({names}, rpps_text) SELECT {', '.join(f's.{n}' for n in ENTRY_FIELDS)}, "
            f"{rpps_words} FROM {STAGING} s "
            "WHERE NOT EXISTS (SELECT 1 FROM annuaire_entries e WHERE e.address = s.address) ORDER BY s.line"
        )
    ).rowcount
    run(text(f"DROP TABLE {STAGING}"))
    _sync_name_variants(db)


def _sync_name_variants(db: Session) -> None:
    """Keep one-typo variants for exactly the surnames in the annuaire, touching only those that came or went."""
    wanted = set(
        db.scalars(select(Entry.name_key).where(Entry.bal_type == "PER").distinct())
    )
    wanted = {name for name in wanted if len(name) >= FUZZY_MIN_LENGTH}
    known = set(db.scalars(select(NameVariant.name_key).distinct()))
    gone = list(known - wanted)
    for start in range(0, len(gone), 500):
        db.execute(delete(NameVariant).where(NameVariant.name_key.in_(gone[start : start + 500])))
    new = [{"variant": v, "name_key": name} for name in sorted(wanted - known) for v in deletions(name)]
    if new:
        db.connection().execute(insert(NameVariant), new)


def merge_activities(db: Session, report: Report) -> None:
    """Replace the RPPS activities and their per-professional summary; refresh the entries' RPPS words."""
    connection = db.connection()
    run = connection.execute
    postgres = connection.dialect.name == "postgresql"
    run(text(f"CREATE INDEX {STAGING}_national_id ON {STAGING} (national_id)"))
    words = (
        "string_agg(DISTINCT words, ' ' ORDER BY words)"
        if postgres
        else "group_concat(words, ' ')"  # over the DISTINCT, ordered subquery below
    )
    run(text("DROP TABLE IF EXISTS annuaire_staging_professionals"))
    run(
        text(
            "CREATE TEMPORARY TABLE annuaire_staging_professionals AS "
            "SELECT f.national_id, f.profession_code, f.profession, f.specialty, w.words FROM "
            # The summary shows the first activity that names a specialty, else the first one.
            "(SELECT national_id, profession_code, profession, specialty, row_number() OVER ("
            " PARTITION BY national_id ORDER BY CASE WHEN specialty = '' THEN 1 ELSE 0 END, line) AS rank"
            f" FROM {STAGING}) f "
            f"JOIN (SELECT national_id, {words} AS words FROM "
            f"(SELECT DISTINCT national_id, words FROM {STAGING} ORDER BY national_id, words) d GROUP BY national_id) w "
            "ON w.national_id = f.national_id WHERE f.rank = 1"
        )
    )
    run(text("CREATE INDEX annuaire_staging_professionals_id ON annuaire_staging_professionals (national_id)"))
    count = lambda sql: run(text(sql)).scalar_one()  # noqa: E731
    report.created = count(
        "SELECT count(*) FROM annuaire_staging_professionals s WHERE NOT EXISTS "
        "(SELECT 1 FROM annuaire_professionals p WHERE p.national_id = s.national_id)"
    )
    report.removed = count(
        "SELECT count(*) FROM annuaire_professionals p WHERE NOT EXISTS "
        "(SELECT 1 FROM annuaire_staging_professionals s WHERE s.national_id = p.national_id)"
    )
    report.updated = count(
        "SELECT count(*) FROM annuaire_staging_professionals s JOIN annuaire_professionals p "
        "ON p.national_id = s.national_id WHERE p.words <> s.words OR p.profession <> s.profession "
        "OR p.specialty <> s.specialty OR p.profession_code <> s.profession_code"
    )
    run(text("DELETE FROM annuaire_activities"))
    columns = ", ".join(ACTIVITY_FIELDS[:-1])
    run(text(f"INSERT INTO annuaire_activities ({columns}) SELECT {columns} FROM {STAGING} ORDER BY line"))
    run(text("DELETE FROM annuaire_professionals"))
    run(
        text(
            "INSERT INTO annuaire_professionals (national_id, profession_code, profession, specialty, words) "
            "SELECT national_id, profession_code, profession, specialty, words FROM annuaire_staging_professionals"
        )
    )
    fresh = "coalesce((SELECT p.words FROM annuaire_professionals p WHERE p.national_id = annuaire_entries.national_id), '')"
    run(text(f"UPDATE annuaire_entries SET rpps_text = {fresh} WHERE national_id <> '' AND rpps_text <> {fresh}"))
    run(text(f"DROP TABLE {STAGING}"))
    run(text("DROP TABLE annuaire_staging_professionals"))


def merge_domains(db: Session, domains: Iterable[Domain], report: Report) -> None:
    new = {domain.name: domain for domain in domains}
    old = {row.name: row for row in db.scalars(select(DomainRow))}
    report.rows = len(new)
    for name, row in old.items():
        if name not in new:
            db.delete(row)
            report.removed += 1
    for name, domain in new.items():
        values = {"description": domain.description, "operator_dn": domain.operator_dn, "updated": domain.updated}
        row = old.get(name)
        if row is None:
            db.add(DomainRow(name=name, **values))
            report.created += 1
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            report.updated += 1
    db.flush()
