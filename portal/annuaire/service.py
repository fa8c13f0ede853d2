"""The annuaire's use-cases: import the ANS files, search the entries, tell trusted addresses apart."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Session, joinedload, selectinload

from portal import database, ins
from portal.access import require_role
from portal.annuaire import importer, sync
from portal.annuaire.models import Activity, Domain, Entry, Import, Professional
from portal.annuaire.text import FUZZY_MIN_LENGTH, fold, one_typo_away, words
from portal.audit.service import CLI_ACTOR, FAILURE, SUCCESS, record
from portal.database import utcnow
from portal.migrate import FULL_TEXT_COLUMN
from portal.models import Role, User

log = logging.getLogger(__name__)

PATIENT_DOMAIN = "patient.mssante.fr"
TRUST_SPACE_SUFFIX = ".mssante.fr"
# A query's words beyond these add nothing but cost; results beyond this offset are not paged to.
MAX_WORDS = 6
MAX_OFFSET = 1000
FIELDS = {importer.MSSANTE: importer.ENTRY_FIELDS, importer.RPPS: importer.ACTIVITY_FIELDS}
MERGES = {importer.MSSANTE: sync.merge_entries, importer.RPPS: sync.merge_activities}


# Import


@contextmanager
def _pinned(db: Session) -> Iterator[Session]:
    """A session that keeps one connection across its commits: the staging table lives in that connection."""
    bind = db.get_bind()
    if isinstance(bind, Connection):  # already one connection (the tests' rolled-back one)
        yield db
        return
    with bind.connect() as connection, sync.bulk_settings(connection):
        with Session(bind=connection, expire_on_commit=False) as pinned:
            yield pinned


def import_file(
    db: Session, actor: User | None, location: str, progress: Callable[[Import], None] | None = None
) -> Import:
    """Import an MSSanté extraction or an RPPS file; `actor` None is the operator at the command line."""
    with _pinned(db) as pinned:
        job = _import_file(pinned, actor, location, progress)
        if job.status == "done" and (job.created or job.updated or job.removed):
            sync.settle(pinned.get_bind())
        return job


def _import_file(db: Session, actor: User | None, location: str, progress: Callable[[Import], None] | None) -> Import:
    job = _start(db, actor, location)

    def step(rows: int) -> None:
        # Committed as it goes, so that the administration page can follow; staging is private.
        job.rows_read, job.bytes_read = rows, source.bytes_read
        db.commit()
        if progress:
            progress(job)

    def work() -> sync.Report:
        nonlocal source
        with importer.open_source(location) as source:
            job.size = source.size
            job.kind, records = importer.rows(source)
            with sync.timed("read and staged"):
                report = sync.stage(db, FIELDS[job.kind], records, step)
            with sync.timed("merged"):
                MERGES[job.kind](db, report)
            job.bytes_read = source.bytes_read
            return report

    source = None
    return _finish(db, actor, job, work)


def import_domains(db: Session, actor: User | None, location: str) -> Import:
    """Import the trust-space domain list (listeblanchemssante.xml)."""
    job = _start(db, actor, location, kind="domains")

    def work() -> sync.Report:
        with importer.open_source(location) as source:
            job.size = source.size
            report = sync.Report()
            sync.merge_domains(db, importer.parse_domains(source.reader), report)
            job.bytes_read = source.bytes_read
            return report

    return _finish(db, actor, job, work)


def _start(db: Session, actor: User | None, location: str, kind: str = "") -> Import:
    if actor is not None:
        require_role(actor, Role.ADMINISTRATOR, "annuaire.import")
    job = Import(kind=kind, source=location[-300:], actor_id=actor.id if actor else None)
    db.add(job)
    db.commit()
    return job


def _finish(db: Session, actor: User | None, job: Import, work: Callable[[], sync.Report]) -> Import:
    """Run the work; its last statements and the report commit together, or not at all."""
    try:
        report = work()
    except Exception as error:  # noqa: BLE001 - any failure must leave the old data and say why
        log.exception("annuaire import %s failed", job.id)
        db.rollback()
        job.status, job.error, job.finished_at = "failed", str(error)[:2000] or type(error).__name__, utcnow()
        _audit(db, actor, job, FAILURE)
        db.commit()
        return job
    job.rows_read, job.created, job.updated, job.removed = report.rows, report.created, report.updated, report.removed
    job.merged, job.rejected_count, job.rejected = report.merged, report.rejected_count, report.rejected
    job.status, job.finished_at = "done", utcnow()
    _audit(db, actor, job, SUCCESS)
    db.commit()
    return job


def _audit(db: Session, actor: User | None, job: Import, outcome: str) -> None:
    detail = {"kind": job.kind, "rows": job.rows_read, "created": job.created, "updated": job.updated,
              "removed": job.removed, "rejected": job.rejected_count}  # fmt: skip
    if job.error:
        detail["error"] = job.error[:200]
    actor = db.get(User, actor.id) if actor else None  # the import may run in a session of its own
    record(db, "annuaire.import", outcome=outcome, target=job.source, actor=actor,
           actor_label=None if actor else CLI_ACTOR, detail=detail)  # fmt: skip


def imports(db: Session, actor: User, limit: int = 10) -> list[Import]:
    """The latest imports, newest first, for the administration page."""
    require_role(actor, Role.ADMINISTRATOR, "annuaire.imports")
    return list(db.scalars(select(Import).order_by(Import.started_at.desc(), Import.id.desc()).limit(limit)))


# Search


@dataclass(frozen=True)
class Filters:
    bal_type: str = ""
    profession: str = ""
    department: str = ""


# The webmail's own mailboxes, searched beside the national entries: a feature registers a source,
# called inside the app context, that returns them as unsaved entries (no rank: Entry.is_local).
LocalSource = Callable[[], Iterable[Entry]]


def register_local_source(app, source: LocalSource) -> None:
    """mail.init_app registers the establishments' mailboxes here."""
    app.extensions.setdefault("annuaire_local_sources", []).append(source)


