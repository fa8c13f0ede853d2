"""Loading read rows into the annuaire: a private staging table, then one transaction that swaps old for new.

Staging lives in a temporary table of the importing connection, so readers never see it.
The caller commits between batches (progress) and once after `merge_*`: until that last
commit, every other connection reads the previous data, and a failure rolls it all back.

An extraction that changes anything is loaded into a new table, in ranking order and
without indexes, which then takes the old one's place: bulk inserts and index builds are
far faster than updating a table and its indexes row by row, and each import numbers the
ranks anew. Everything is set-based SQL over the staging table; on SQLite, this module
alone keeps the full-text index in step with the entries.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import Connection, MetaData, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import conv

from portal.annuaire.importer import ACTIVITY_FIELDS, ENTRY_FIELDS, Domain, Rejected
from portal.annuaire.models import Domain as DomainRow
from portal.annuaire.models import Entry
from portal.migrate import FULL_TEXT_COLUMN, FULL_TEXT_OBJECTS

log = logging.getLogger(__name__)

BATCH = 50_000
# Rejected lines kept for the report; the count says how many there were in all.
REJECTED_KEPT = 1000
STAGING = "annuaire_staging"
CHANGED = "annuaire_staging_changed"
ENTRIES = Entry.__tablename__
NEW = f"{ENTRIES}_new"
FTS = FULL_TEXT_OBJECTS
# PostgreSQL's full-text document, as migration 0005a adds it: the words of both texts (folded and spaced
# already, so that each is a lexeme as it is), worked out once per write.
PG_DOCUMENT = (
    f"{FULL_TEXT_COLUMN} tsvector GENERATED ALWAYS AS "
    "(array_to_tsvector(array_remove(string_to_array(own_text || ' ' || rpps_text, ' '), ''))) STORED"
)
# More lines than any file has: a line number plus this sorts after every line number.
_LINES = 1_000_000_000
# Beyond this share of the entries changed by an RPPS import, their table is built anew rather than patched.
REBUILD_SHARE = 0.25


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


@contextmanager
def bulk_settings(connection: Connection) -> Iterator[None]:
    """SQLite settings for a long import on its own connection (outside any transaction), put back after.

    The staging table in memory, a large page cache for the merge, no fsync at each commit (WAL
    keeps the database consistent; only the last commits could be lost on a power cut), and a
    second thread for the large sorts (the ranking order, the indexes).
    """
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        yield
        return
    raw = connection.connection.driver_connection
    settings = {"temp_store": "2", "cache_size": "-262144", "synchronous": "1", "threads": "2"}
    before = {name: raw.execute(f"PRAGMA {name}").fetchone()[0] for name in settings}
    for name, value in settings.items():
        raw.execute(f"PRAGMA {name}={value}")
    try:
        yield
    finally:
        for name, value in before.items():
            try:
                raw.execute(f"PRAGMA {name}={value}")
            except sqlite3.OperationalError:  # pragma: no cover - still in a transaction: the pool drops it below
                connection.invalidate()
                break


_C_TEXT = 'TEXT COLLATE "C"'


def stage(db: Session, fields: tuple[str, ...], records: Iterator, progress: Callable[[int], None]) -> Report:
    """Write the readable records to a fresh staging table; a repeated MSSanté address is merged into its first line."""
    connection = db.connection()
    connection.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
    # The ranking keys sort byte by byte on PostgreSQL too (see models.sort_key); the other columns keep
    # the default collation, that of the tables' indexes they are compared with.
    postgres = connection.dialect.name == "postgresql"
    byte_order = {"name_key", "first_key"} if postgres else set()
    columns = ", ".join(f"{name} {_C_TEXT if name in byte_order else 'TEXT'} NOT NULL" for name in fields)
    # On SQLite the line is the rowid: rows come in line order, and are read back in that order without a sort.
    line = "INTEGER NOT NULL" if postgres else "INTEGER PRIMARY KEY"
    connection.execute(text(f"CREATE TEMPORARY TABLE {STAGING} (line {line}, {columns})"))
    report, seen = Report(), set()
    keyed = fields[0] == "address"
    while batch := list(islice(records, BATCH)):
        kept = []
        for record in batch:
            if type(record) is Rejected:
                report.reject(record)
            elif keyed:
                if record[1] in seen:
                    report.merged += 1
                else:
                    seen.add(record[1])
                    kept.append(record)
            else:
                kept.append(record)
        report.rows += len(batch)
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


def _runner(connection: Connection) -> Callable:
    """connection.execute, logging how long each statement takes (at DEBUG level, for the bench)."""
    if not log.isEnabledFor(logging.DEBUG):
        return connection.execute

    def run(statement, *args, **kwargs):
        started = time.perf_counter()
        result = connection.execute(statement, *args, **kwargs)
        log.debug("%6.2f s  %s", time.perf_counter() - started, " ".join(str(statement).split())[:110])
        return result

    return run


@contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    log.debug("%6.2f s  %s", time.perf_counter() - started, label)


def merge_entries(db: Session, report: Report) -> None:
    """Make the entries what the staged extraction says, counting what it creates, updates and removes.

    An unchanged file writes nothing; any change builds the table anew (see the module's docstring).
    """
    connection = db.connection()
    run = _runner(connection)
    count = lambda sql: run(text(sql)).scalar_one()  # noqa: E731
    if not count(f"SELECT count(*) FROM (SELECT 1 FROM {ENTRIES} LIMIT 1) e"):  # a first load
        report.created = count(f"SELECT count(*) FROM {STAGING}")
    else:
        run(text(f"CREATE INDEX {STAGING}_address ON {STAGING} (address)"))
        report.created = count(
            f"SELECT count(*) FROM {STAGING} s WHERE NOT EXISTS (SELECT 1 FROM {ENTRIES} e WHERE e.address = s.address)"
        )
        report.removed = count(
            f"SELECT count(*) FROM {ENTRIES} e WHERE NOT EXISTS (SELECT 1 FROM {STAGING} s WHERE s.address = e.address)"
        )
        differs = " OR ".join(f"s.{name} <> e.{name}" for name in ENTRY_FIELDS[1:])
        report.updated = count(
            f"SELECT count(*) FROM {STAGING} s JOIN {ENTRIES} e ON e.address = s.address WHERE {differs}"
        )
    if report.created or report.updated or report.removed:
        # SQLite numbers a NULL rowid in insertion order, which is the ranking order; PostgreSQL says it.
        order = "s.name_key, s.first_key, s.line"
        postgres = connection.dialect.name == "postgresql"
        _rebuild(connection, STAGING, f"row_number() OVER (ORDER BY {order})" if postgres else "NULL", order)
    run(text(f"DROP TABLE {STAGING}"))


def _rebuild(connection: Connection, source: str, rank: str, order: str) -> None:
    """Make the entries those of `source` (the staging table, or the entries themselves) with their RPPS words.

    `rank` numbers them, in `order`: SQL over the source's rows, named s.
    """
    _build(connection, source, rank, order)
    _swap(connection)
    if connection.dialect.name == "sqlite":
        _rebuild_full_text(connection)


def _build(connection: Connection, source: str, rank: str, order: str) -> None:
    """A new table without indexes, filled in ranking order (see _rebuild)."""
    run = _runner(connection)
    new = Entry.__table__.to_metadata(MetaData(), name=NEW)
    new.indexes.clear()  # built once the table is full (see _swap)
    postgres = connection.dialect.name == "postgresql"
    if postgres:  # a constraint's name is taken in the whole schema there, until the swap renames it
        new.primary_key.name = conv(f"pk_{NEW}")
    new.create(connection)
    if postgres:
        run(text(f"ALTER TABLE {NEW} ADD COLUMN {PG_DOCUMENT}"))
    names = ", ".join(ENTRY_FIELDS)
    values = ", ".join(f"s.{name}" for name in ENTRY_FIELDS)
    run(
        text(
            f"INSERT INTO {NEW} (rank, {names}, rpps_text) SELECT {rank}, {values}, coalesce(p.words, '') "
            f"FROM {source} s LEFT JOIN annuaire_professionals p ON p.national_id = s.national_id ORDER BY {order}"
        )
    )


def _swap(connection: Connection) -> None:
    """Put the new table in the old one's place, with the model's indexes (and PostgreSQL's full-text one)."""
    run = _runner(connection)
    indexes = sorted(Entry.__table__.indexes, key=lambda index: index.name)
    if connection.dialect.name == "sqlite":
        # Readers keep their snapshot of the old table (WAL) until the commit, whatever the order.
        run(text(f"DROP TABLE {ENTRIES}"))
        run(text(f"ALTER TABLE {NEW} RENAME TO {ENTRIES}"))
        for index in indexes:
            index.create(connection)
        return
    # Dropping the old table locks out its readers until the commit: the indexes are built before,
    # under passing names, so that searches wait only for the renames.
    run(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for index in indexes:
        columns = ", ".join(column.name for column in index.columns)
        unique = "UNIQUE " if index.unique else ""
        run(text(f"CREATE {unique}INDEX {index.name}_new ON {NEW} ({columns})"))
    run(text(f"CREATE INDEX {FTS}_new ON {NEW} USING gin ({FULL_TEXT_COLUMN})"))
    _analyze(connection, NEW)  # statistics stay with the table through its renaming
    run(text(f"DROP TABLE {ENTRIES}"))
    run(text(f"ALTER TABLE {NEW} RENAME TO {ENTRIES}"))
    run(text(f"ALTER TABLE {ENTRIES} RENAME CONSTRAINT pk_{NEW} TO pk_{ENTRIES}"))
    for name in [index.name for index in indexes] + [FTS]:
        run(text(f"ALTER INDEX {name}_new RENAME TO {name}"))


def _rebuild_full_text(connection: Connection) -> None:
    """Index every entry anew, in rank order (FTS5 flushes a segment whenever a rowid comes out of order)."""
    run = _runner(connection)
    run(text(f"INSERT INTO {FTS} ({FTS}) VALUES ('delete-all')"))
    # Flushed to disk every 64 MB rather than every 1 MB: fewer segments to merge.
    run(text(f"INSERT INTO {FTS} ({FTS}, rank) VALUES ('hashsize', {64 << 20})"))
    run(
        text(
            f"INSERT INTO {FTS} (rowid, own_text, rpps_text) "
            f"SELECT rank, own_text, rpps_text FROM {ENTRIES} ORDER BY rank"
        )
    )


def _unindex(connection: Connection, ranks: str) -> None:
    """Take some entries out of the full-text index, with the words it holds for them."""
    _runner(connection)(
        text(
            f"INSERT INTO {FTS} ({FTS}, rowid, own_text, rpps_text) SELECT 'delete', rank, own_text, rpps_text "
            f"FROM {ENTRIES} WHERE rank IN ({ranks}) ORDER BY rank"
        )
    )


def _index(connection: Connection, ranks: str) -> None:
    _runner(connection)(
        text(
            f"INSERT INTO {FTS} (rowid, own_text, rpps_text) SELECT rank, own_text, rpps_text "
            f"FROM {ENTRIES} WHERE rank IN ({ranks}) ORDER BY rank"
        )
    )


def settle(connection: Connection) -> None:
    """After the commit of an import that rebuilt or rewrote entries, on a connection of its own.

    PostgreSQL's VACUUM cannot run in a transaction: it marks the new rows visible to all (index-only
    scans) and sets their hint bits, which the first searches would otherwise do, page by page.
    """
    if connection.dialect.name == "postgresql" and not connection.in_transaction():
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text(f"VACUUM {ENTRIES}"))


def _analyze(connection: Connection, table: str = ENTRIES) -> None:
    # Fresh statistics, so that PostgreSQL's planner walks the ranks or reads the full-text index as it should.
    if connection.dialect.name == "postgresql":
        _runner(connection)(text(f"ANALYZE {table}"))


def merge_activities(db: Session, report: Report) -> None:
    """Replace the RPPS activities and their per-professional summary; refresh the entries' RPPS words."""
    connection = db.connection()
    run = _runner(connection)
    postgres = connection.dialect.name == "postgresql"
    run(text(f"CREATE INDEX {STAGING}_national_id ON {STAGING} (national_id, line)"))
    # The distinct summaries of a professional's activities (folded words: never a comma).
    if postgres:
        words = "string_agg(DISTINCT words, ' ' ORDER BY words)"
    else:
        words = "replace(group_concat(DISTINCT words), ',', ' ')"
    # The summary shows the first activity that names a specialty, else the first one: one pass in
    # national id order finds its line and the words, a lookup of that line its labels.
    first = f"min(CASE WHEN specialty = '' THEN {_LINES} ELSE 0 END + line)"
    run(text("DROP TABLE IF EXISTS annuaire_staging_professionals"))
    run(
        text(
            "CREATE TEMPORARY TABLE annuaire_staging_professionals AS "
            "SELECT s.national_id, s.profession_code, s.profession, s.specialty, w.words "
            f"FROM (SELECT national_id, {first} AS first, {words} AS words FROM {STAGING} GROUP BY national_id) w "
            f"JOIN {STAGING} s ON s.national_id = w.national_id AND s.line = w.first % {_LINES}"
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
    run(text(f"DROP TABLE {STAGING}"))
    run(text("DROP TABLE annuaire_staging_professionals"))
    _refresh_rpps_words(connection)


def _refresh_rpps_words(connection: Connection) -> None:
    """Give the entries the RPPS words of their national id: a few rewritten, or many in a table built anew."""
    run = _runner(connection)
    fresh = f"coalesce((SELECT p.words FROM annuaire_professionals p WHERE p.national_id = {ENTRIES}.national_id), '')"
    run(text(f"DROP TABLE IF EXISTS {CHANGED}"))
    run(
        text(
            f"CREATE TEMPORARY TABLE {CHANGED} AS SELECT rank FROM {ENTRIES} "
            f"WHERE national_id <> '' AND rpps_text <> {fresh}"
        )
    )
    changed = run(text(f"SELECT count(*) FROM {CHANGED}")).scalar_one()
    if not changed:
        pass
    elif changed >= REBUILD_SHARE * run(text(f"SELECT count(*) FROM {ENTRIES}")).scalar_one():
        _rebuild(connection, ENTRIES, "s.rank", "s.rank")
    else:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _unindex(connection, f"SELECT rank FROM {CHANGED}")
        run(text(f"UPDATE {ENTRIES} SET rpps_text = {fresh} WHERE rank IN (SELECT rank FROM {CHANGED})"))
        if sqlite:
            _index(connection, f"SELECT rank FROM {CHANGED}")
        _analyze(connection)
    run(text(f"DROP TABLE {CHANGED}"))


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
