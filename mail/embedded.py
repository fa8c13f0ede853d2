"""An embedded IMAP + SMTP server on loopback for the demo and dev (`make run`), never production.

The portal is an ordinary IMAP/SMTP client of its MSSanté operator (DESIGN.md § Mail). In
production and in the tests that need the real thing, that operator is Dovecot + Postfix
(scripts/mailstack); for the demo, this module plays it with two PyPI packages in one asyncio
loop, so that `make run` needs no system service:

* IMAP: pymap's maildir backend, data under <instance>/mail/pymap (survives restarts,
  `make reset` deletes it). TLS is off: the server listens on 127.0.0.1 only, and the portal's
  PORTAL_IMAP_SECURITY=plain is refused outside dev/test.
* SMTP, two listeners on 127.0.0.1:
  - the MTA port (default 11025), unauthenticated, like an operator's inbound MX: accepts mail
    for the local mailboxes only; an unknown address of a local domain gets 550 5.1.1, another
    domain 550 5.7.1 (no relaying);
  - the submission port (default 11587), AUTH PLAIN / LOGIN required (no TLS on loopback): the
    sender must be the mailbox the credential names. Local recipients are delivered to their
    INBOX; recipients of other domains are accepted and stored in the local catch-all mailbox
    OUTBOUND (nothing ever leaves the machine, and a demo mail to a hospital does not bounce).
    Unknown addresses of local domains are refused with 550 5.1.1, as Postfix would.

Credentials, as Dovecot master users: the portal never knows a mailbox password (mailboxes have
none, they cannot log in by themselves). It authenticates as the master user with the master
password and names the mailbox it acts for, either as the SASL PLAIN authorization identity
(authzid = mailbox, authcid = master user) or Dovecot's way, login "mailbox*master". The same
two forms are accepted by SMTP AUTH on the submission port.

Mailboxes: one pymap user per address given by the address provider (the CLI gives every
Mailbox of the portal database plus every user's own address), each with INBOX, Sent, Drafts,
Trash and Junk; LIST flags those four with their RFC 6154 special-use attribute. An address
unknown at a login or a delivery makes the server ask the provider again, so mailboxes created
in the administration while the server runs work without a restart.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import re
import threading
import time
from argparse import Namespace
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from proxyprotocol.reader import ProxyProtocolReader
from pymap.backend.maildir import Config as MaildirConfig
from pymap.backend.maildir import FilterSet, MailboxSet
from pymap.backend.maildir import Identity as MaildirIdentity
from pymap.backend.maildir import Login as MaildirLogin
from pymap.backend.maildir import Session as MaildirSession
from pymap.backend.maildir.users import UsersFile
from pymap.concurrent import Subsystem
from pymap.config import BackendCapability
from pymap.exceptions import AuthorizationFailure, MailboxConflict, UserNotFound
from pymap.imap import IMAPServer
from pymap.interfaces.login import IdentityInterface
from pymap.parsing import EndLine, Params, Space
from pymap.parsing.command.nonauth import LoginCommand
from pymap.parsing.commands import Commands
from pymap.parsing.message import AppendMessage
from pymap.parsing.specials import AString
from pymap.parsing.specials.flag import Flag
from pymap.user import Passwords, UserMetadata
from pysasl.creds.plain import PlainCredentials
from pysasl.creds.server import ServerCredentials

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Not scripts/mailstack's 10143/10025/10587: `make test` leaves that stack running, and `make run`
# must still work afterwards.
DEFAULT_IMAP_PORT = 11143
DEFAULT_MTA_PORT = 11025
DEFAULT_SUBMISSION_PORT = 11587
MASTER_SEPARATOR = "*"  # Dovecot's auth_master_user_separator
OUTBOUND = "outbound"  # catch-all pymap user for mail to other domains accepted on submission
SPECIAL_USE = {"Sent": b"Sent", "Drafts": b"Drafts", "Trash": b"Trash", "Junk": b"Junk"}
SEEDED_MARKER = "seeded"


class EmbeddedRefused(RuntimeError):
    """The embedded mail server is for the demo, dev and tests only."""


def refuse_in_production(env: str) -> None:
    if env not in ("dev", "test"):
        raise EmbeddedRefused(
            "Le serveur de messagerie embarqué ne sert qu'à la démonstration : refusé quand "
            "PORTAL_ENV=production (le portail se connecte alors à l'opérateur MSSanté)."
        )


@dataclass(frozen=True)
class Seed:
    """One message to store in a mailbox folder when the server is seeded."""

    address: str
    raw: bytes
    folder: str = "INBOX"
    flags: frozenset[str] = frozenset()  # IMAP system flags, e.g. {"\\Seen", "\\Flagged"}
    when: datetime | None = None


@dataclass
class EmbeddedConfig:
    data_dir: Path  # <instance>/mail
    master_user: str
    master_password: str
    # Addresses that get a mailbox; called again when an unknown address shows up.
    addresses: Callable[[], Iterable[str]]
    env: str = "dev"
    host: str = LOOPBACK
    imap_port: int = DEFAULT_IMAP_PORT  # 0: any free port (tests)
    mta_port: int = DEFAULT_MTA_PORT
    submission_port: int = DEFAULT_SUBMISSION_PORT
    hostname: str = "mail.demo.localhost"
    # An unknown address makes the server ask the provider again, at most this often.
    refresh_seconds: float = 2.0


@dataclass
class _Directory:
    """The known mailboxes, refreshed from the provider when an address is missing."""

    provider: Callable[[], Iterable[str]]
    addresses: set[str] = field(default_factory=set)
    refreshed_at: float = 0.0

    @property
    def domains(self) -> set[str]:
        return {address.rpartition("@")[2] for address in self.addresses}


# --- IMAP: pymap maildir with master-user authorization and special-use folders ---------------


class _LenientLogin(LoginCommand):
    """LOGIN that also takes Dovecot's unquoted "mailbox*master" user id.

    '*' may not appear in an IMAP atom, but Dovecot accepts it there and imaplib (hence imapclient)
    sends the user id of LOGIN unquoted, so master-user clients written for Dovecot do the same.
    """

    _starred = re.compile(rb"[^\x00-\x20\x7f\"{}()%\\]*\*[^\x00-\x20\x7f\"{}()%\\]*(?= )")

    @classmethod
    def parse(cls, buf: memoryview, params: Params) -> tuple[LoginCommand, memoryview]:
        _, buf = Space.parse(buf, params)
        starred = cls._starred.match(bytes(buf))
        if starred:
            userid, buf = starred.group(), buf[starred.end() :]
        else:
            astring, buf = AString.parse(buf, params)
            userid = astring.value
        _, buf = Space.parse(buf, params)
        password, buf = AString.parse(buf, params)
        _, buf = EndLine.parse(buf, params)
        return cls(params.tag, userid, password.value), buf


class _Config(MaildirConfig):
    @property
    def backend_capability(self) -> BackendCapability:
        return BackendCapability(idle=True, object_id=True, multi_append=True, custom=[b"SPECIAL-USE"])

    @property
    def commands(self) -> Commands:
        commands = Commands()
        commands.register(_LenientLogin)
        return commands


class _Session(MaildirSession):
    async def list_mailboxes(self, ref_name, filter_, subscribed=False, selected=None):
        entries, updates = await super().list_mailboxes(ref_name, filter_, subscribed, selected)
        return [
            (name, sep, [*attrs, SPECIAL_USE[name]] if name in SPECIAL_USE else attrs) for name, sep, attrs in entries
        ], updates


class _Identity(MaildirIdentity):
    @asynccontextmanager
    async def new_session(self) -> AsyncIterator[_Session]:
        async with UsersFile.with_read(self._base_dir) as users_file:
            try:
                mailbox_path = users_file.get(self.name).home_dir
            except KeyError as exc:
                raise UserNotFound(self.name) from exc
        maildir, layout = self._load_maildir(mailbox_path)
        yield _Session(self.name, self.config, MailboxSet(maildir, layout), FilterSet(layout.path))


class _MasterLogin(MaildirLogin):
    """Only the master user authenticates; it is authorized as any mailbox, never as itself."""

    def __init__(self, config: _Config, master_user: str, directory: _Directory, refresh) -> None:
        super().__init__(config)
        self.master_user = master_user
        self.directory = directory
        self.refresh = refresh

    async def authenticate(self, credentials: ServerCredentials) -> _Identity:
        credentials = _split_master_login(credentials)
        if credentials.authcid != self.master_user:
            await asyncio.sleep(self.config.invalid_user_sleep)
            raise AuthorizationFailure()
        identity = await super().authenticate(credentials)
        # pymap's Identity keeps the roles known before the user file was read: read them again.
        roles = (await identity.get()).roles
        return _Identity(self.config, self.tokens, identity.name, None, roles)

    async def authorize(self, authenticated: IdentityInterface, authzid: str) -> _Identity:
        mailbox, separator, master = authzid.rpartition(MASTER_SEPARATOR)
        if separator and master == authenticated.name:  # "mailbox*master": see _split_master_login
            authzid = mailbox
        authzid = authzid.strip().lower()
        if authzid == self.master_user or (authzid != OUTBOUND and "@" not in authzid):
            raise AuthorizationFailure()
        if authzid not in self.directory.addresses and authzid != OUTBOUND:
            await self.refresh()
        identity = await super().authorize(authenticated, authzid)
        return _Identity(self.config, self.tokens, identity.name, None, identity.roles)


def _split_master_login(credentials: ServerCredentials) -> ServerCredentials:
    """Dovecot's "mailbox*master" login becomes authcid=master, authzid=mailbox."""
    authcid = credentials.authcid
    if (
        isinstance(credentials, PlainCredentials)
        and MASTER_SEPARATOR in authcid
        and credentials.authzid == authcid  # no separate authorization identity was given
    ):
        mailbox, _, master = authcid.rpartition(MASTER_SEPARATOR)
        # pysasl offers no public accessor for the secret of cleartext credentials.
        return PlainCredentials(master, credentials._secret, mailbox)
    return credentials