def search(query: str, *, limit: int = 20, offset: int = 0, bal_type: str = "", profession: str = "",
           department: str = "") -> list[Entry]:  # fmt: skip
    """The establishments' own mailboxes that match, then the national entries ranked (see find)."""
    filters = Filters(bal_type.upper(), profession, department.upper())
    tokens = words(query)[:MAX_WORDS]
    local = _local_matches(tokens, filters)
    national = find(database.session(), query, filters, limit=limit - len(local[offset : offset + limit]),
                    offset=max(0, offset - len(local)))  # fmt: skip
    shown = {entry.address for entry in local}
    return local[offset : offset + limit] + [entry for entry in national if entry.address not in shown]


def _local_matches(tokens: list[str], filters: Filters) -> list[Entry]:
    """The local entries whose words start with every token (as for national ones), by name."""
    found = [
        entry
        for source in current_app.extensions.get("annuaire_local_sources", ())
        for entry in source()
        if (not filters.bal_type or entry.bal_type == filters.bal_type)
        and (not filters.department or entry.department == filters.department)
        and not filters.profession  # a mailbox of the webmail says no profession
        and all(any(word.startswith(token) for word in _local_words(entry)) for token in tokens)
    ]
    return sorted(found, key=lambda entry: (fold(entry.display_name), entry.address))


def _local_words(entry: Entry) -> tuple[str, ...]:
    local, _, domain = entry.address.partition("@")
    values = (entry.first_name, entry.last_name, entry.service, entry.structure_name, entry.postal_code, entry.city)
    return _words_of(local, domain.removesuffix(TRUST_SPACE_SUFFIX), *(value or "" for value in values))


@lru_cache(maxsize=4096)  # the same mailboxes at every search
def _words_of(*values: str) -> tuple[str, ...]:
    return tuple(words(*values))


def find(db: Session, query: str, filters: Filters = Filters(), *, limit: int = 20, offset: int = 0) -> list[Entry]:
    """National entries ranked: exact surname, surname prefix, surname within one typo, other words; then by name."""
    tokens = words(query)[:MAX_WORDS]
    wanted = min(offset, MAX_OFFSET) + limit
    ranks: list[int] = []
    for tier in _Tiers(db, tokens, filters):
        if len(ranks) >= wanted:
            break
        ranks += tier(wanted - len(ranks))
    page = ranks[min(offset, MAX_OFFSET) :][:limit]
    if not page:
        return []
    found = db.scalars(select(Entry).where(Entry.rank.in_(page)).options(joinedload(Entry.professional)))
    loaded = {entry.rank: entry for entry in found}
    return [loaded[rank] for rank in page]


