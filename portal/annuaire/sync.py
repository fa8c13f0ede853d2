"""Loading read rows into the annuaire: a private staging table, then one transaction that swaps old for new.

Staging lives in a temporary table of the importing connection, so readers never see it.
The caller commits between batches (progress) and once after `merge_*`: until that last
commit, every other connection reads the previous data, and a failure rolls it all back.

Everything is set-based SQL over the staging table: the diff by address and content hash,
the ranking positions, the one-typo variants and, on SQLite, the full-text index, which
this module alone keeps in step with the entries (in bulk, or row by row for a few changes).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from portal.annuaire.importer import ACTIVITY_FIELDS, ENTRY_FIELDS, Domain, Rejected
from portal.annuaire.models import Domain as DomainRow
from portal.annuaire.text import FUZZY_MIN_LENGTH, deletions

log = logging.getLogger(__name__)

BATCH = 50_000
# Rejected lines kept for the report; the count says how many there were in all.
REJECTED_KEPT = 1000
STAGING = "annuaire_staging"
CHANGED = "annuaire_staging_changed"
NAMES = "annuaire_staging_names"
FTS = "annuaire_entries_fts"
# Room left between the ranks of two neighbours, so that a re-import slots new names in.
RANK_GAP = 1 << 20
# Beyond this share of the entries changed, the full-text index is rebuilt rather than patched.
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

    The staging table in memory, a large page cache for the merge, and no fsync at each commit
    (WAL keeps the database consistent; only the last commits could be lost on a power cut).
    """
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        yield
        return
    raw = connection.connection.driver_connection
    settings = {"temp_store": "2", "cache_size": "-262144", "synchronous": "1"}
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
    byte_order = {"name_key", "first_key"} if connection.dialect.name == "postgresql" else set()
    columns = ", ".join(f"{name} {_C_TEXT if name in byte_order else 'TEXT'} NOT NULL" for name in fields)
    connection.execute(text(f"CREATE TEMPORARY TABLE {STAGING} (line INTEGER NOT NULL, {columns})"))
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


def _rpps_words(entry: str) -> str:
    return f"coalesce((SELECT p.words FROM annuaire_professionals p WHERE p.national_id = {entry}.national_id), '')"


