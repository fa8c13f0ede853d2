"""IMAP connections kept open between requests: a small thread-safe pool keyed by mailbox address."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from portal.tls import verified_tls_context

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "plain"]


class MailError(RuntimeError):
    """The mail server could not do what was asked."""


class AuthenticationFailed(MailError):
    """The server refused the portal's credential for this mailbox."""


class PoolExhausted(MailError):
    """Every connection of the pool is busy and none was released in time."""


@dataclass(frozen=True)
class ImapServer:
    """Where the operator's IMAP server listens and how the portal talks to it."""

    host: str
    port: int
    security: Security = "starttls"
    # CA bundle that signed the server's certificate; None: the system's trust store. Certificate
    # and host name verification are always on, whatever the file.
    ca_file: str | None = None
    timeout_seconds: float = 30.0

    def tls_context(self) -> ssl.SSLContext:
        return verified_tls_context(self.ca_file)


class Credential(Protocol):
    """How the portal logs in to a mailbox it has decided the user may open.

    Implementations: MasterUserCredential (Dovecot master user); later an XOAUTH2 credential
    carrying the user's Pro Santé Connect token (`client.oauth2_login(mailbox_address, token)`).
    """

    def login(self, client: IMAPClient, mailbox_address: str) -> None: ...


class MasterUserCredential:
    """Dovecot master user: log in as "mailbox*master" with the master password (RFC-free, Dovecot)."""

    def __init__(self, master_user: str, master_password: str, separator: str = "*") -> None:
        self.master_user = master_user
        self._password = master_password
        self.separator = separator

    def login(self, client: IMAPClient, mailbox_address: str) -> None:
        client.login(f"{mailbox_address}{self.separator}{self.master_user}", self._password)

    def __repr__(self) -> str:  # never the password, not even in a traceback
        return f"MasterUserCredential(master_user={self.master_user!r})"


def open_connection(server: ImapServer) -> IMAPClient:
    """A connected, not yet logged-in client; TLS established and verified unless security is plain."""
    client = IMAPClient(
        server.host,
        port=server.port,
        ssl=server.security == "tls",
        ssl_context=server.tls_context() if server.security == "tls" else None,
        timeout=server.timeout_seconds,
    )
    if server.security == "starttls":
        try:
            client.starttls(server.tls_context())
        except BaseException:
            _quietly_close(client)
            raise
    # Aware datetimes (INTERNALDATE, envelope dates): no conversion to the server's local time.
    client.normalise_times = False
    return client


@dataclass(eq=False)
class Connection:
    """One logged-in IMAP session for one mailbox, with what the adapter knows of its state."""

    client: IMAPClient
    mailbox: str
    capabilities: frozenset[str]
    selected: str | None = None
    last_used: float = 0.0
    broken: bool = False
    data: dict = field(default_factory=dict)

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # already dead: nothing to say goodbye to
            try:
                self.client.shutdown()
            except Exception:
                pass


