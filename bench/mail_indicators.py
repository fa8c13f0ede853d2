"""Cost of the indicators' mail figures: counting a mailbox's year on Dovecot, then answering from the kept figures.

Run (as root, like scripts/mailstack, the stack started; MAILSTACK_DIR as for the tests):
    .venv/bin/python bench/mail_indicators.py [--messages 2000] [--mailboxes 1]

Fills (once per count) a mailbox of the private mail stack with messages spread over the last 365 days, four
in five in INBOX and one in five in Sent, from and to a few dozen partner domains; then times the tables of
the mail provider for 12 months: counting the whole period on the server (the button, or a first view),
counting the current month again (the first view of an hour), and reading the kept figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webmail import credential, imap_server, mailstack, new_store, stack_env  # noqa: E402
from mail import indicators  # noqa: E402
from mail.imap_pool import open_connection  # noqa: E402
from mail.models import Mailbox, MailboxKind, MailboxMonth  # noqa: E402
from portal import create_app, database, migrate  # noqa: E402
from portal.indicators.figures import last_months  # noqa: E402
from portal.models import Establishment, Role, User  # noqa: E402
from portal.settings import Settings  # noqa: E402

DOMAIN = "tilleuls.test.mssante.fr"  # a domain of the mail stack
PARIS = ZoneInfo("Europe/Paris")


def fill(env: dict[str, str], address: str, count: int) -> None:
    client = open_connection(imap_server(env))
    credential(env).login(client, address)
    held = (
        client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"]
        + client.folder_status("Sent", ["MESSAGES"])[b"MESSAGES"]
    )
    if held >= count:
        client.logout()
        return
    rng = random.Random(count)
    now = datetime.now(PARIS)
    started = time.perf_counter()
    for number in range(count):
        partner = (
            f"dr{rng.randrange(500)}@{rng.choice(['ch', 'ehpad', 'cabinet', 'ssiad'])}{rng.randrange(40)}.mssante.fr"
        )
        sent = number % 5 == 0
        when = now - timedelta(days=rng.uniform(0, 365))
        msg = EmailMessage()
        msg["Subject"] = f"Message {number}"
        msg["From"], msg["To"] = (address, partner) if sent else (partner, address)
        msg["Date"] = format_datetime(when)
        msg.set_content("Texte du message.")
        client.append("Sent" if sent else "INBOX", msg.as_bytes(), msg_time=when)
    client.logout()
    print(f"filled {address} with {count} messages in {time.perf_counter() - started:.0f} s")


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main(count: int, mailboxes: int) -> None:
    env = stack_env()  # the stack must be running (scripts/mailstack start, as for the tests)
    addresses = [f"bench-indicators-{count}-{n}@{DOMAIN}" for n in range(mailboxes)]
    for address in addresses:
        mailstack("adduser", address)
        fill(env, address, count)

    instance = Path(tempfile.mkdtemp(prefix="bench-mail-indicators-"))
    app = create_app(Settings(env="test", instance_path=instance))
    migrate.run(app.extensions["database"].engine, "upgrade", "heads")
    app.extensions["mail.store"] = new_store(env)
    with app.test_request_context():
        db = database.session()
        home = Establishment(finess="720000001", name="EHPAD Les Tilleuls", postal_code="72000", city="Le Mans")
        admin = User(email="admin@bench.test", first_name="A", last_name="B", password_hash="x", establishments=[home])
        admin.roles = {Role.ADMINISTRATOR}
        db.add_all(
            [admin, *(Mailbox(address=a, kind=MailboxKind.APP, display_name=a, establishment=home) for a in addresses)]
        )
        db.commit()
        period = last_months(12, datetime.now(PARIS).date())
        whole, hourly, kept = [], [], []
        for _round in range(3):
            whole.append(timed(lambda: indicators.tables(db, admin, home, period, True)))
            for row in db.scalars(select(MailboxMonth)):
                row.computed_at -= timedelta(hours=2)  # as an hour later: the current month is counted again
            db.commit()
            hourly.append(timed(lambda: indicators.tables(db, admin, home, period, False)))
            kept.append(timed(lambda: indicators.tables(db, admin, home, period, False)))
        tables = indicators.tables(db, admin, home, period, False)
        received, sent = (sum(row[i] for row in tables[0].rows) for i in (1, 2))
        print(f"{mailboxes} mailbox(es) of {count} messages: {received} received and {sent} sent in 12 months")
        for label, times in (
            ("whole period counted on the server (the button)", whole),
            ("current month counted again (first view of an hour)", hourly),
            ("kept figures (every other view)", kept),
        ):
            print(f"{label}: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms (3 runs)")
    app.extensions["mail.store"].close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--mailboxes", type=int, default=1)
    arguments = parser.parse_args()
    main(arguments.messages, arguments.mailboxes)
