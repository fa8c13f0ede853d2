"""What following delivery and read reports adds to listing a folder: the report sync, timed on the private stack.

Run (as root, like scripts/mailstack): .venv/bin/python bench/receipts.py [--messages 2000] [--reports 50] [--rounds 30]

A fresh mailbox of the mail stack gets `--messages` ordinary messages and `--reports` delivery
reports (the shape Postfix writes) about messages recorded as sent in a SQLite database of its
own; then, with warm IMAP connections:
- the first sync, which reads everything above the (absent) checkpoint once;
- a sync with nothing new, what every folder listing pays from then on (one STATUS);
- a sync after one new report arrived.
Figures are medians and 95th percentiles of server round trips as the portal makes them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session  # noqa: E402

from mail import receipts  # noqa: E402
from mail.imap import ConnectionPool, ImapServer, ImapStore, MasterUserCredential  # noqa: E402
from mail.imap_pool import open_connection  # noqa: E402
from mail.models import Mailbox, MailboxKind  # noqa: E402
from portal import create_app, migrate  # noqa: E402
from portal.models import Establishment, User  # noqa: E402
from portal.settings import Settings  # noqa: E402
from tests.mail.conftest import delivery_report  # noqa: E402

MAILSTACK = ROOT / "scripts" / "mailstack"
DOMAIN = "tilleuls.test.mssante.fr"


def stack_env() -> dict[str, str]:
    out = subprocess.run([str(MAILSTACK), "env"], capture_output=True, text=True, check=True).stdout
    return {k.removeprefix("export "): shlex.split(v)[0] for k, _, v in (line.partition("=") for line in out.splitlines())}


def ordinary(number: int, mailbox: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = f"collegue{number}@demo.mssante.fr", mailbox, f"Message {number}"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@demo.mssante.fr>"
    message.set_content("Bonjour,\n" + "Texte du message. " * 40)
    return message.as_bytes()


def timed(action, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def line(name: str, samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]
    return f"{name:<38} median {statistics.median(samples):7.1f} ms   p95 {p95:7.1f} ms   ({len(samples)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--reports", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    env = stack_env()
    address = f"bench-receipts-{uuid.uuid4().hex[:8]}@{DOMAIN}"
    subprocess.run([str(MAILSTACK), "adduser", address], check=True, capture_output=True)
    server = ImapServer(env["PORTAL_IMAP_HOST"], int(env["PORTAL_IMAP_PORT"]), env["PORTAL_IMAP_SECURITY"],
                        env["PORTAL_IMAP_CA_FILE"])
    credential = MasterUserCredential(env["PORTAL_IMAP_MASTER_USER"], env["PORTAL_IMAP_MASTER_PASSWORD"])

    workdir = Path(tempfile.mkdtemp(prefix="bench-receipts-"))
    app = create_app(Settings(env="test", instance_path=workdir, database_url=f"sqlite:///{workdir / 'bench.sqlite3'}"))
    engine = app.extensions["database"].engine
    migrate.run(engine, "upgrade", "heads")
    db = Session(engine, expire_on_commit=False)
    home = Establishment(finess="720000001", name="EHPAD Les Tilleuls", city="Le Mans", postal_code="72000")
    user = User(email="bench@" + DOMAIN, first_name="Bench", last_name="Test", establishments=[home])
    mailbox = Mailbox(address=address, kind=MailboxKind.PER, display_name="Bench", establishment=home, owner=user)
    db.add_all([home, user, mailbox])
    db.commit()

    client = open_connection(server)
    credential.login(client, address)
    print(f"Filling {address}: {args.messages} messages and {args.reports} delivery reports ...", flush=True)
    recipient = f"destinataire@{DOMAIN}"
    sent_ids = [f"<{uuid.uuid4().hex}@{DOMAIN}>" for _ in range(args.reports + 1)]
    for message_id in sent_ids:
        receipts.record_sent(db, mailbox, message_id, [recipient], True, False, user)
    every = max(1, args.messages // max(1, args.reports))
    for number in range(args.messages):
        client.append("INBOX", ordinary(number, address))
        if number % every == 0 and number // every < args.reports:
            client.append("INBOX", delivery_report(address, sent_ids[number // every], recipient))

    store = ImapStore(ConnectionPool(server, credential, max_size=4))
    store.status(address, "INBOX")  # a warm connection, as a listing leaves it
    start = time.perf_counter()
    matched = receipts.sync_reports(db, store, mailbox)
    first = (time.perf_counter() - start) * 1000
    nothing_new = timed(lambda: receipts.sync_reports(db, store, mailbox), args.rounds)

    def one_new_report() -> None:
        client.append("INBOX", delivery_report(address, sent_ids[-1], recipient))
        start = time.perf_counter()
        receipts.sync_reports(db, store, mailbox)
        one_new.append((time.perf_counter() - start) * 1000)

    one_new: list[float] = []
    for _ in range(args.rounds):
        one_new_report()
    client.logout()
    store.close()

    print(f"Machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"first sync over {args.messages + args.reports} new messages: {first:7.1f} ms, {matched} reports matched")
    print(line("sync, nothing new (each folder list)", nothing_new))
    print(line("sync, one new report", one_new))


if __name__ == "__main__":
    main()