# Core columns, not the ORM's attributes: the search builds many expressions, and these build faster.
_ENTRY, _PROFESSIONAL = Entry.__table__.c, Professional.__table__.c
_FTS = table(sync.FTS, column("rowid"))
_FTS_MATCH = literal_column(sync.FTS).op("MATCH")
_PG_DOCUMENT = literal_column(f"{Entry.__tablename__}.{FULL_TEXT_COLUMN}")
# The FTS5 table's prefix index (migration 0005a: prefix='3'), and the ranks (of about 5000 entries)
# a walk on that prefix goes through before it reads a token's own words.
_PREFIX_INDEXED = 3
_WINDOWS = (5_000, 45_000)

Run = tuple[int, int]  # the first and last rank of a run of names: ranks follow names


class _Tiers:
    """Disjoint sets of entries, best first: the words' entries whose surname is one of the words, starts with
    one, is one typo away from one, then the others. A word that picks the surname needs no full-text test.

    Each set is read in rank order and stops at the rows asked for: a surname (or a surname prefix) is a
    range of ranks, so the other words are matched inside that range only. Matching words is the only
    part the two databases do their own way (see _matching). Statements are few, each a round trip to
    PostgreSQL: the runs of all the words are found by one, their one-typo neighbours by another.
    """

    def __init__(self, db: Session, tokens: list[str], filters: Filters):
        self.db, self.tokens, self.filters = db, tokens, filters
        self.sqlite = db.get_bind().dialect.name == "sqlite"
        self.near: dict[str, list[tuple[str, Run]]] = {}

    def __iter__(self):
        if not self.tokens:
            yield lambda need: self._ranks(self._select().order_by(_ENTRY.rank).limit(need))
            return
        other_names = _ENTRY.name_key.not_in(self.tokens)
        # Each word as a surname, then as the beginning of other surnames.
        as_names = [_ENTRY.name_key == t for t in self.tokens]
        runs = _runs(self.db, as_names + [and_(_starts(t), other_names) for t in self.tokens])
        same, starting = runs[: len(self.tokens)], runs[len(self.tokens) :]
        yield lambda need: self._in_runs(zip(self.tokens, same, strict=True), need)
        yield lambda need: self._in_runs(zip(self.tokens, starting, strict=True), need, other_names)
        yield self._near_names
        yield self._other_words

    def _near_names(self, need: int) -> list[int]:
        # Looked up only when the first tiers leave rows to find: the other words' tier needs them then too.
        self.near = _one_typo_names(self.db, [t for t in self.tokens if len(t) >= FUZZY_MIN_LENGTH])
        return self._in_runs(((t, run) for t, names in self.near.items() for _, run in names), need)

    def _in_runs(self, runs: Iterable[tuple[str, Run | None]], need: int, *also) -> list[int]:
        """The first ranks of some runs, each found by one word, whose words start with the query's other words."""
        found = [self._in_run(run, [t for t in self.tokens if t != token], need, *also) for token, run in runs if run]
        # Each run holds its own first ones: together, the first of all.
        return sorted({rank for ranks in found for rank in ranks})[:need]

    def _in_run(self, run: Run, others: list[str], need: int, *also) -> list[int]:
        if not others:
            return self._ranks(self._select(_ENTRY.rank.between(*run), *also).order_by(_ENTRY.rank).limit(need))
        return self._matching(others, list(also), need, *run)

    def _other_words(self, need: int) -> list[int]:
        near_names = sorted({name for names in self.near.values() for name, _ in names})
        outside = [not_(or_(*(_starts(t) for t in self.tokens))), _ENTRY.name_key.not_in(near_names)]
        return self._matching(self.tokens, outside, need)

    def _select(self, *conditions):
        stmt = select(_ENTRY.rank).where(*conditions, *_filter_conditions(self.filters))
        if self.filters.profession:
            stmt = stmt.outerjoin(Professional.__table__, _PROFESSIONAL.national_id == _ENTRY.national_id)
        return stmt

    def _ranks(self, stmt) -> list[int]:
        return list(self.db.scalars(stmt))

    def _matching(self, tokens: list[str], conditions: list, need: int, first: int | None = None,
                  last: int | None = None) -> list[int]:  # fmt: skip
        """The first ranks, between first and last, of the entries whose words start with every token."""
        if self.sqlite:
            return self._full_text(tokens, conditions, need, first, last)
        query = func.to_tsquery("simple", " & ".join(f"{t}:*" for t in tokens))
        stmt = self._select(_PG_DOCUMENT.op("@@")(query), *conditions)
        if first is not None:
            stmt = stmt.where(_ENTRY.rank.between(first, last))
        return self._ranks(stmt.order_by(_ENTRY.rank).limit(need))

    def _full_text(self, tokens: list[str], conditions: list, need: int, first: int | None,
                   last: int | None) -> list[int]:  # fmt: skip
        """_matching on SQLite, with the FTS5 index, whose rowid is the rank.

        FTS5 walks a prefix of 3 letters lazily, from its prefix index, but reads every word of a longer
        prefix before it returns a row. So a longer token walks its first 3 letters and a GLOB on the entry's
        words checks the rest: the walk stops at the rows asked for. Should the first ranks (about 50,000
        entries, in two windows) not give them, the tokens are rarer than their first letters and the rest
        of the range reads their own words from the index. A token of 1 or 2 letters is only checked by GLOB.
        """
        document = literal_column(f"' ' || {Entry.__tablename__}.own_text || ' ' || {Entry.__tablename__}.rpps_text")
        checks = [document.op("GLOB")(f"* {t}*") for t in tokens if len(t) != _PREFIX_INDEXED]
        conditions = [*conditions, *checks]
        indexed = [t for t in tokens if len(t) >= _PREFIX_INDEXED]
        walked = " ".join(f'"{t[:_PREFIX_INDEXED]}"*' for t in indexed)
        if not walked:  # only short words: the entries themselves, in rank order
            inside = [] if first is None else [_ENTRY.rank.between(first, last)]
            return self._ranks(self._select(*conditions, *inside).order_by(_ENTRY.rank).limit(need))
        start = 0 if first is None else first
        if all(len(t) == _PREFIX_INDEXED for t in indexed):
            return self._fts_matches(walked, conditions, need, start, last)
        ranks: list[int] = []
        for window in _WINDOWS:  # ever wider, as long as they leave rows to find
            end = start + window - 1
            if last is not None and end >= last:
                return ranks + self._fts_matches(walked, conditions, need - len(ranks), start, last)
            ranks += self._fts_matches(walked, conditions, need - len(ranks), start, end)
            if len(ranks) >= need:
                return ranks
            start = end + 1
        exact = " ".join(f'"{t}"*' for t in indexed)
        return ranks + self._fts_matches(exact, conditions, need - len(ranks), start, last)

    def _fts_matches(self, expression: str, conditions: list, need: int, first: int, last: int | None) -> list[int]:
        stmt = self._select(_FTS_MATCH(expression), _FTS.c.rowid >= first, *conditions)
        stmt = stmt.join(_FTS, _FTS.c.rowid == _ENTRY.rank)
        if last is not None:
            stmt = stmt.where(_FTS.c.rowid <= last)
        return self._ranks(stmt.order_by(_FTS.c.rowid).limit(need))