class ConnectionPool:
    """Logged-in connections reused between requests.

    A connection is handed to one thread at a time (`with pool.connection(mailbox) as conn`), then
    returned idle. Idle connections older than `idle_seconds` are closed; a reused one is checked
    with NOOP first and replaced when the server (or the network) dropped it. At most `max_size`
    connections exist at once: the oldest idle one is closed to make room, and when all are busy
    the caller waits up to the server timeout.
    """

    def __init__(
        self,
        server: ImapServer,
        credential: Credential,
        *,
        max_size: int = 32,
        idle_seconds: float = 300.0,
        disabled_capabilities: frozenset[str] = frozenset(),
        connect: Callable[[ImapServer], IMAPClient] = open_connection,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.server = server
        self.credential = credential
        self.max_size = max_size
        self.idle_seconds = idle_seconds
        # Extensions to ignore although the server advertises them (a broken server extension,
        # or the tests of the client-side fallbacks).
        self.disabled_capabilities = frozenset(c.upper() for c in disabled_capabilities)
        self._connect = connect
        self._clock = clock
        self._idle: dict[str, list[Connection]] = {}
        self._busy = 0
        self._changed = threading.Condition(threading.Lock())
        self.opened = 0  # connections opened since the pool was made (for tests and metrics)

    @contextmanager
    def connection(self, mailbox: str) -> Iterator[Connection]:
        conn = self._acquire(mailbox)
        try:
            yield conn
        except BaseException as error:
            # A refused command (NO/BAD) leaves the session usable; after a network error, a
            # timeout or anything unexpected its state is unknown: never reuse it.
            if isinstance(error, (OSError, IMAPClient.AbortError)) or not isinstance(
                error, (MailError, IMAPClient.Error)
            ):
                conn.broken = True
            raise
        finally:
            self._release(conn)

    def close_all(self) -> None:
        with self._changed:
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()

    def idle_count(self, mailbox: str | None = None) -> int:
        with self._changed:
            if mailbox is not None:
                return len(self._idle.get(mailbox, ()))
            return sum(len(conns) for conns in self._idle.values())

    # -- internals ----------------------------------------------------------------------------

    def _acquire(self, mailbox: str) -> Connection:
        deadline = self._clock() + self.server.timeout_seconds
        while True:
            to_close: list[Connection] = []
            candidate = None
            with self._changed:
                to_close.extend(self._expire_locked())
                conns = self._idle.get(mailbox)
                if conns:
                    candidate = conns.pop()  # the most recently used: the likeliest alive
                    if not conns:
                        del self._idle[mailbox]
                    self._busy += 1
                elif self._busy + self._idle_total_locked() < self.max_size:
                    self._busy += 1
                else:
                    oldest = self._oldest_idle_locked()
                    if oldest is not None:
                        to_close.append(oldest)
                        self._busy += 1
                    else:
                        remaining = deadline - self._clock()
                        if remaining <= 0:
                            raise PoolExhausted(f"{self.max_size} IMAP connections busy")
                        self._changed.wait(remaining)
                        continue
            for conn in to_close:
                conn.close()
            try:
                if candidate is not None and self._alive(candidate):
                    return candidate
                if candidate is not None:
                    log.info("IMAP connection for %s was dropped; opening a new one", mailbox)
                    candidate.close()
                return self._open(mailbox)
            except BaseException:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify()
                raise

    def _release(self, conn: Connection) -> None:
        conn.last_used = self._clock()
        with self._changed:
            self._busy -= 1
            if not conn.broken:
                self._idle.setdefault(conn.mailbox, []).append(conn)
            self._changed.notify()
        if conn.broken:
            conn.close()

    def _open(self, mailbox: str) -> Connection:
        client = self._connect(self.server)
        try:
            self.credential.login(client, mailbox)
        except LoginError as error:
            _quietly_close(client)
            raise AuthenticationFailed(f"the server refused the portal's login to {mailbox}") from error
        except BaseException:
            _quietly_close(client)
            raise
        capabilities = frozenset(c.decode().upper() for c in client.capabilities()) - self.disabled_capabilities
        conn = Connection(client=client, mailbox=mailbox, capabilities=capabilities, last_used=self._clock())
        # QRESYNC implies CONDSTORE: SELECT then reports HIGHESTMODSEQ, which validates the caches.
        wanted = [c for c in ("QRESYNC", "CONDSTORE") if conn.has(c)][:1]
        if wanted and conn.has("ENABLE"):
            client.enable(*wanted)
        with self._changed:
            self.opened += 1
        return conn

    def _alive(self, conn: Connection) -> bool:
        try:
            conn.client.noop()
            return True
        except Exception:
            return False

    def _expire_locked(self) -> list[Connection]:
        now = self._clock()
        expired = []
        for mailbox in list(self._idle):
            keep = []
            for conn in self._idle[mailbox]:
                (expired if now - conn.last_used > self.idle_seconds else keep).append(conn)
            if keep:
                self._idle[mailbox] = keep
            else:
                del self._idle[mailbox]
        return expired

    def _idle_total_locked(self) -> int:
        return sum(len(conns) for conns in self._idle.values())

    def _oldest_idle_locked(self) -> Connection | None:
        oldest = None
        for conns in self._idle.values():
            for conn in conns:
                if oldest is None or conn.last_used < oldest.last_used:
                    oldest = conn
        if oldest is not None:
            conns = self._idle[oldest.mailbox]
            conns.remove(oldest)
            if not conns:
                del self._idle[oldest.mailbox]
        return oldest


def _quietly_close(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:
        pass