# --- SMTP: aiosmtpd MTA and submission listeners delivering into pymap ------------------------


@dataclass(frozen=True)
class _SmtpLogin:
    mailbox: str


class _Smtp(SMTP):
    async def auth_PLAIN(self, _, args: list[str]) -> AuthResult:  # noqa: N802 (aiosmtpd's naming)
        """As aiosmtpd's, but the authorization identity is kept (RFC 4616: authzid NUL authcid NUL passwd)."""
        if len(args) == 1:
            blob = await self.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False)
        else:
            try:
                blob = base64.b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await self.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await self.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        authzid, authcid, password = (part.decode("utf-8", "replace") for part in parts)
        return self._authenticate("PLAIN", (authzid, authcid, password))


class _Delivery:
    """aiosmtpd handler: recipients checked at RCPT, messages appended to pymap at DATA."""

    def __init__(self, server: EmbeddedMailServer, submission: bool) -> None:
        self.server = server
        self.submission = submission

    async def handle_MAIL(self, smtp, session: SmtpSession, envelope: Envelope, address: str, options):  # noqa: N802
        if self.submission:
            login = session.auth_data
            if not session.authenticated or not isinstance(login, _SmtpLogin):
                return "530 5.7.0 Authentication required"
            if address.lower() != login.mailbox:
                return f"553 5.7.1 Sender address rejected: not owned by {login.mailbox}"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, smtp, session, envelope: Envelope, address: str, options):  # noqa: N802
        address = address.strip().lower()
        local = await self.server._known(address)
        if not local:
            domain = address.rpartition("@")[2]
            if domain in self.server._directory.domains:
                return "550 5.1.1 Recipient address rejected: user unknown"
            if not self.submission:
                return "550 5.7.1 Relay access denied"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp, session, envelope: Envelope):  # noqa: N802
        content = envelope.original_content or envelope.content
        for recipient in envelope.rcpt_tos:
            local = recipient in self.server._directory.addresses
            trace = (
                f"Return-Path: <{envelope.mail_from}>\r\n"
                f"Delivered-To: {recipient if local else OUTBOUND}\r\n"
                f"Received: from {session.host_name or 'unknown'} by {self.server.config.hostname} "
                f"(portal embedded) for <{recipient}>; {formatdate(localtime=True)}\r\n"
            ).encode()
            await self.server._append(recipient if local else OUTBOUND, "INBOX", trace + content, frozenset())
        return "250 2.0.0 OK: queued"


