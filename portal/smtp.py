"""The portal's SMTP client (aiosmtplib): hand over exact bytes, TLS verified; no Flask, no database."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from portal.settings import Settings
from portal.tls import verified_tls_context

Security = Literal["starttls", "tls", "plain"]
# RFC 3461 § 4.1: a delivery status notification may be asked for these events.
Notify = Literal["SUCCESS", "FAILURE", "DELAY"]


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security = "starttls"
    # CA bundle that signed the server's certificate; None: the system's trust store. Certificate
    # and host name verification are always on when TLS is used.
    ca_file: str | None = None
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 15.0


class SendFailed(Exception):
    """The server refused the message or could not be reached; str() says why, in French, for the sender.

    `permanent`: the server refused for good (a 5xx reply, RFC 5321 § 4.2.1); trying again would
    only be refused again. Otherwise (4xx, refused connection, timeout) a later attempt may pass.
    """

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


def operator_server(settings: Settings, *, username: str | None, password: str | None) -> SmtpServer:
    """The operator's SMTP server as the settings describe it, logged in as given; SendFailed when none is set."""
    if not settings.smtp_host:
        raise SendFailed("aucun serveur d'envoi n'est configuré (PORTAL_SMTP_HOST)")
    return SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        username=username,
        password=password,
        timeout_seconds=settings.smtp_timeout_seconds,
    )


class Connection:
    """Several messages over one SMTP session (a worker's claim of notices), one after the other.

    Connected at the first message, and again after the server went away or timed out; a message
    the server refused leaves the session usable (the envelope is reset). QUIT at close(). One
    thread at a time: the session runs in an event loop of its own thread, as the caller may
    already run an event loop in its thread (an ASGI server, a browser-driving harness).
    """

    def __init__(self, server: SmtpServer):
        self.server = server
        self._client: aiosmtplib.SMTP | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp")
        self._runner = asyncio.Runner()  # used in the executor's one thread only

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send(
        self,
        raw: bytes,
        *,
        sender: str,
        recipients: Sequence[str],
        notify: Sequence[Notify] = (),
        envelope_id: str | None = None,
    ) -> bool:
        """Hand the exact bytes to the server; SendFailed unless every recipient was accepted.

        With `notify`, delivery status notifications are asked for (RFC 3461: NOTIFY on each
        recipient, RET=HDRS and ENVID on the envelope) when the server offers DSN; answers whether
        they were asked, so that the caller knows whether to expect them.
        """
        try:
            return self._call(self._send(raw, sender, list(recipients), list(notify), envelope_id))
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise SendFailed(
                "; ".join(f"{r.recipient} : {r.code} {r.message}" for r in error.recipients),
                permanent=all(_is_permanent(r.code) for r in error.recipients),
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            raise SendFailed(f"{error.code} {error.message}", permanent=_is_permanent(error.code)) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            self._call(self._drop())  # whatever state the session is in, the next message starts a new one
            raise SendFailed(f"serveur d'envoi injoignable : {error}") from error

    def close(self) -> None:
        try:
            self._call(self._quit())
        finally:
            self._executor.submit(self._runner.close).result()
            self._executor.shutdown()

    def _call(self, coroutine):
        return self._executor.submit(self._runner.run, coroutine).result()

    async def _client_connected(self) -> aiosmtplib.SMTP:
        if self._client is None or not self._client.is_connected:
            server = self.server
            self._client = aiosmtplib.SMTP(
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.security == "tls",
                start_tls=server.security == "starttls",
                tls_context=verified_tls_context(server.ca_file) if server.security != "plain" else None,
                timeout=server.timeout_seconds,
            )
            await self._client.connect()
        return self._client

    async def _send(
        self, raw: bytes, sender: str, recipients: list[str], notify: list[str], envelope_id: str | None
    ) -> bool:
        client = await self._client_connected()
        dsn = bool(notify) and client.supports_extension("dsn")
        mail_options = ["RET=HDRS"] + ([f"ENVID={xtext(envelope_id)}"] if envelope_id else []) if dsn else []
        rcpt_options = [f"NOTIFY={','.join(notify)}"] if dsn else []
        refused, _reply = await client.sendmail(
            sender, recipients, raw, mail_options=mail_options, rcpt_options=rcpt_options
        )
        if refused:
            raise SendFailed(
                "; ".join(f"{address} : {r.code} {r.message}" for address, r in refused.items()),
                permanent=all(_is_permanent(r.code) for r in refused.values()),
            )
        return dsn

    async def _quit(self) -> None:
        if self._client is not None and self._client.is_connected:
            try:
                await self._client.quit()
            except (aiosmtplib.SMTPException, OSError):
                pass  # the messages were all answered already: a failed goodbye changes nothing
        await self._drop()

    async def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


def xtext(value: str) -> str:
    """RFC 3461 § 4: printable ASCII other than '+' and '=' as is, anything else as +XX."""
    return "".join(
        char if 33 <= ord(char) <= 126 and char not in "+=" else "".join(f"+{b:02X}" for b in char.encode())
        for char in value
    )


def xtext_decoded(value: str | None) -> str | None:
    """xtext undone: '+XX' stands for the byte XX (servers return ENVID as they received it)."""
    if value is None or "+" not in value:
        return value
    parts = value.split("+")
    decoded = parts[0].encode()
    for part in parts[1:]:
        try:
            decoded += bytes.fromhex(part[:2]) + part[2:].encode()
        except ValueError:
            return value
    return decoded.decode("utf-8", "replace")
