"""Batches through the real Postfix: MSSanté notices, refusals, and a worker killed or Postfix stopped mid-batch,
after which every notice is in its mailbox exactly once (counted by Message-ID over IMAP)."""

import email
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mail.imap_pool import open_connection
from notices import batches, issuing, outbox
from notices.models import IdentityStatus, Notice, NoticeStatus, OutboxItem, OutboxState, Sex, Usager
from portal import create_app, migrate
from portal.models import Establishment, Role, User
from portal.settings import ROOT, Settings
from tests.conftest import database_url, drop_database
from tests.mail.conftest import SMTP_PORT, messages_with_id, new_matricule, wait_for
from tests.notices import conftest as notices_fixtures

make_usager = notices_fixtures.make_usager
POSTFIX = Path(os.environ.get("MAILSTACK_DIR", ROOT / ".mailstack")) / "postfix"
PORTAL = Path(sys.executable).parent / "portal"
EMAIL_NOTICES = 150


def smtp_settings(settings: Settings, **changes) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": SMTP_PORT, "smtp_security": "plain", "mss_nil": "PORTAIL-TEST-1",
                "notice_sender": "notices@tilleuls.test.mssante.fr", **changes}
    )  # fmt: skip


def test_mssante_notice_reaches_the_new_citizen_mailbox_closed_to_replies(
    db, reception, make_usager, settings, new_citizen_mailbox, imap_server, imap_credential
):
    ins = new_citizen_mailbox()
    usager = make_usager(ins=ins, identity_status=IdentityStatus.QUALIFIEE)
    smtp = smtp_settings(settings)

    [notice] = issuing.issue(db, reception, usager, [issuing.Choice(None, "mssante")], base_url="https://p.test/", settings=smtp)
    issuing.send_email(db, notice, smtp)

    assert notice.status == NoticeStatus.SENT and notice.recipient_address == f"{ins}@patient.mssante.fr"
    [raw] = wait_for(lambda: messages_with_id(imap_server, imap_credential, notice.recipient_address, notice.message_id))
    message = email.message_from_bytes(raw, policy=default)
    assert (message["X-MSS-MES"], message["X-MSS-NIL"]) == ("FIN", "PORTAIL-TEST-1")


def test_a_refused_recipient_is_a_permanent_failure_with_the_server_reason(
    db, reception, establishment, make_usager, settings
):
    make_usager(ins=new_matricule(), identity_status=IdentityStatus.QUALIFIEE)  # no mailbox at that address
    batch = batches.launch(db, reception, batches.Selection(establishment.id), base_url="https://p.test/")
    smtp = smtp_settings(settings)

    [item_id] = outbox.claim(db, smtp, "w")
    outbox.process(db, smtp, item_id, "w")

    item = db.get(OutboxItem, item_id)
    assert item.state == OutboxState.PERMANENT and item.attempts == 1
    assert "550" in item.last_error and "patient.mssante.fr" in item.last_error
    assert item.notice.status == NoticeStatus.FAILED and item.notice.failure_reason == item.last_error
    assert batches.progress(db, batch).failed == 1


