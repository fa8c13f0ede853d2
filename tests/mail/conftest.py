"""The real mail stack (scripts/mailstack: Dovecot + Postfix on loopback) and mailboxes to fill."""

from __future__ import annotations

import io
import os
import pwd
import random
import shlex
import smtplib
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr

from mail.imap import ConnectionPool, ImapServer, ImapStore, MasterUserCredential
from mail.imap_pool import open_connection
from mail.models import Delegation, Mailbox, MailboxKind
from portal import ins
from portal.settings import ROOT
from tests.conftest import csrf_token

MAILSTACK = ROOT / "scripts" / "mailstack"
DOMAIN = "tilleuls.test.mssante.fr"
SMTP_PORT = 10025


def _run(*args: str) -> str:
    result = subprocess.run([str(MAILSTACK), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(
            f"scripts/mailstack {' '.join(args)} failed ({result.returncode}); the mail tests need a "
            f"running Dovecot + Postfix (as root: scripts/mailstack start).\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result.stdout


@pytest.fixture(scope="session")
def mailstack() -> dict[str, str]:
    """Start the stack (idempotent) and return its PORTAL_* settings."""
    if os.geteuid() != 0:
        pytest.fail("the mail tests start Dovecot + Postfix through scripts/mailstack, which needs root", pytrace=False)
    _run("start")
    env = {}
    for line in _run("env").splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0] if value else ""
    return env


def submission_settings(mailstack) -> dict:
    """The settings that reach the stack's submission port, as an operator would configure them."""
    return {
        "smtp_host": mailstack["PORTAL_SMTP_HOST"],
        "smtp_port": int(mailstack["PORTAL_SMTP_PORT"]),
        "smtp_security": mailstack["PORTAL_SMTP_SECURITY"],
        "smtp_ca_file": Path(mailstack["PORTAL_SMTP_CA_FILE"]),
        "imap_master_user": mailstack["PORTAL_IMAP_MASTER_USER"],
        "imap_master_password": SecretStr(mailstack["PORTAL_IMAP_MASTER_PASSWORD"]),
    }


@pytest.fixture()
def submission(settings, mailstack):
    """A copy of the settings pointed at the stack's submission port (model_copy does not validate:
    submission_settings gives the values their field types)."""
    return settings.model_copy(update=submission_settings(mailstack))


@pytest.fixture()
def sending(settings, mailstack, monkeypatch):
    """The portal's own settings pointed at the stack's submission port for one test."""
    for name, value in submission_settings(mailstack).items():
        monkeypatch.setattr(settings, name, value)
    return settings


@pytest.fixture(scope="session")
def imap_server(mailstack) -> ImapServer:
    return ImapServer(
        host=mailstack["PORTAL_IMAP_HOST"],
        port=int(mailstack["PORTAL_IMAP_PORT"]),
        security=mailstack["PORTAL_IMAP_SECURITY"],
        ca_file=mailstack["PORTAL_IMAP_CA_FILE"],
        timeout_seconds=10,
    )


@pytest.fixture(scope="session")
def imap_credential(mailstack) -> MasterUserCredential:
    return MasterUserCredential(mailstack["PORTAL_IMAP_MASTER_USER"], mailstack["PORTAL_IMAP_MASTER_PASSWORD"])


class CommandLog:
    """Connection factory that records the IMAP command lines the adapter sends."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def __call__(self, server: ImapServer) -> IMAPClient:
        client = open_connection(server)
        send = client._imap.send

        def recording_send(data: bytes) -> None:
            self.lines.append(bytes(data))
            send(data)

        client._imap.send = recording_send
        return client

    def commands(self, name: bytes) -> list[bytes]:
        """Lines of the commands `name` (b"UID SORT", b"UID FETCH", b"SELECT"...)."""
        found = []
        for line in self.lines:
            parts = line.split(b" ", 1)
            if len(parts) == 2 and parts[1].upper().startswith(name):
                found.append(line)
        return found


@pytest.fixture()
def imap_command_log() -> CommandLog:
    return CommandLog()


@pytest.fixture()
def make_imap_store(imap_server, imap_credential):
    stores = []

    def make(**options) -> ImapStore:
        pool = ConnectionPool(
            options.pop("server", imap_server),
            options.pop("credential", imap_credential),
            connect=options.pop("connect", open_connection),
            max_size=options.pop("max_size", 8),
            disabled_capabilities=options.pop("disabled_capabilities", frozenset()),
        )
        store = ImapStore(pool, **options)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture()
def imap_store(make_imap_store, imap_command_log) -> ImapStore:
    return make_imap_store(connect=imap_command_log)


@pytest.fixture()
def new_imap_mailbox(mailstack):
    """Create a fresh, empty mailbox (random password nobody here knows); returns its address."""

    def make(name: str = "box") -> str:
        address = f"{name}-{uuid.uuid4().hex[:10]}@{DOMAIN}"
        _run("adduser", address)
        return address

    return make


@pytest.fixture()
def webmail(app, make_imap_store):
    """The portal's webmail wired to the test Dovecot for one test."""
    app.extensions["mail.store"] = make_imap_store()
    yield
    app.extensions.pop("mail.store")


@pytest.fixture()
def make_nominative(db, establishment, new_imap_mailbox):
    """make_nominative(owner, name, display_name): a PER mailbox of the portal, on a fresh Dovecot mailbox."""

    def make(owner, name: str, display_name: str) -> Mailbox:
        box = Mailbox(address=new_imap_mailbox(name), kind=MailboxKind.PER, display_name=display_name,
                      establishment=establishment, owner=owner)
        db.add(box)
        db.commit()
        return box

    return make


@pytest.fixture()
def nominative(make_nominative, professional) -> Mailbox:
    return make_nominative(professional, "infirmiere", "Infirmière Test")


@pytest.fixture()
def new_citizen_mailbox(mailstack):
    """Create the Mon espace santé mailbox <INS>@patient.mssante.fr of a new, valid matricule; returns the INS."""

    def make() -> str:
        matricule = new_matricule()
        _run("adduser", f"{matricule}@patient.mssante.fr")
        return matricule

    return make


def new_matricule() -> str:
    """A random INS matricule with its right key."""
    first = f"{random.choice('12')}{random.randint(10**11, 10**12 - 1)}"
    return f"{first}{ins.control_key(first):02d}"

@pytest.fixture()
def imap_mailbox(new_imap_mailbox) -> str:
    return new_imap_mailbox()


def message(
    subject: str = "Bonjour",
    sender: str = "Dr Alice Martin <alice@demo.mssante.fr>",
    to: str = f"infirmiere@{DOMAIN}",
    body: str = "Texte du message.",
    date: datetime | None = None,
    attachment: bytes | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(date or datetime.now(timezone.utc))
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@demo.mssante.fr>"
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="compte-rendu.pdf")
    return msg.as_bytes()


@pytest.fixture()
def imap_append(imap_server, imap_credential):
    """append(mailbox, raw, folder="INBOX", flags=(), when=None) -> UID, through a separate connection."""
    clients: dict[str, IMAPClient] = {}

    def put(mailbox: str, raw: bytes, folder: str = "INBOX", flags=(), when: datetime | None = None) -> int:
        client = clients.get(mailbox)
        if client is None:
            client = clients[mailbox] = open_connection(imap_server)
            imap_credential.login(client, mailbox)
        response = client.append(folder, raw, flags=flags, msg_time=when)
        # "[APPENDUID <uidvalidity> <uid>] Append completed." (UIDPLUS)
        return int(response.split(b"]")[0].split()[-1])

    yield put
    for client in clients.values():
        client.logout()


def stack_dir() -> Path:
    """Where scripts/mailstack keeps the stack's files (MAILSTACK_DIR, as the script reads it)."""
    return Path(os.environ.get("MAILSTACK_DIR", ROOT / ".mailstack"))


def write_to_maildir(address: str, raws: list[bytes]) -> None:
    """Put messages straight into a mailbox's maildir, as a migration from another server would:
    Dovecot finds them at its next sync, and nothing has indexed them for full-text search."""
    owner = pwd.getpwnam("mail")  # scripts/mailstack: MAIL_OWNER
    local, domain = address.split("@")
    maildir = stack_dir() / "mail" / domain / local / "Maildir"
    for sub in ("", "cur", "new", "tmp"):
        (maildir / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(maildir / sub, owner.pw_uid, owner.pw_gid)
    for number, raw in enumerate(raws):
        name = f"{int(time.time())}.M{number}P{os.getpid()}.migrated"
        (maildir / "tmp" / name).write_bytes(raw)
        os.chown(maildir / "tmp" / name, owner.pw_uid, owner.pw_gid)
        os.rename(maildir / "tmp" / name, maildir / "new" / name)


def delivery_report(
    mailbox: str, message_id: str, recipient: str, action: str = "relayed", status: str = "2.0.0"
) -> bytes:
    """A delivery status notification (RFC 3464) about `message_id`, as Postfix writes one."""
    return (
        f"From: MAILER-DAEMON@{DOMAIN}\r\nTo: {mailbox}\r\nSubject: Delivery Status Notification\r\n"
        f"Message-Id: <{uuid.uuid4().hex}@{DOMAIN}>\r\nDate: {format_datetime(datetime.now(timezone.utc))}\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDelivery report.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {DOMAIN}\r\nOriginal-Envelope-Id: {message_id}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n\r\n--b--\r\n"
    ).encode()


def send_smtp(recipient: str, raw: bytes, sender: str = "secretariat@demo.mssante.fr") -> None:
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=10) as smtp:
        smtp.sendmail(sender, [recipient], raw)


def messages_with_id(imap_server, imap_credential, mailbox: str, message_id: str) -> list[bytes]:
    client: IMAPClient = open_connection(imap_server)
    try:
        imap_credential.login(client, mailbox)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", "Message-ID", message_id])
        return [data[b"RFC822"] for data in client.fetch(uids, ["RFC822"]).values()]
    finally:
        client.logout()


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def days_ago(days: float) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=days)


@pytest.fixture()
def secretariat(db, establishment, administrator, reception, new_imap_mailbox) -> Mailbox:
    box = Mailbox(address=new_imap_mailbox("secretariat"), kind=MailboxKind.ORG, display_name="Secrétariat",
                  establishment=establishment, owner=administrator, delegations=[Delegation(user=reception)])
    db.add(box)
    db.commit()
    return box


def write(client, mailbox: Mailbox, action: str = "send", files=(), **fields):
    """Post the editor as a browser without JavaScript does."""
    data = {"csrf_token": csrf_token(client, f"/mail/{mailbox.id}/compose"), "mailbox_id": mailbox.id, "to": "",
            "cc": "", "subject": "", "body": "", "action": action, **fields}  # fmt: skip
    data["files"] = [(io.BytesIO(content), name, kind) for name, content, kind in files]
    return client.post(f"/mail/{mailbox.id}/compose", data=data, content_type="multipart/form-data")