def merge_entries(db: Session, report: Report) -> None:
    """Make the entries what the staged extraction says, counting what changed.

    An address keeps its entry (and id); only the rows whose fingerprint changed are written,
    so that an unchanged file writes nothing.
    """
    connection = db.connection()
    run = _runner(connection)
    sqlite = connection.dialect.name == "sqlite"
    run(text(f"CREATE INDEX {STAGING}_address ON {STAGING} (address)"))
    names = ", ".join(ENTRY_FIELDS)
    staged = ", ".join(f"s.{name}" for name in ENTRY_FIELDS)
    before = run(text("SELECT count(*) FROM annuaire_entries")).scalar_one()
    if not before:
        # A first load: the rows go in ranked, then the indexes are built in one go.
        # In ranking order, so that every index but the address's fills in order, and the
        # full-text index reads the table from start to end.
        run(text(f"CREATE INDEX {STAGING}_rank ON {STAGING} (name_key, first_key, line)"))
        report.created = run(
            text(
                f"INSERT INTO annuaire_entries ({names}, rpps_text, name_rank) SELECT {staged}, {_rpps_words('s')}, "
                f"row_number() OVER (ORDER BY s.name_key, s.first_key, s.line) * {RANK_GAP} FROM {STAGING} s "
                "ORDER BY s.name_key, s.first_key, s.line"
            )
        ).rowcount
        run(text(f"DROP TABLE {STAGING}"))
        if sqlite:
            _rebuild_full_text(connection)
        _sync_name_variants(connection, everything=True)
        _analyze(connection)
        return

    # The entries that go or change, as they are now.
    run(text(f"DROP TABLE IF EXISTS {CHANGED}"))
    run(
        text(
            f"CREATE TEMPORARY TABLE {CHANGED} AS SELECT e.id, e.name_key, "
            "CASE WHEN s.address IS NULL THEN 1 ELSE 0 END AS gone "
            f"FROM annuaire_entries e LEFT JOIN {STAGING} s ON s.address = e.address "
            "WHERE s.address IS NULL OR s.row_hash <> e.row_hash"
        )
    )
    report.removed, report.updated = run(
        text(f"SELECT coalesce(sum(gone), 0), count(*) - coalesce(sum(gone), 0) FROM {CHANGED}")
    ).one()
    report.created = run(
        text(
            f"SELECT count(*) FROM {STAGING} s "
            "WHERE NOT EXISTS (SELECT 1 FROM annuaire_entries e WHERE e.address = s.address)"
        )
    ).scalar_one()
    if not (report.removed or report.updated or report.created):
        run(text(f"DROP TABLE {STAGING}"))
        run(text(f"DROP TABLE {CHANGED}"))
        return
    patch = sqlite and (report.removed + report.updated + report.created) < REBUILD_SHARE * before
    if patch:
        _unindex(connection, f"SELECT id FROM {CHANGED}")
    run(text(f"DELETE FROM annuaire_entries WHERE id IN (SELECT id FROM {CHANGED} WHERE gone = 1)"))
    assignments = ", ".join(f"{name} = s.{name}" for name in ENTRY_FIELDS[1:])
    run(
        text(
            # A new name loses its rank, to get one among its new neighbours below.
            f"UPDATE annuaire_entries SET {assignments}, rpps_text = {_rpps_words('s')}, name_rank = CASE WHEN "
            "annuaire_entries.name_key = s.name_key AND annuaire_entries.first_key = s.first_key "
            f"THEN annuaire_entries.name_rank END FROM {STAGING} s WHERE s.address = annuaire_entries.address "
            f"AND annuaire_entries.id IN (SELECT id FROM {CHANGED} WHERE gone = 0)"
        )
    )
    last_id = run(text("SELECT coalesce(max(id), 0) FROM annuaire_entries")).scalar_one()
    run(
        text(
            f"INSERT INTO annuaire_entries ({names}, rpps_text) SELECT {staged}, {_rpps_words('s')} FROM {STAGING} s "
            "WHERE NOT EXISTS (SELECT 1 FROM annuaire_entries e WHERE e.address = s.address) ORDER BY s.line"
        )
    )
    run(text(f"DROP TABLE {STAGING}"))
    written = (
        f"SELECT id FROM {CHANGED} WHERE gone = 0 UNION ALL SELECT id FROM annuaire_entries WHERE id > {int(last_id)}"
    )
    reranked = _rank(connection)
    if sqlite:
        if patch and not reranked:
            _index(connection, written)
        else:
            _rebuild_full_text(connection)
    # The surnames that came, went or changed: their one-typo variants follow.
    run(text(f"DROP TABLE IF EXISTS {NAMES}"))
    run(
        text(
            f"CREATE TEMPORARY TABLE {NAMES} AS SELECT name_key FROM {CHANGED} UNION "
            f"SELECT name_key FROM annuaire_entries WHERE id IN ({written})"
        )
    )
    run(text(f"DROP TABLE {CHANGED}"))
    _sync_name_variants(connection, everything=False)
    run(text(f"DROP TABLE {NAMES}"))
    _analyze(connection)