class BatchWorld:
    """A committed database (other processes see it) holding a launched batch, and `portal worker` processes."""

    def __init__(self, tmp_path: Path, settings: Settings):
        self.url = database_url(tmp_path, "batch")
        self.settings = settings.model_copy(
            update={"database_url": self.url, "instance_path": tmp_path / "instance", "worker_lease_seconds": 3,
                    "worker_retry_seconds": 1, "worker_claim_size": 5, "worker_poll_seconds": 0.2}
        )  # fmt: skip
        self.app = create_app(self.settings)
        migrate.run(self.app.extensions["database"].engine, "upgrade", "heads")
        self.sessions = self.app.extensions["database"].sessionmaker
        self.workers: list[subprocess.Popen] = []

    def launch(self, email_mailboxes: list[str], citizens: list[str]) -> int:
        with self.sessions() as db, self.app.app_context():
            home = Establishment(finess="720000001", name="EHPAD Les Tilleuls", postal_code="72000", city="Le Mans")
            officer = User(email="accueil@tilleuls.test", first_name="A", last_name="B", password_hash="x",
                           establishments=[home])  # fmt: skip
            officer.roles = {Role.RECEPTION}
            people = [
                {"email": email_mailboxes[n % len(email_mailboxes)], "identity_status": IdentityStatus.PROVISOIRE}
                for n in range(EMAIL_NOTICES)
            ]
            people += [{"ins": ins, "identity_status": IdentityStatus.QUALIFIEE} for ins in citizens]
            for number, fields in enumerate(people):
                db.add(Usager(establishment=home, local_id=f"DUI-{number}", birth_name=f"Nom{number}",
                              birth_first_names="Jeanne", birth_date=date(1950, 1, 1), sex=Sex.F, **fields))  # fmt: skip
            db.add(officer)
            db.commit()
            batch = batches.launch(db, officer, batches.Selection(home.id), base_url="https://p.test/")
            return batch.id

    def start_worker(self) -> subprocess.Popen:
        env = {**os.environ, "PORTAL_ENV": "test", "PORTAL_DATABASE_URL": self.url}
        for name in ("instance_path", "smtp_host", "smtp_port", "smtp_security", "notice_sender", "mss_nil",
                     "worker_lease_seconds", "worker_retry_seconds", "worker_claim_size", "worker_poll_seconds"):
            env[f"PORTAL_{name.upper()}"] = str(getattr(self.settings, name))  # fmt: skip
        worker = subprocess.Popen([str(PORTAL), "worker"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        self.workers.append(worker)
        return worker

    def count(self, *states: OutboxState) -> int:
        with self.sessions() as db:
            return db.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.state.in_(states)))

    def wait_until(self, predicate, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "the batch did not get there in time"
            assert all(w.poll() is None for w in self.workers if w.returncode is None), "a worker died"
            time.sleep(0.05)

    def sent_message_ids(self) -> dict[str, Counter]:
        """Message-IDs of the batch's notices by recipient address."""
        with self.sessions() as db:
            rows = db.execute(select(Notice.recipient_address, Notice.message_id)).all()
        expected: dict[str, Counter] = {}
        for address, message_id in rows:
            expected.setdefault(address, Counter())[message_id] += 1
        return expected

    def message_ids_of(self, *conditions) -> set[str]:
        """Message-IDs of the batch's prepared notices whose outbox rows meet `conditions`."""
        with self.sessions() as db:
            stmt = select(Notice.message_id).join(OutboxItem, OutboxItem.notice_id == Notice.id).where(*conditions)
            return set(db.scalars(stmt))

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        self.app.extensions["database"].engine.dispose()
        drop_database(self.url)


@pytest.fixture()
def batch_world(tmp_path, settings, mailstack):
    world = BatchWorld(tmp_path, smtp_settings(settings))
    yield world
    world.close()


def mailbox_message_ids(imap_server, imap_credential, mailbox: str) -> Counter:
    client = open_connection(imap_server)
    try:
        imap_credential.login(client, mailbox)
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch(client.search(["ALL"]), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        return Counter(
            BytesHeaderParser().parsebytes(data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"])["Message-ID"].strip()
            for data in fetched.values()
        )
    finally:
        client.logout()


def assert_each_notice_delivered_once(
    world: BatchWorld, imap_server, imap_credential, in_flight: set[str] | None = frozenset()
) -> None:
    """Every notice delivered, and once; except that the one message in flight when the worker or the
    server was cut off may have arrived twice (with its one Message-ID): SMTP cannot tell a client whose
    connection broke after the server queued the message that it did (RFC 1047), and a worker killed
    between the server's 250 and its own commit cannot know it either. `in_flight`: the messages that
    may be that one; None when any may (a stopped Postfix may also deliver again a message whose
    delivery to Dovecot it had not recorded)."""
    expected = world.sent_message_ids()
    assert sum(sum(c.values()) for c in expected.values()) == EMAIL_NOTICES + 2
    # Postfix delivers after accepting: wait for its queue to empty, then count.
    wait_for(lambda: b"Mail queue is empty" in subprocess.run(["postqueue", "-c", str(POSTFIX), "-p"],
                                                                capture_output=True).stdout, timeout=60)  # fmt: skip
    repeated = Counter()
    for address, message_ids in expected.items():
        delivered = mailbox_message_ids(imap_server, imap_credential, address)
        assert set(delivered) == set(message_ids), address  # none lost, nothing foreign
        repeated.update({message_id: count - 1 for message_id, count in delivered.items() if count > 1})
    assert (in_flight is None or set(repeated) <= in_flight) and sum(repeated.values()) <= 1, repeated


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_at_most_the_message_on_the_wire(
    batch_world, new_imap_mailbox, new_citizen_mailbox, imap_server, imap_credential
):
    batch_world.launch([new_imap_mailbox("famille"), new_imap_mailbox("famille")], [new_citizen_mailbox(), new_citizen_mailbox()])
    first = batch_world.start_worker()
    batch_world.wait_until(lambda: batch_world.count(OutboxState.SENT) >= 40)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert batch_world.count(OutboxState.SENT, OutboxState.PERMANENT) < EMAIL_NOTICES + 2
    # What the dead worker held: one of these was perhaps on the wire.
    held = batch_world.message_ids_of(OutboxItem.state == OutboxState.CLAIMED, OutboxItem.claimed_by.contains(f":{first.pid}:"))

    batch_world.start_worker()  # takes the dead worker's claims back when their lease lapses
    batch_world.wait_until(lambda: batch_world.count(OutboxState.SENT) == EMAIL_NOTICES + 2)

    assert_each_notice_delivered_once(batch_world, imap_server, imap_credential, in_flight=held)


def test_postfix_stopped_mid_batch_delays_notices_loses_none_and_repeats_at_most_one(
    batch_world, new_imap_mailbox, new_citizen_mailbox, imap_server, imap_credential
):
    batch_world.launch([new_imap_mailbox("famille")], [new_citizen_mailbox(), new_citizen_mailbox()])
    batch_world.start_worker()
    batch_world.wait_until(lambda: batch_world.count(OutboxState.SENT) >= 30)
    subprocess.run(["postfix", "-c", str(POSTFIX), "stop"], check=True, capture_output=True)
    try:
        batch_world.wait_until(lambda: batch_world.count(OutboxState.FAILED) > 0, timeout=60)
    finally:
        # Never leave the machine's mail stack stopped, whatever happened above.
        if subprocess.run(["postfix", "-c", str(POSTFIX), "status"], capture_output=True).returncode != 0:
            subprocess.run(["postfix", "-c", str(POSTFIX), "start"], check=True, capture_output=True)

    batch_world.wait_until(lambda: batch_world.count(OutboxState.SENT) == EMAIL_NOTICES + 2)
    with batch_world.sessions() as db:
        assert db.scalars(select(OutboxItem.last_error).where(OutboxItem.attempts > 0)).all()

    # The message on the wire when Postfix stopped (sent again by the worker, or delivered again by
    # Postfix itself) may have arrived twice; no other.
    assert_each_notice_delivered_once(batch_world, imap_server, imap_credential, in_flight=None)
