"""A batch of notices processed end to end by `portal worker` processes: MSSanté and e-mail through the
private Postfix (scripts/mailstack), letters as PDF; total time, per-letter time, messages per second.

Run (as root, like scripts/mailstack, with MAILSTACK_DIR pointing at the running stack):

    .venv/bin/python bench/notices_batch.py [NOTICES] [--workers 2] [--database-url URL]
        [--kill-after N] [--outage-after N --outage-seconds S] [--verify]

Default: 1,000 notices, a third by channel, 2 workers on PostgreSQL (a fresh schema in
postgresql+psycopg://postgres@127.0.0.1:5432/test; an SQLite URL runs one worker). Usagers are spread over
establishments of 100 of each channel, because a Mon espace santé address is the usager's INS: the bench
makes 100 mailboxes <INS>@patient.mssante.fr once (kept in the stack for later runs), and the usagers of
one establishment must have distinct INS. One batch per establishment, all launched before the workers start.

--kill-after N: SIGKILL one worker once N notices are done, and start another (its claims come back when
their lease, 20 s here, lapses). --outage-after N: stop Postfix once N notices are done, for S seconds.
--verify: count every notice's Message-ID in its mailbox (doveadm fetch) and report any not there exactly once.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from notices import batches, letters, proof  # noqa: E402
from notices.models import IdentityStatus, Notice, NoticeBatch, OutboxItem, OutboxState, Sex, Usager  # noqa: E402
from portal import create_app, migrate  # noqa: E402
from portal.ins import control_key  # noqa: E402
from portal.models import Establishment, Role, User  # noqa: E402
from portal.settings import ROOT, Settings  # noqa: E402

STACK_DIR = Path(os.environ.get("MAILSTACK_DIR", ROOT / ".mailstack")).resolve()
PER_CHANNEL = 100  # usagers of each channel in one establishment; as many citizen mailboxes
EMAIL_BOX = "bench-batch@tilleuls.test.mssante.fr"
PORTAL = Path(sys.executable).parent / "portal"
TARGET = 10_000


def mailstack(*args: str) -> None:
    subprocess.run([str(ROOT / "scripts" / "mailstack"), *args], cwd=ROOT, check=True, capture_output=True)


def citizen_ins(number: int) -> str:
    first = f"2{number:012d}"
    return f"{first}{control_key(first):02d}"


def make_mailboxes() -> None:
    known = (STACK_DIR / "users").read_text()
    for address in [EMAIL_BOX] + [f"{citizen_ins(n)}@patient.mssante.fr" for n in range(PER_CHANNEL)]:
        if f"{address}:" not in known:
            mailstack("adduser", address)


def fresh_database(url: str | None) -> tuple[str, str | None]:
    """The URL the bench works in, and the PostgreSQL schema made for it (dropped at the end)."""
    if url is None:
        url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    if not url.startswith("postgresql"):
        return url, None
    schema = f"bench_batch_{uuid.uuid4().hex[:8]}"
    with create_engine(url).begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}", schema


def seed(app, count: int) -> tuple[int, float]:
    """Establishments, usagers and one launched batch each; (establishments, seconds the launches took)."""
    sessions = app.extensions["database"].sessionmaker
    establishments = -(-count // (3 * PER_CHANNEL))
    launching = 0.0
    with sessions() as db, app.app_context():
        for e in range(establishments):
            home = Establishment(finess=f"72{e:07d}", name=f"EHPAD {e}", postal_code="72000", city="Le Mans")
            officer = User(email=f"accueil{e}@bench.test", first_name="A", last_name="B", password_hash="x",
                           establishments=[home])  # fmt: skip
            officer.roles = {Role.RECEPTION}
            db.add(officer)
            for n in range(min(3 * PER_CHANNEL, count - e * 3 * PER_CHANNEL)):
                kind, index = n % 3, n // 3
                fields = (
                    {"ins": citizen_ins(index), "identity_status": IdentityStatus.QUALIFIEE},
                    {"email": EMAIL_BOX},
                    {"address_line1": f"{n} rue des Lilas", "postal_code": f"{72000 + (n * 37) % 900}", "city": "Ville"},
                )[kind]  # fmt: skip
                db.add(Usager(establishment=home, local_id=f"DUI-{n}", birth_name=f"Nom{n}",
                              birth_first_names="Jeanne", birth_date=date(1950, 1, 1), sex=Sex.F,
                              **{"identity_status": IdentityStatus.PROVISOIRE, **fields}))  # fmt: skip
            db.commit()
            proof.keyring(db).fingerprint(home)  # the establishment's key, made once, outside the timing
            started = time.perf_counter()
            batches.launch(db, officer, batches.Selection(home.id), base_url="https://portail.example.fr/")
            launching += time.perf_counter() - started
    return establishments, launching


def worker_env(settings: Settings) -> dict[str, str]:
    env = {**os.environ, "PORTAL_ENV": "test"}
    for name in ("database_url", "instance_path", "smtp_host", "smtp_port", "smtp_security", "notice_sender",
                 "worker_claim_size", "worker_lease_seconds", "worker_poll_seconds"):  # fmt: skip
        env[f"PORTAL_{name.upper()}"] = str(getattr(settings, name))
    return env


def counts(sessions) -> Counter:
    with sessions() as db:
        return Counter(dict(db.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state)).all()))


def postfix(action: str) -> None:
    subprocess.run(["postfix", "-c", str(STACK_DIR / "postfix"), action], check=True, capture_output=True)


def delivered(address: str) -> Counter:
    output = subprocess.run(
        ["doveadm", "-c", str(STACK_DIR / "dovecot.conf"), "fetch", "-u", address, "hdr.message-id", "mailbox", "INBOX"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # One record a message, separated by form feeds; a long Message-ID comes folded on the next line.
    return Counter(record.split("hdr.message-id:", 1)[1].strip() for record in output.split("\f") if record.strip())


def verify(sessions) -> None:
    with sessions() as db:
        sent = db.execute(
            select(Notice.recipient_address, Notice.message_id).where(Notice.channel.in_(("email", "mssante")))
        ).all()
    found: dict[str, Counter] = {}
    wrong = []
    for address, message_id in sent:
        if address not in found:
            found[address] = delivered(address)
        if found[address][message_id] != 1:
            wrong.append(f"{message_id} x{found[address][message_id]}")
    print(f"verify: {len(sent)} messages, {len(sent) - len(wrong)} in their mailbox exactly once, {len(wrong)} not "
          f"{wrong}")


def main(arguments: argparse.Namespace) -> None:
    instance = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    url, schema = fresh_database(arguments.database_url)
    try:
        run(arguments, instance, url)
    finally:
        if schema:
            with create_engine(url.split("?")[0]).begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def run(arguments: argparse.Namespace, instance: Path, url: str) -> None:
    workers = arguments.workers if url.startswith("postgresql") else 1
    settings = Settings(
        env="test", instance_path=instance, database_url=url, smtp_host="127.0.0.1", smtp_port=10025,
        smtp_security="plain", notice_sender="notices@tilleuls.test.mssante.fr", worker_claim_size=10,
        worker_lease_seconds=20, worker_poll_seconds=0.5,
    )  # fmt: skip
    make_mailboxes()
    app = create_app(settings)
    migrate.run(app.extensions["database"].engine, "upgrade", "heads")
    sessions = app.extensions["database"].sessionmaker

    establishments, launching = seed(app, arguments.notices)
    print(f"{arguments.notices} notices in {establishments} batches, launched in {launching:.1f} s; {workers} worker(s)")

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = before.ru_utime + before.ru_stime
    started = time.perf_counter()
    processes = [subprocess.Popen([str(PORTAL), "worker"], env=worker_env(settings), stdout=subprocess.DEVNULL)
                 for _ in range(workers)]  # fmt: skip
    killed = stopped = False
    while True:
        state = counts(sessions)
        done = state[OutboxState.SENT] + state[OutboxState.PERMANENT]
        if done == arguments.notices:
            break
        if arguments.kill_after is not None and not killed and done >= arguments.kill_after:
            processes[0].send_signal(signal.SIGKILL)
            processes[0].wait()
            processes[0] = subprocess.Popen([str(PORTAL), "worker"], env=worker_env(settings), stdout=subprocess.DEVNULL)
            killed = True
            print(f"killed a worker at {done} done, started another")
        if arguments.outage_after is not None and not stopped and done >= arguments.outage_after:
            stopped = True
            postfix("stop")
            print(f"Postfix stopped at {done} done, for {arguments.outage_seconds} s")
            try:
                time.sleep(arguments.outage_seconds)
            finally:
                postfix("start")
        time.sleep(0.5)
    total = time.perf_counter() - started
    for process in processes:
        process.send_signal(signal.SIGTERM)
        process.wait()
    # The workers' CPU, GnuPG's included (the children they waited for); Postfix and Dovecot are not counted.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before

    report(sessions, state, total, cpu)
    if arguments.verify:
        subprocess.run(["postqueue", "-c", str(STACK_DIR / "postfix"), "-f"], check=False)
        time.sleep(5)
        verify(sessions)
    app.extensions["database"].engine.dispose()


def report(sessions, state: Counter, total: float, cpu: float) -> None:
    with sessions() as db:
        by_channel = Counter(dict(db.execute(select(OutboxItem.channel, func.count()).group_by(OutboxItem.channel)).all()))
        retried = db.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.attempts > 0))
        batch = db.scalar(select(NoticeBatch).order_by(NoticeBatch.id))
        officer = batch.created_by
        started = time.perf_counter()
        pdf = batches.letters_pdf(db, officer, batch)
        merge = time.perf_counter() - started
    messages = by_channel["email"] + by_channel["mssante"]
    print(f"done: {state[OutboxState.SENT]} sent or printable, {state[OutboxState.PERMANENT]} given up, "
          f"{retried} retried; by channel {dict(by_channel)}")  # fmt: skip
    print(f"total {total:.1f} s ({total / 60:.1f} min): {sum(by_channel.values()) / total:.1f} notices/s, "
          f"{messages / total:.1f} messages/s (MSSanté + e-mail) while the letters were printed alongside")
    notices = sum(by_channel.values())
    print(f"workers' CPU: {cpu:.0f} s, {cpu / notices * 1000:.0f} ms a notice; {TARGET} such notices on two idle "
          f"cores: {cpu / notices * TARGET / 2 / 60:.1f} min of worker CPU (target 10 min; Postfix and Dovecot extra)")
    if pdf:
        print(f"print file of the first batch (up to {PER_CHANNEL} letters): {len(pdf) / 1024 / 1024:.1f} MiB, "
              f"merged in {merge:.1f} s")  # fmt: skip
    print(f"per-letter PDF: {letter_time()}")


def letter_time() -> str:
    """Median wall and CPU time of one letter, rendered here on the side (the workers are stopped)."""
    from bench.letters import content as letter_content

    letters.render_letter(letter_content(0))
    wall, cpu = [], []
    for number in range(20):
        start, start_cpu = time.perf_counter(), time.process_time()
        letters.render_letter(letter_content(number))
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return f"median {statistics.median(wall) * 1000:.0f} ms wall, {statistics.median(cpu) * 1000:.0f} ms CPU (20 letters)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("notices", type=int, nargs="?", default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url")
    parser.add_argument("--kill-after", type=int)
    parser.add_argument("--outage-after", type=int)
    parser.add_argument("--outage-seconds", type=float, default=8.0)
    parser.add_argument("--verify", action="store_true")
    main(parser.parse_args())
