"""Notice batches: select usagers, preview who gets which notice by which channel, launch, follow, print.

Launching records one outbox row per notice (notices.outbox does the work); nothing is rendered or
sent in the request. Only reception and administrators of the batch's establishment see a batch.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pypdf import PdfWriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, selectinload

from notices import issuing, service
from notices.models import Notice, NoticeBatch, OutboxItem, OutboxState, Usager
from notices.plan import Addressee
from portal.access import PermissionDenied
from portal.audit.service import SUCCESS, record
from portal.database import utcnow
from portal.models import User

# A batch gives each addressee one notice, by the first of these channels the plan offers;
# hand delivery cannot be batched: those addressees are listed for reception to see.
BATCH_CHANNELS = ("mssante", "email", "courrier")
MAX_IDS = 20_000
MAX_IDS_BYTES = 2 * 1024 * 1024
FINISHED = (OutboxState.SENT, OutboxState.PERMANENT)


class BadIdsFile(ValueError):
    """The file of ids cannot be used: `reason` is "encoding" (not UTF-8 text), "too_many" or "empty"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Selection:
    """Which usagers of the establishment: every criterion given must hold."""

    establishment_id: int
    not_informed: bool = False
    admitted_from: date | None = None
    admitted_to: date | None = None
    # DUI ids (a CSV's first column); empty: no restriction.
    local_ids: tuple[str, ...] = ()

    def as_json(self) -> str:
        """What the batch keeps of its selection, for its pages: the criteria, the number of ids given."""
        return json.dumps({
            "not_informed": self.not_informed,
            "admitted_from": self.admitted_from.isoformat() if self.admitted_from else None,
            "admitted_to": self.admitted_to.isoformat() if self.admitted_to else None,
            "ids": len(self.local_ids),
        })  # fmt: skip


@dataclass
class Plan:
    """What a launch would record: one (usager, choice) per notice, and what it leaves out."""

    items: list[tuple[Usager, issuing.Choice]] = field(default_factory=list)
    # Addressees the batch cannot reach (hand delivery only): (usager, addressee).
    unreachable: list[tuple[Usager, Addressee]] = field(default_factory=list)
    unknown_ids: list[str] = field(default_factory=list)
    usagers: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(choice.channel for _usager, choice in self.items)
        return {channel: counted[channel] for channel in BATCH_CHANNELS}


@dataclass(frozen=True)
class Progress:
    sent: int
    failed: int
    remaining: int
    # Notices waiting for a retry after a temporary failure (part of `remaining`).
    retrying: int
    per_minute: float | None
    estimated_end: datetime | None

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.remaining

    @property
    def finished(self) -> bool:
        return self.remaining == 0

    @property
    def percent(self) -> int:
        return round(100 * (self.sent + self.failed) / self.total) if self.total else 100


