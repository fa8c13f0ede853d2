"""The outbox worker: claims the notices of batches, prepares them, sends each once (see the one window below).

One row of notice_outbox per notice to give. Its life:

    pending --claim--> claimed --prepare--> (letter) sent
                               --SMTP 250--> accepted --proof--> sent
                               --4xx, refused, timeout--> failed --(next_attempt_at)--> claimed ...
                               --5xx, or worker_max_attempts--> permanent

Each step commits before the next begins, so a worker killed anywhere leaves a row another worker
(or the same one, restarted) can take back once the claim's lease (worker_lease_seconds) is over. The
lease is renewed when the worker starts on each row of its claim, so it must only outlast one row's
work (a letter, or an SMTP exchange up to smtp_timeout_seconds):

- claimed, not prepared: the notice is prepared then; nothing was given yet.
- claimed, prepared: the notice and its Message-ID exist; the same bytes are sent.
- accepted: the server took the message; only its proof record is written, nothing is sent again.

The one window left is between the server's "250 OK" and the commit of "accepted" (one UPDATE
of two rows, a few milliseconds; the session stays open for the claim's next notice, its QUIT
comes after the claim's last one): a worker killed exactly there sends
that message again when its claim is taken back, with the same Message-ID, which the recipient's
software shows as the same message. No SMTP server can be asked whether it already holds a message,
so the window is kept as small as the database allows.

Several workers may run at once on PostgreSQL (the claim skips rows another worker has locked); on
SQLite one worker at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta

from flask import Flask
from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from notices import bounces, issuing, service
from notices.models import NoticeBatch, NoticeStatus, OutboxItem, OutboxState, Usager
from portal.database import utcnow
from portal.settings import Settings
from portal.smtp import SendFailed

log = logging.getLogger(__name__)
# A notice whose usager's plan no longer offers its addressee and channel (the record changed after the launch).
NO_LONGER_PLANNED = "le dossier de l'usager a changé : ce destinataire ou ce moyen n'est plus prévu par le plan"
TOO_MANY_ATTEMPTS = "abandon après {attempts} tentatives ; dernière erreur : {error}"


def worker_name() -> str:
    """Who holds a claim: host and process, so that a stuck claim says which worker took it."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


def claim(db: Session, settings: Settings, worker: str) -> list[int]:
    """Take up to worker_claim_size rows that are due, or whose claim has lapsed; committed; their ids."""
    now = utcnow()
    lapsed = now - timedelta(seconds=settings.worker_lease_seconds)
    due = (
        select(OutboxItem.id)
        .where(
            or_(
                OutboxItem.state.in_((OutboxState.PENDING, OutboxState.FAILED)) & (OutboxItem.next_attempt_at <= now),
                OutboxItem.state.in_((OutboxState.CLAIMED, OutboxState.ACCEPTED)) & (OutboxItem.claimed_at < lapsed),
            )
        )
        .order_by(OutboxItem.id)
        .limit(settings.worker_claim_size)
        # PostgreSQL: rows another worker is claiming are skipped, not waited for. SQLite has no row
        # locks (and SQLAlchemy leaves the clause out): its single writer claims alone.
        .with_for_update(skip_locked=True)
    )
    ids = db.scalars(
        update(OutboxItem)
        .where(OutboxItem.id.in_(due.scalar_subquery()))
        .values(
            # An accepted row stays accepted: only its proof record is left to write.
            state=case((OutboxItem.state == OutboxState.ACCEPTED, OutboxState.ACCEPTED), else_=OutboxState.CLAIMED),
            claimed_by=worker,
            claimed_at=now,
        )
        .returning(OutboxItem.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.commit()
    return sorted(ids)


def process(db: Session, settings: Settings, item_id: int, worker: str, sender: issuing.Sender | None = None) -> None:
    """Take one claimed row as far as it goes; each step committed. An unexpected error is a failed attempt.

    `sender`: the SMTP session of the worker's claim; without one, the row sends over a session of its own.
    """
    if sender is None:
        with issuing.Sender(settings) as own:
            return process(db, settings, item_id, worker, own)
    # The lease starts again with the row's own work, and only if the claim is still ours: the rows
    # at the end of a claim may have waited long enough for another worker to take them back.
    renewed = db.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.claimed_by == worker)
        .values(claimed_at=utcnow())
        .returning(OutboxItem.id)
        .execution_options(synchronize_session=False)
    ).first()
    db.commit()
    if renewed is None:
        return
    # Read afresh: the claim updated the row behind the session's back (and sessions keep objects after commit).
    item = db.get(OutboxItem, item_id, populate_existing=True)
    try:
        _advance(db, settings, item, sender)
    except Exception as error:
        # One bad row (a record the renderer refuses, a GnuPG failure) must not stop the others.
        log.exception("outbox row %s failed", item_id)
        db.rollback()
        item = db.get(OutboxItem, item_id)
        # An accepted message is never sent again: its proof is written when the claim's lease lapses.
        if item.state != OutboxState.ACCEPTED:
            _failed(db, settings, item, f"erreur interne : {type(error).__name__}")


