"""Sending a prepared notice message over SMTP (aiosmtplib); no Flask, no database."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import aiosmtplib


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 15.0


class SendFailed(Exception):
    """The server refused the message or could not be reached; str() says why, for the notice's record."""


def send(server: SmtpServer, raw: bytes, *, sender: str, recipient: str) -> None:
    """Hand the exact bytes to the server; SendFailed unless every recipient was accepted."""
    try:
        refused, _reply = _run(
            aiosmtplib.send(
                raw,
                sender=sender,
                recipients=[recipient],
                hostname=server.host,
                port=server.port,
                start_tls=server.starttls,
                username=server.username,
                password=server.password,
                timeout=server.timeout_seconds,
            )
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        raise SendFailed("; ".join(f"{r.recipient} : {r.code} {r.message}" for r in error.recipients)) from error
    except aiosmtplib.SMTPResponseException as error:
        raise SendFailed(f"{error.code} {error.message}") from error
    except (aiosmtplib.SMTPException, OSError) as error:
        raise SendFailed(f"serveur d'envoi injoignable : {error}") from error
    if refused:
        raise SendFailed("; ".join(f"{address} : {r.code} {r.message}" for address, r in refused.items()))


def _run(coroutine):
    # The caller may already run an event loop in its thread (an ASGI server, a browser-driving
    # harness), where asyncio.run() is refused: the send gets a loop of its own, in a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()