def read_ids(data: bytes) -> tuple[str, ...]:
    """The first column of a CSV (or one id a line), without a header that is not an id, nor duplicates."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadIdsFile("encoding") from error
    dialect = csv.Sniffer().sniff(content[:2048], delimiters=",;\t") if "," in content or ";" in content else None
    rows = csv.reader(io.StringIO(content), dialect) if dialect else ([line] for line in content.splitlines())
    ids = [row[0].strip() for row in rows if row and row[0].strip()]
    if ids and ids[0].lower() in ("id", "identifiant", "local_id", "identifiant dui", "dossier"):
        ids = ids[1:]
    if len(ids) > MAX_IDS or len(data) > MAX_IDS_BYTES:
        raise BadIdsFile("too_many")
    return tuple(dict.fromkeys(ids))


def plan_batch(db: Session, actor: User, selection: Selection) -> Plan:
    """Who would get which notice; nothing is recorded."""
    _require_registrar(actor, selection.establishment_id, "notices.plan_batch")
    stmt = (
        select(Usager)
        .options(selectinload(Usager.representatives))
        .where(Usager.establishment_id == selection.establishment_id)
        .order_by(Usager.id)
    )
    if selection.admitted_from:
        stmt = stmt.where(Usager.admission_date >= selection.admitted_from)
    if selection.admitted_to:
        stmt = stmt.where(Usager.admission_date <= selection.admitted_to)
    usagers = list(db.scalars(stmt))
    result = Plan()
    if selection.local_ids:
        wanted = set(selection.local_ids)
        found = {u.local_id for u in usagers}
        usagers = [u for u in usagers if u.local_id in wanted]
        result.unknown_ids = [i for i in selection.local_ids if i not in found]
    given = _notices_by_usager(db, usagers) if selection.not_informed else {}
    for usager in usagers:
        plan = service.plan_for(usager)
        statuses = issuing.information_status(usager, plan, given.get(usager.id, []))
        planned = False
        for status in statuses:
            if selection.not_informed and status.informed:
                continue
            planned = True
            channel = next((c for c in BATCH_CHANNELS if c in status.addressee.channels), None)
            if channel is None:
                result.unreachable.append((usager, status.addressee))
                continue
            representative_id = status.representative.id if status.representative else None
            result.items.append((usager, issuing.Choice(representative_id, channel)))
        result.usagers += planned
    return result


def launch(db: Session, actor: User, selection: Selection, *, base_url: str) -> NoticeBatch:
    """Record the batch and its outbox rows, committed; the worker prepares and sends them."""
    plan = plan_batch(db, actor, selection)
    batch = NoticeBatch(
        establishment_id=selection.establishment_id, created_by=actor, selection=selection.as_json(), base_url=base_url
    )
    db.add(batch)
    db.flush()
    db.add_all(
        OutboxItem(batch_id=batch.id, usager_id=usager.id, representative_id=choice.representative_id,
                   channel=choice.channel, next_attempt_at=batch.created_at)
        for usager, choice in plan.items
    )  # fmt: skip
    record(
        db, "notices.batch_launched", outcome=SUCCESS, actor=actor, target=_target(batch),
        detail={"notices": len(plan.items), "channels": plan.counts, "usagers": plan.usagers},
    )  # fmt: skip
    db.commit()
    return batch


def get_batch(db: Session, actor: User, batch_id: int) -> NoticeBatch | None:
    """The batch if the actor registers usagers in its establishment; None (a 404) otherwise."""
    batch = db.get(NoticeBatch, batch_id)
    if batch is None or not _is_registrar(actor, batch.establishment_id):
        return None
    return batch


def batches_of(db: Session, actor: User, limit: int = 50) -> list[NoticeBatch]:
    """The latest batches of the establishments where the actor registers usagers."""
    ids = [e.id for e in service.registration_establishments(actor)]
    stmt = select(NoticeBatch).where(NoticeBatch.establishment_id.in_(ids)).order_by(NoticeBatch.id.desc())
    return list(db.scalars(stmt.limit(limit)))


def progress(db: Session, batch: NoticeBatch) -> Progress:
    rows = db.execute(
        select(OutboxItem.state, func.count(), func.max(OutboxItem.finished_at))
        .where(OutboxItem.batch_id == batch.id)
        .group_by(OutboxItem.state)
    ).all()
    counts = {state: count for state, count, _last in rows}
    last = max((when for _state, _count, when in rows if when), default=None)
    sent, failed = counts.get(OutboxState.SENT, 0), counts.get(OutboxState.PERMANENT, 0)
    remaining = sum(counts.values()) - sent - failed
    per_minute = estimated_end = None
    if sent + failed and last:
        elapsed = ((last if not remaining else utcnow()) - batch.created_at).total_seconds()
        per_minute = (sent + failed) / max(elapsed, 1) * 60
        if remaining:
            estimated_end = utcnow() + timedelta(minutes=remaining / per_minute)
    return Progress(sent, failed, remaining, counts.get(OutboxState.FAILED, 0), per_minute, estimated_end)


def failures(db: Session, batch: NoticeBatch) -> list[OutboxItem]:
    """The rows given up, with the server's reason, and those waiting for a retry."""
    return list(
        db.scalars(
            select(OutboxItem)
            .options(selectinload(OutboxItem.usager), selectinload(OutboxItem.notice).defer(Notice.content))
            .where(OutboxItem.batch_id == batch.id, OutboxItem.state.in_((OutboxState.PERMANENT, OutboxState.FAILED)))
            .order_by(OutboxItem.id)
        )
    )


def letters_pdf(db: Session, actor: User, batch: NoticeBatch) -> bytes | None:
    """The batch's letters ready so far, as one PDF sorted by postal code for the print room; None if none."""
    _require_registrar(actor, batch.establishment_id, "notices.letters_pdf")
    letters = list(
        db.scalars(
            select(Notice)
            .join(OutboxItem, OutboxItem.notice_id == Notice.id)
            .options(selectinload(Notice.usager), selectinload(Notice.representative))
            .where(OutboxItem.batch_id == batch.id, OutboxItem.channel == "courrier")
            .where(OutboxItem.state == OutboxState.SENT)
        )
    )
    if not letters:
        return None
    letters.sort(key=lambda n: ((n.representative or n.usager).postal_code, n.addressee_name, n.id))
    writer = PdfWriter()
    for notice in letters:
        writer.append(io.BytesIO(notice.content))
    output = io.BytesIO()
    writer.write(output)
    record(
        db, "notices.batch_letters_printed", outcome=SUCCESS, actor=actor, target=_target(batch),
        detail={"letters": len(letters)},
    )  # fmt: skip
    db.commit()
    return output.getvalue()


def _notices_by_usager(db: Session, usagers: list[Usager]) -> dict[int, list[Notice]]:
    by_usager: dict[int, list[Notice]] = {}
    ids = [u.id for u in usagers]
    # In slices: SQLite limits the parameters of one statement.
    for start in range(0, len(ids), 5000):
        stmt = select(Notice).options(defer(Notice.content)).where(Notice.usager_id.in_(ids[start : start + 5000]))
        for notice in db.scalars(stmt):
            by_usager.setdefault(notice.usager_id, []).append(notice)
    return by_usager


def _is_registrar(actor: User, establishment_id: int) -> bool:
    return any(e.id == establishment_id for e in service.registration_establishments(actor))


def _require_registrar(actor: User, establishment_id: int, action: str) -> None:
    if not _is_registrar(actor, establishment_id):
        raise PermissionDenied(action)


def _target(batch: NoticeBatch) -> str:
    return f"notice_batch:{batch.id}"