# --- The server -------------------------------------------------------------------------------


class EmbeddedMailServer:
    """IMAP + SMTP on loopback in a background thread: start(), seed(), stop(); or serve_forever()."""

    def __init__(self, config: EmbeddedConfig) -> None:
        refuse_in_production(config.env)
        if config.host not in (LOOPBACK, "::1", "localhost"):
            raise EmbeddedRefused("Le serveur embarqué n'écoute que sur la boucle locale (127.0.0.1).")
        self.config = config
        self.ports: dict[str, int] = {}
        self._directory = _Directory(config.addresses)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._executor = ThreadPoolExecutor(4, thread_name_prefix="embedded-mail")
        self._refresh_lock: asyncio.Lock | None = None
        self._imap_config: _Config | None = None
        self._login: _MasterLogin | None = None

    # lifecycle

    def start(self, timeout: float = 15.0) -> EmbeddedMailServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as error:  # reported to the caller of start()
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._thread = threading.Thread(target=run, name="embedded-mail", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("the embedded mail server did not start in time")
        if failure:
            self._thread.join()
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> EmbeddedMailServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def serve_forever(self, on_ready: Callable[[EmbeddedMailServer], None] | None = None) -> None:
        """Start, call on_ready, and serve until Ctrl-C or SIGTERM."""
        import signal

        stopped = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        self.start()
        try:
            if on_ready:
                on_ready(self)
            while not stopped.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.stop()

    # what the caller may do while it runs

    def provision(self) -> list[str]:
        """Make sure every address of the provider has a mailbox; returns the addresses."""
        self._call(self._refresh(force=True))
        return sorted(self._directory.addresses)

    def seed(self, messages: Sequence[Seed], marker: str = SEEDED_MARKER) -> int:
        """Store the messages once (a marker file in the data directory remembers it); returns how many."""
        done = self.config.data_dir / marker
        if done.exists():
            return 0
        self.provision()
        count = 0
        for message in messages:
            if message.address.lower() in self._directory.addresses:
                self._call(
                    self._append(message.address.lower(), message.folder, message.raw, message.flags, message.when)
                )
                count += 1
            else:
                log.warning("demo message for %s skipped: no such mailbox", message.address)
        done.write_text(f"{count} messages\n")
        return count

    def _call(self, coroutine):
        assert self._loop is not None, "start() the server first"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(60)

    # inside the loop

    async def _start(self) -> None:
        config = self.config
        base_dir = config.data_dir / "pymap"
        base_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        args = Namespace(
            passlib_cfg=None,
            proxy_protocol=None,
            inherited_sockets=None,
            debug=False,
            base_dir=str(base_dir),
            concurrency=None,
            layout="++",
            colon=None,
        )
        self._imap_config = _Config(
            args,
            host=config.host,
            port=config.imap_port,
            base_dir=str(base_dir),
            layout="++",
            colon=None,
            tls_enabled=False,  # loopback only; see the module docstring
            reject_dnsbl=False,
            invalid_user_sleep=0.2,
            subsystem=Subsystem.for_executor(self._executor),
        )
        self._imap_config.apply_context()
        self._refresh_lock = asyncio.Lock()
        self._login = _MasterLogin(self._imap_config, config.master_user, self._directory, self._refresh)
        await self._provision_master()
        await self._refresh(force=True)

        loop = asyncio.get_running_loop()
        imap = ProxyProtocolReader(self._imap_config.proxy_protocol).get_callback(
            IMAPServer(self._login, self._imap_config)
        )
        listeners = [
            ("imap", await asyncio.start_server(imap, host=config.host, port=config.imap_port)),
            ("smtp", await loop.create_server(lambda: self._smtp(submission=False), config.host, config.mta_port)),
            (
                "submission",
                await loop.create_server(lambda: self._smtp(submission=True), config.host, config.submission_port),
            ),
        ]
        for name, server in listeners:
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    def _smtp(self, submission: bool) -> SMTP:
        return _Smtp(
            _Delivery(self, submission),
            hostname=self.config.hostname,
            ident="portal embedded demo mail (aiosmtpd)",
            data_size_limit=20 * 1024 * 1024,
            auth_require_tls=False,  # loopback only
            auth_required=False,  # submission demands AUTH at MAIL FROM (_Delivery.handle_MAIL)
            auth_exclude_mechanism=None if submission else ["PLAIN", "LOGIN"],
            authenticator=self._smtp_authenticate,
            loop=asyncio.get_running_loop(),
        )

    def _smtp_authenticate(self, server, session, envelope, mechanism: str, auth_data) -> AuthResult:
        if mechanism == "PLAIN":
            authzid, authcid, password = auth_data
        elif mechanism == "LOGIN":
            authzid, authcid, password = (
                "",
                auth_data.login.decode("utf-8", "replace"),
                auth_data.password.decode("utf-8", "replace"),
            )
        else:
            return AuthResult(success=False, handled=False)
        if not authzid and MASTER_SEPARATOR in authcid:
            authzid, _, authcid = authcid.rpartition(MASTER_SEPARATOR)
        authzid = authzid.strip().lower()
        master_ok = hmac.compare_digest(authcid.encode(), self.config.master_user.encode()) & hmac.compare_digest(
            password.encode(), self.config.master_password.encode()
        )
        # The directory is read without a refresh here (this callback cannot await); a mailbox
        # created a moment ago is known after the first delivery or IMAP login that refreshes it.
        if master_ok and authzid in self._directory.addresses:
            return AuthResult(success=True, auth_data=_SmtpLogin(authzid))
        return AuthResult(success=False, handled=False)

    async def _known(self, address: str) -> bool:
        if address not in self._directory.addresses:
            await self._refresh()
        return address in self._directory.addresses

    async def _refresh(self, force: bool = False) -> None:
        """Ask the provider for the addresses (at most every refresh_seconds) and create the missing mailboxes."""
        assert self._refresh_lock is not None
        async with self._refresh_lock:
            if not force and time.monotonic() - self._directory.refreshed_at < self.config.refresh_seconds:
                return
            loop = asyncio.get_running_loop()
            wanted = await loop.run_in_executor(
                self._executor, lambda: {a.strip().lower() for a in self.config.addresses() if a and "@" in a}
            )
            self._directory.refreshed_at = time.monotonic()
            for address in sorted(wanted - self._directory.addresses):
                await self._provision_mailbox(address)
                self._directory.addresses.add(address)

    async def _provision_master(self) -> None:
        """(Re)write the master user: it has the admin role, which lets it act as any mailbox."""
        config = self._imap_config
        hashed = await Passwords(config).hash_password(self.config.master_password)
        await self._admin_identity(self.config.master_user).set(
            UserMetadata(config, self.config.master_user, password=hashed, roles=frozenset({"admin"}))
        )
        await self._provision_mailbox(OUTBOUND)

    async def _provision_mailbox(self, address: str) -> None:
        identity = self._admin_identity(address)
        try:
            await identity.get()
        except UserNotFound:
            # No password ("*"): a mailbox never logs in by itself, only through the master user.
            await identity.set(UserMetadata(self._imap_config, address, password=None))
        async with identity.new_session() as session:
            for folder in SPECIAL_USE:
                # Already there after a restart: the maildir backend says KeyError, others MailboxConflict.
                with suppress(MailboxConflict, KeyError):
                    await session.create_mailbox(folder)

    def _admin_identity(self, name: str) -> _Identity:
        return _Identity(self._imap_config, self._login.tokens, name, None, frozenset({"admin"}))

    async def _append(
        self, address: str, folder: str, raw: bytes, flags: frozenset[str], when: datetime | None = None
    ) -> None:
        message = AppendMessage(
            raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
            when=when or datetime.now().astimezone(),
            flag_set=frozenset(Flag(flag.encode()) for flag in flags),
        )
        async with self._admin_identity(address).new_session() as session:
            await session.append_messages(folder, [message])