def _advance(db: Session, settings: Settings, item: OutboxItem, sender: issuing.Sender) -> None:
    if item.state == OutboxState.ACCEPTED:
        _finish_accepted(db, item)
        return
    if item.notice is None and not _prepare(db, settings, item):
        return
    if item.channel not in issuing.SENT_BY_SMTP:
        # A letter is given when printed: ready in the batch's print file, it is done here.
        _finish(db, item, OutboxState.SENT)
        return
    try:
        sender.transmit(item.notice)
    except SendFailed as error:
        _failed(db, settings, item, str(error), permanent=error.permanent)
        return
    # Accepted: recorded before anything else, so that nothing sends it again (see the module's docstring).
    item.state = OutboxState.ACCEPTED
    issuing.set_status(db, item.notice, NoticeStatus.SENT)
    db.commit()
    _finish_accepted(db, item)


def work(db_factory, settings: Settings, *, stop: threading.Event) -> int:
    """Claim and process rows until `stop` is set; the number of rows processed."""
    worker, done, bounces_due = worker_name(), 0, 0.0
    while not stop.is_set():
        if time.monotonic() >= bounces_due:
            bounces_due = time.monotonic() + settings.worker_bounce_seconds
            _collect_bounces(db_factory, settings)
        with db_factory() as db:
            try:
                ids = claim(db, settings, worker)
            except OperationalError:
                # The database restarting or busy: try again after the usual wait, rather than end the worker.
                log.exception("outbox claim failed")
                ids = []
            # One SMTP session for the claim: one connection, TLS handshake and login for up to
            # worker_claim_size notices, rather than one each.
            with issuing.Sender(settings) as sender:
                for item_id in ids:
                    if stop.is_set():
                        break  # the rest of the claim is taken back when its lease lapses
                    process(db, settings, item_id, worker, sender)
                    done += 1
        if not ids:
            stop.wait(settings.worker_poll_seconds)
    return done


def _collect_bounces(db_factory, settings: Settings) -> None:
    with db_factory() as db:
        try:
            bounces.collect(db, settings)
        except Exception:
            # The mail server away or the sender's mailbox unknown: the reports wait there for the next look.
            log.exception("reading the delivery reports returned to %s failed", settings.notice_sender)


def start_embedded(app: Flask) -> None:
    """Run the worker in a daemon thread of this process, from its first request (dev: `make run`).

    Not at start-up: the CLI commands (`portal worker` among them) build the same app and serve no request.
    Setting app.extensions["notices.worker_stop"] ends the thread.
    """
    started = threading.Lock()
    stop = app.extensions["notices.worker_stop"] = threading.Event()

    @app.before_request
    def _start_once() -> None:
        if not started.acquire(blocking=False):
            return
        settings = app.config["PORTAL_SETTINGS"]
        sessions = app.extensions["database"].sessionmaker

        def run() -> None:
            with app.app_context():
                work(sessions, settings, stop=stop)

        threading.Thread(target=run, name="outbox-worker", daemon=True).start()


def _prepare(db: Session, settings: Settings, item: OutboxItem) -> bool:
    """Prepare the row's notice and link it, in one commit; False when the plan no longer offers it."""
    batch: NoticeBatch = item.batch
    usager: Usager = item.usager
    choice = issuing.Choice(item.representative_id, item.channel)
    addressee = issuing.plan_choices(usager, service.plan_for(usager)).get(choice)
    if addressee is None:
        _finish(db, item, OutboxState.PERMANENT, error=NO_LONGER_PLANNED)
        return False
    item.notice = issuing.prepare(
        db, batch.created_by, usager, choice, addressee, base_url=batch.base_url, settings=settings
    )
    db.commit()
    return True


def _failed(db: Session, settings: Settings, item: OutboxItem, error: str, *, permanent: bool = False) -> None:
    item.attempts += 1
    if permanent or item.attempts >= settings.worker_max_attempts:
        reason = error if permanent else TOO_MANY_ATTEMPTS.format(attempts=item.attempts, error=error)
        if item.notice is not None:
            issuing.set_status(db, item.notice, NoticeStatus.FAILED, failure_reason=reason)
            issuing.prove_status(db, item.notice)
        _finish(db, item, OutboxState.PERMANENT, error=reason)
        return
    # Exponential backoff: an outage of the server is not hammered by thousands of notices at once.
    delay = settings.worker_retry_seconds * 2 ** (item.attempts - 1)
    item.state, item.last_error = OutboxState.FAILED, error
    item.next_attempt_at = utcnow() + timedelta(seconds=delay)
    db.commit()
    log.info("outbox row %s: attempt %s failed, next in %s s", item.id, item.attempts, delay)


def _finish_accepted(db: Session, item: OutboxItem) -> None:
    issuing.prove_status(db, item.notice)
    _finish(db, item, OutboxState.SENT)


def _finish(db: Session, item: OutboxItem, state: OutboxState, *, error: str = "") -> None:
    item.state, item.finished_at = state, utcnow()
    if error:
        item.last_error = error
    db.commit()