def _rank(connection: Connection) -> bool:
    """Give the entries without a rank one between their neighbours'; True when all had to be renumbered."""
    run = _runner(connection)
    unranked = run(text("SELECT count(*) FROM annuaire_entries WHERE name_rank IS NULL")).scalar_one()
    if not unranked:
        return False
    if unranked * 10 <= run(text("SELECT count(*) FROM annuaire_entries")).scalar_one():
        ordered = run(text("SELECT id, name_rank FROM annuaire_entries ORDER BY name_key, first_key, id"))
        ranks = _slot(ordered)
        if ranks is not None:
            cursor = connection.connection.cursor()
            cursor.executemany(_params(connection, "UPDATE annuaire_entries SET name_rank = ? WHERE id = ?"), ranks)
            cursor.close()
            return False
    run(
        text(
            f"UPDATE annuaire_entries SET name_rank = r.n * {RANK_GAP} FROM (SELECT id, row_number() OVER "
            "(ORDER BY name_key, first_key, id) AS n FROM annuaire_entries) r "
            f"WHERE r.id = annuaire_entries.id AND annuaire_entries.name_rank IS DISTINCT FROM r.n * {RANK_GAP}"
        )
    )
    return True


def _slot(ordered: Iterable[tuple[int, int | None]]) -> list[tuple[int, int]] | None:
    """(rank, id) for the unranked entries, spread evenly in the gaps between their ranked neighbours'.

    `ordered` is every (id, rank) in ranking order, where the ranks given grow. None when a gap has no room left.
    """
    ranks: list[tuple[int, int]] = []
    waiting: list[int] = []
    low = 0
    for entry_id, rank in ordered:
        if rank is None:
            waiting.append(entry_id)
            continue
        if waiting:
            step = (rank - low) // (len(waiting) + 1)
            if step < 1:
                return None
            ranks += [(low + step * k, waiting_id) for k, waiting_id in enumerate(waiting, 1)]
            waiting = []
        low = rank
    ranks += [(low + RANK_GAP * k, waiting_id) for k, waiting_id in enumerate(waiting, 1)]  # after the last one
    return ranks


def _params(connection: Connection, sql: str) -> str:
    return sql.replace("?", "%s") if connection.dialect.name == "postgresql" else sql


def _rebuild_full_text(connection: Connection) -> None:
    """Index every entry anew, in rank order (FTS5 writes one segment per ascending run of rowids)."""
    _runner(connection)(text(f"INSERT INTO {FTS} ({FTS}) VALUES ('delete-all')"))
    # Flushed to disk every 64 MB rather than every 1 MB: fewer segments to merge.
    _runner(connection)(text(f"INSERT INTO {FTS} ({FTS}, rank) VALUES ('hashsize', {64 << 20})"))
    _runner(connection)(
        text(
            f"INSERT INTO {FTS} (rowid, own_text, rpps_text) SELECT name_rank, own_text, rpps_text "
            "FROM annuaire_entries ORDER BY name_rank"
        )
    )


def _unindex(connection: Connection, ids: str) -> None:
    """Take some entries out of the full-text index, with the words it holds for them."""
    _runner(connection)(
        text(
            f"INSERT INTO {FTS} ({FTS}, rowid, own_text, rpps_text) SELECT 'delete', name_rank, own_text, rpps_text "
            f"FROM annuaire_entries WHERE id IN ({ids}) AND name_rank IS NOT NULL ORDER BY name_rank"
        )
    )


def _index(connection: Connection, ids: str) -> None:
    _runner(connection)(
        text(
            f"INSERT INTO {FTS} (rowid, own_text, rpps_text) SELECT name_rank, own_text, rpps_text "
            f"FROM annuaire_entries WHERE id IN ({ids}) ORDER BY name_rank"
        )
    )


def _analyze(connection: Connection) -> None:
    # Fresh statistics, so that the planner picks the ranking index or the full-text one as it should.
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE annuaire_entries"))