def _starts(token: str) -> ColumnElement[bool]:
    # Folded keys hold only [a-z0-9 ], all below "~": a byte range is a prefix test both engines index.
    return and_(_ENTRY.name_key >= token, _ENTRY.name_key < token + "~")


def _runs(db: Session, conditions: list[ColumnElement[bool]]) -> list[Run | None]:
    """The run of names each condition picks (None if it picks none), in one statement."""
    bounds = []
    for condition in conditions:
        chosen = select(_ENTRY.rank).where(condition)
        bounds += [chosen.order_by(_ENTRY.name_key, _ENTRY.rank).limit(1).scalar_subquery(),
                   chosen.order_by(_ENTRY.name_key.desc(), _ENTRY.rank.desc()).limit(1).scalar_subquery()]  # fmt: skip
    row = db.execute(select(*bounds)).one()
    return [None if row[i] is None else (row[i], row[i + 1]) for i in range(0, len(row), 2)]


def _one_typo_names(db: Session, tokens: list[str]) -> dict[str, list[tuple[str, Run]]]:
    """The surnames one typo away from each token that it does not already start, with their runs."""
    sources: dict[str, list[str]] = {}
    for token in tokens:
        for string in one_typo_away(token):
            sources.setdefault(string, []).append(token)
    if not sources:
        return {}
    # Some hundreds of strings a token, sent as one value (JSON, or text the server splits: cheaper for the
    # driver than an array) rather than as many parameters: each is looked up in the surname index, up to its
    # first person. Folded names hold no comma.
    strings = sorted(sources)
    if db.get_bind().dialect.name == "sqlite":
        candidate = func.json_each(json.dumps(strings)).table_valued("value").c.value
    else:
        split = func.string_to_array(bindparam("candidates", ",".join(strings), type_=String), ",")
        candidate = func.unnest(split, type_=String).column_valued("candidate")
    same = select(_ENTRY.rank).where(_ENTRY.name_key == candidate)
    person = exists().where(_ENTRY.name_key == candidate, _ENTRY.bal_type == "PER")
    found: dict[str, list[tuple[str, Run]]] = {}
    rows = db.execute(
        select(candidate, same.order_by(_ENTRY.rank).limit(1).scalar_subquery(),
               same.order_by(_ENTRY.rank.desc()).limit(1).scalar_subquery()).where(person)
    )  # fmt: skip
    for name, first, last in rows:
        for token in sources[name]:
            if len(name) >= FUZZY_MIN_LENGTH and not name.startswith(token):
                found.setdefault(token, []).append((name, (first, last)))
    return found


