"""Delivery failures reported back to an address: an interface that the webmail fills in.

A server down the line may accept a notice and refuse it later; its delivery report (RFC 3464)
comes back to the notice sender's mailbox. Reading it takes the webmail's IMAP access and MIME
parser, which notices must not import (DESIGN rule 1): the webmail registers a reader in
create_app, and notices ask this module. Without one registered, no report can be read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app


@dataclass(frozen=True, slots=True)
class Failure:
    """One recipient a delivery report says was not reached."""

    message_ids: tuple[str, ...]  # how the report names the message: the envelope id it was sent with first
    recipient: str
    reason: str  # the server's diagnostic, or else the status code


@dataclass(frozen=True, slots=True)
class Reports:
    """The failures reported above a point of the mailbox's INBOX, and the point reached."""

    uidvalidity: int
    last_uid: int
    failures: list[Failure]


# (address, uidvalidity, after_uid) -> the reports above after_uid (all, if the UIDVALIDITY changed);
# None when the reader has no mail server to ask.
Reader = Callable[[str, int, int], Reports | None]


def register(app: Flask, reader: Reader) -> None:
    """mail.init_app registers its reader here."""
    app.extensions["bounces"] = reader


def reported(address: str, uidvalidity: int, after_uid: int) -> Reports | None:
    """The failures reported to `address` since the point (uidvalidity, after_uid); None if nobody can tell."""
    reader = current_app.extensions.get("bounces")
    return reader(address, uidvalidity, after_uid) if reader else None