def _sync_name_variants(connection: Connection, *, everything: bool) -> None:
    """Keep one-typo variants for exactly the surnames of the entries (those of the staged names, or all)."""
    run = _runner(connection)
    postgres = connection.dialect.name == "postgresql"
    if everything:
        run(text("DELETE FROM annuaire_name_variants"))
        wanted = (
            "SELECT DISTINCT name_key FROM annuaire_entries "
            f"WHERE bal_type = 'PER' AND length(name_key) >= {FUZZY_MIN_LENGTH}"
        )
    else:
        # Gone: names with no person left. Their variants are found by key, one deletion at a time.
        gone = run(
            text(
                f"SELECT n.name_key FROM {NAMES} n WHERE length(n.name_key) >= {FUZZY_MIN_LENGTH} AND NOT EXISTS "
                "(SELECT 1 FROM annuaire_entries e WHERE e.name_key = n.name_key AND e.bal_type = 'PER')"
            )
        ).scalars()
        pairs = [(variant, name) for name in gone for variant in deletions(name)]
        if pairs:
            cursor = connection.connection.cursor()
            cursor.executemany(
                _params(connection, "DELETE FROM annuaire_name_variants WHERE variant = ? AND name_key = ?"), pairs
            )
            cursor.close()
        # A known name has the variant of itself.
        wanted = (
            f"SELECT n.name_key FROM {NAMES} n WHERE length(n.name_key) >= {FUZZY_MIN_LENGTH} "
            "AND EXISTS (SELECT 1 FROM annuaire_entries e WHERE e.name_key = n.name_key AND e.bal_type = 'PER') "
            "AND NOT EXISTS (SELECT 1 FROM annuaire_name_variants v "
            "WHERE v.variant = n.name_key AND v.name_key = n.name_key)"
        )
    # The name itself and the name less one character, at each position.
    if postgres:
        run(
            text(
                f"INSERT INTO annuaire_name_variants (variant, name_key) SELECT DISTINCT "
                "substr(w.name_key, 1, p.i - 1) || substr(w.name_key, p.i + 1), w.name_key "
                f"FROM ({wanted}) w CROSS JOIN LATERAL generate_series(1, length(w.name_key)) AS p(i) "
                f"UNION SELECT w.name_key, w.name_key FROM ({wanted}) w"
            )
        )
        return
    run(
        text(
            "WITH RECURSIVE p(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM p WHERE i < 100), "
            f"w(name_key) AS ({wanted}) "
            "INSERT INTO annuaire_name_variants (variant, name_key) "
            "SELECT substr(w.name_key, 1, p.i - 1) || substr(w.name_key, p.i + 1), w.name_key "
            "FROM w JOIN p ON p.i <= length(w.name_key) UNION SELECT name_key, name_key FROM w"
        )
    )


def merge_activities(db: Session, report: Report) -> None:
    """Replace the RPPS activities and their per-professional summary; refresh the entries' RPPS words."""
    connection = db.connection()
    run = _runner(connection)
    postgres = connection.dialect.name == "postgresql"
    run(text(f"CREATE INDEX {STAGING}_national_id ON {STAGING} (national_id, line)"))
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
    run(text(f"DROP TABLE {STAGING}"))
    run(text("DROP TABLE annuaire_staging_professionals"))
    _refresh_rpps_words(connection)


def _refresh_rpps_words(connection: Connection) -> None:
    """Give the entries the RPPS words of their national id, writing only those that changed."""
    run = _runner(connection)
    fresh = _rpps_words("annuaire_entries")
    run(text(f"DROP TABLE IF EXISTS {CHANGED}"))
    run(
        text(
            f"CREATE TEMPORARY TABLE {CHANGED} AS SELECT id FROM annuaire_entries "
            f"WHERE national_id <> '' AND rpps_text <> {fresh}"
        )
    )
    changed = run(text(f"SELECT count(*) FROM {CHANGED}")).scalar_one()
    if changed:
        sqlite = connection.dialect.name == "sqlite"
        total = run(text("SELECT count(*) FROM annuaire_entries")).scalar_one()
        patch = sqlite and changed < REBUILD_SHARE * total
        if patch:
            _unindex(connection, f"SELECT id FROM {CHANGED}")
        run(text(f"UPDATE annuaire_entries SET rpps_text = {fresh} WHERE id IN (SELECT id FROM {CHANGED})"))
        if patch:
            _index(connection, f"SELECT id FROM {CHANGED}")
        elif sqlite:
            _rebuild_full_text(connection)
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