def _filter_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.bal_type:
        conditions.append(_ENTRY.bal_type == filters.bal_type)
    if filters.department:
        conditions.append(_ENTRY.department == filters.department)
    if filters.profession:
        # The extraction's profession, else the RPPS one.
        conditions.append(
            or_(_ENTRY.profession_code == filters.profession,
                and_(_ENTRY.profession_code == "", _PROFESSIONAL.profession_code == filters.profession))
        )  # fmt: skip
    return conditions


# Entries


def has_entries(db: Session) -> bool:
    """Whether a national file was imported: the local mailboxes alone are no annuaire."""
    return db.scalar(select(exists().select_from(Entry))) or False


def entry(db: Session, address: str) -> Entry | None:
    return db.scalars(select(Entry).where(Entry.address == address).options(selectinload(Entry.professional))).first()


def addresses(db: Session, entry: Entry) -> list[Entry]:
    """Every MSSanté address of the same professional (or this one alone, for a mailbox without one)."""
    if not entry.national_id:
        return [entry]
    same = select(Entry).where(Entry.national_id == entry.national_id)
    return list(db.scalars(same.order_by(Entry.bal_type, Entry.address)))


def activities(db: Session, entry: Entry) -> list[Activity]:
    if not entry.national_id:
        return []
    return list(db.scalars(select(Activity).where(Activity.national_id == entry.national_id).order_by(Activity.id)))


# Trust space


def is_trusted(address: str) -> bool:
    """In the MSSanté trust space: an imported domain (or *.mssante.fr before any list), a valid INS for patients."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not (at and local and domain) or "@" in local:
        return False
    if domain == PATIENT_DOMAIN and not is_valid_ins(local):
        return False
    db = database.session()
    if db.scalar(select(exists().select_from(Domain))):
        return db.get(Domain, domain) is not None
    return domain.endswith(TRUST_SPACE_SUFFIX)


def is_valid_ins(matricule: str) -> bool:
    """A well-formed matricule INS (NIR or NIA) with its control key (portal.ins)."""
    try:
        ins.validate(matricule)
    except ins.InvalidMatricule:
        return False
    return True
