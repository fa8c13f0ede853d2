"""IMAP adapter: folders, sorted and paged message lists, messages and flags of a mailbox (no Flask).

The portal reaches every mailbox with a server-side credential (Dovecot master user, later
XOAUTH2); `ImapStore` methods take the address of the mailbox that the service layer has already
decided the acting user may open. Everything here is about speaking IMAP well:

- connections stay open between requests (mail.imap_pool.ConnectionPool);
- the sorted UID list of a folder is cached and revalidated with one STATUS (UIDVALIDITY, UIDNEXT,
  MESSAGES, HIGHESTMODSEQ), so paging never sorts again while the folder is unchanged;
- a cold cache answers the first page with `UID SORT RETURN (PARTIAL a:b COUNT)` (ESORT,
  RFC 5267) and fills the cache in the background with `RETURN (ALL)`, whose sequence-set form
  is compact; without ESORT a plain SORT; without SORT a client-side sort following RFC 5256;
- only the visible page's envelopes are fetched; bodies are fetched with BODY.PEEK (reading
  never marks a message seen: marking is an explicit call).
"""

from __future__ import annotations

import enum
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from typing import Literal

from imapclient import IMAPClient

from mail.imap_pool import (
    AuthenticationFailed,
    Connection,
    ConnectionPool,
    Credential,
    ImapServer,
    MailError,
    MasterUserCredential,
    PoolExhausted,
)

__all__ = [
    "Address",
    "AuthenticationFailed",
    "ConnectionPool",
    "Credential",
    "Envelope",
    "Folder",
    "FolderNotFound",
    "FolderStatus",
    "ImapServer",
    "ImapStore",
    "MailError",
    "MasterUserCredential",
    "MessageNotFound",
    "Page",
    "PoolExhausted",
    "SearchNotReady",
    "SortKey",
    "store_from_settings",
]

SEEN = b"\\Seen"
FLAGGED = b"\\Flagged"
DELETED = b"\\Deleted"
MDN_SENT = b"$MDNSent"  # RFC 3503: a read receipt was sent, or the user declined to send one
SPECIAL_USE = ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All", "\\Flagged")
DRAFT = b"\\Draft"
# "[APPENDUID <uidvalidity> <uid>]" in the APPEND response (RFC 4315).
APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]", re.IGNORECASE)
SearchField = Literal["from", "to", "subject", "body", "text"]


class FolderNotFound(MailError):
    """The folder does not exist (or no longer exists) in this mailbox."""


class MessageNotFound(MailError):
    """No message has this UID in the folder (expunged meanwhile, or never there)."""


class SearchNotReady(MailError):
    """The server's full-text index of the folder is still being built; the search can be retried later."""


class SortKey(enum.Enum):
    """Orders a message list can take; the value is the RFC 5256 sort criterion."""

    DATE = "DATE"  # the Date: header (sent date), INTERNALDATE when missing or unparsable
    ARRIVAL = "ARRIVAL"  # INTERNALDATE: when the server received the message
    FROM = "FROM"  # mailbox (local part) of the first From address
    SUBJECT = "SUBJECT"  # base subject (without Re:/Fwd: prefixes), case-insensitive


@dataclass(frozen=True)
class Folder:
    name: str  # full name, decoded from modified UTF-7, e.g. "Archives/2024"
    delimiter: str | None  # hierarchy separator, None for a flat namespace
    flags: frozenset[str]
    special_use: str | None  # "\\Sent", "\\Trash"... (RFC 6154), None for an ordinary folder

    @property
    def has_children(self) -> bool:
        return "\\HasChildren" in self.flags

    @property
    def selectable(self) -> bool:
        return not {"\\Noselect", "\\NonExistent"} & self.flags

    @property
    def parent(self) -> str | None:
        if self.delimiter and self.delimiter in self.name:
            return self.name.rsplit(self.delimiter, 1)[0]
        return None

    @property
    def depth(self) -> int:
        return self.name.count(self.delimiter) if self.delimiter else 0

    @property
    def leaf_name(self) -> str:
        return self.name.rsplit(self.delimiter, 1)[-1] if self.delimiter else self.name


@dataclass(frozen=True)
class FolderStatus:
    messages: int
    unseen: int
    uidnext: int
    uidvalidity: int
    highestmodseq: int | None  # None when the server lacks CONDSTORE


@dataclass(frozen=True)
class Address:
    name: str  # display name, decoded (RFC 2047); "" when absent
    email: str  # "mailbox@host"; "" for a group marker or a malformed address

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class Envelope:
    uid: int
    subject: str
    sender: Address | None  # the first From address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None  # the Date: header, timezone-aware
    internal_date: datetime | None  # arrival on the server, timezone-aware
    message_id: str | None
    in_reply_to: str | None
    flags: frozenset[str]
    size: int
    has_attachments: bool

    @property
    def seen(self) -> bool:
        return "\\Seen" in self.flags

    @property
    def flagged(self) -> bool:
        return "\\Flagged" in self.flags


@dataclass(frozen=True)
class Page:
    envelopes: tuple[Envelope, ...]  # in list order; a message expunged meanwhile is left out
    total: int  # messages in the whole sorted list
    number: int  # 1-based
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


@dataclass(frozen=True)
class _Sorted:
    status: FolderStatus
    uids: tuple[int, ...]


class ImapStore:
    """The mailbox operations of the webmail, over pooled connections. Thread-safe."""

    def __init__(self, pool: ConnectionPool, *, cache_size: int = 256, warm_in_background: bool = True) -> None:
        self.pool = pool
        self._cache: OrderedDict[tuple, _Sorted] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._warming: dict[tuple, Future] = {}
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="imap-sort") if warm_in_background else None

    def close(self) -> None:
        if self._executor:
            self._executor.shutdown(wait=True)
        self.pool.close_all()

    # -- folders ------------------------------------------------------------------------------

    def list_folders(self, mailbox: str) -> list[Folder]:
        """Every folder, INBOX first, then by name (a parent before its children)."""
        with self.pool.connection(mailbox) as conn:
            if conn.has("SPECIAL-USE") and conn.has("LIST-EXTENDED"):
                # RETURN (SPECIAL-USE CHILDREN) asks for the flags explicitly (RFC 6154, 5258).
                raw = conn.client._imap._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE CHILDREN)")
                typ, data = conn.client._imap._untagged_response(raw[0], raw[1], "LIST")
                listing = conn.client._proc_folder_list(data)
            else:
                listing = conn.client.list_folders()
        folders = []
        for flags, delimiter, name in listing:
            names = frozenset(_text(f) for f in flags)
            folders.append(
                Folder(
                    name=name if isinstance(name, str) else _text(name),
                    delimiter=_text(delimiter) if delimiter else None,
                    flags=names,
                    special_use=next((f for f in SPECIAL_USE if f in names), None),
                )
            )
        folders.sort(key=lambda f: (f.name.upper() != "INBOX", f.name.split(f.delimiter or "\0")))
        return folders

    def special_folder(self, mailbox: str, use: str) -> Folder | None:
        """The folder flagged `use` ("\\Trash", "\\Sent"...), None when the mailbox has none."""
        return next((f for f in self.list_folders(mailbox) if f.special_use == use), None)

    def status(self, mailbox: str, folder: str) -> FolderStatus:
        with self.pool.connection(mailbox) as conn:
            return self._status(conn, folder)

    # -- sorted lists and pages ---------------------------------------------------------------

    def sorted_uids(self, mailbox: str, folder: str, key: SortKey = SortKey.DATE, reverse: bool = True) -> list[int]:
        """All UIDs of the folder in list order; sorts only when the folder changed since last time."""
        with self.pool.connection(mailbox) as conn:
            return list(self._sorted(conn, folder, key, reverse).uids)

    def page(
        self,
        mailbox: str,
        folder: str,
        number: int = 1,
        size: int = 50,
        key: SortKey = SortKey.DATE,
        reverse: bool = True,
    ) -> Page:
        """One page of the sorted list, with the envelopes of that page only."""
        if number < 1 or size < 1:
            raise ValueError("page number and size start at 1")
        start = (number - 1) * size
        cache_key = (mailbox, folder, key, reverse)
        pending = self._pending_warm_up(cache_key)
        if pending is not None:
            # The list is being sorted for an earlier page: wait for it rather than sort twice
            # (before taking a connection, which the warm-up may need).
            _wait_quietly(pending, self.pool.server.timeout_seconds)
        with self.pool.connection(mailbox) as conn:
            status = self._status(conn, folder)
            cached = self._valid_cache(cache_key, status)
            if cached is not None:
                uids, total = cached.uids[start : start + size], len(cached.uids)
            elif self._executor and conn.has("ESORT") and conn.has("SORT"):
                # Cold cache: ask only for this page (the server still sorts, but sends 50 UIDs),
                # and fill the cache on another connection meanwhile for the next pages.
                self._select(conn, folder)
                uids, total = self._esort_partial(conn, key, reverse, start + 1, start + size)
                self._warm_up(cache_key, status)
            else:
                full = self._sorted(conn, folder, key, reverse, status=status)
                uids, total = full.uids[start : start + size], len(full.uids)
            envelopes = self._envelopes(conn, folder, uids)
        return Page(envelopes=envelopes, total=total, number=number, size=size)

    def neighbours(
        self, mailbox: str, folder: str, uid: int, key: SortKey = SortKey.DATE, reverse: bool = True
    ) -> tuple[int | None, int | None]:
        """(previous, next) UID around `uid` in the sorted list; None at either end or if absent."""
        uids = self.sorted_uids(mailbox, folder, key, reverse)
        try:
            index = uids.index(uid)
        except ValueError:
            return None, None
        return (uids[index - 1] if index > 0 else None, uids[index + 1] if index + 1 < len(uids) else None)

    def envelopes(self, mailbox: str, folder: str, uids: Sequence[int]) -> tuple[Envelope, ...]:
        with self.pool.connection(mailbox) as conn:
            return self._envelopes(conn, folder, uids)

    def search(
        self,
        mailbox: str,
        folder: str,
        text: str,
        field: SearchField = "text",
        key: SortKey = SortKey.DATE,
        reverse: bool = True,
    ) -> list[int]:
        """UIDs of the messages holding every word of `text` in `field`, in list order.

        Body and text searches are answered by the server's full-text index (fts-xapian).
        """
        words = text.split()
        if not words:
            return []
        criteria: list = []
        for word in words:
            criteria += [field.upper(), word]
        with self.pool.connection(mailbox) as conn:
            self._select(conn, folder)
            try:
                found = set(conn.client.search(criteria, charset="UTF-8"))
            except IMAPClient.Error as error:
                # Dovecot answers NO [INUSE] when fts_index_timeout passes before its indexer has
                # caught up with the folder (a bulk import, a restored mailbox): the indexer goes on.
                if "[INUSE]" in str(error):
                    raise SearchNotReady(f"the full-text index of {folder!r} is being built") from error
                raise
            if not found:
                return []
            # Order through the (cached) sorted list rather than a second server-side sort.
            ordered = self._sorted(conn, folder, key, reverse).uids
        return [uid for uid in ordered if uid in found]

    def uids_between(self, mailbox: str, folder: str, since: date, before: date) -> list[int]:
        """UIDs of the messages that arrived from `since` to the day before `before` (SEARCH on the internal date,
        counted by the server)."""
        with self.pool.connection(mailbox) as conn:
            self._select(conn, folder)
            return sorted(conn.client.search(["SINCE", since, "BEFORE", before]))

    # -- one message --------------------------------------------------------------------------

    def raw_message(self, mailbox: str, folder: str, uid: int) -> bytes:
        """The whole message as the server stores it; its \\Seen flag is left alone."""
        with self.pool.connection(mailbox) as conn:
            self._select(conn, folder)
            response = conn.client.fetch([uid], ["BODY.PEEK[]"])
        if uid not in response:
            raise MessageNotFound(f"message {uid} is not in {folder}")
        return response[uid][b"BODY[]"]

    def flags(self, mailbox: str, folder: str, uid: int) -> frozenset[str]:
        with self.pool.connection(mailbox) as conn:
            self._select(conn, folder)
            response = conn.client.get_flags([uid])
        if uid not in response:
            raise MessageNotFound(f"message {uid} is not in {folder}")
        return frozenset(_text(flag) for flag in response[uid])

    def reports(self, mailbox: str, folder: str, after_uid: int, since: date) -> list[bytes]:
        """The multipart/report messages (delivery and read reports) above `after_uid` that arrived since `since`.

        The Content-Type is fetched and compared here rather than searched: with fts_enforced,
        Dovecot would answer a HEADER search from its full-text index, which may lag behind.
        """
        with self.pool.connection(mailbox) as conn:
            self._select(conn, folder)
            uids = [uid for uid in conn.client.search(["UID", f"{after_uid + 1}:*", "SINCE", since]) if uid > after_uid]
            if not uids:
                return []
            headers = conn.client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)]"])
            wanted = [uid for uid, data in headers.items() if _is_report(_header_value(data, b"CONTENT-TYPE"))]
            bodies = conn.client.fetch(wanted, ["BODY.PEEK[]"]) if wanted else {}
        return [bodies[uid][b"BODY[]"] for uid in sorted(bodies)]

    def set_seen(self, mailbox: str, folder: str, uids: Iterable[int], seen: bool = True) -> None:
        self._store_flag(mailbox, folder, uids, SEEN, seen)

    def set_flagged(self, mailbox: str, folder: str, uids: Iterable[int], flagged: bool = True) -> None:
        self._store_flag(mailbox, folder, uids, FLAGGED, flagged)

    def set_mdn_sent(self, mailbox: str, folder: str, uids: Iterable[int]) -> None:
        self._store_flag(mailbox, folder, uids, MDN_SENT, True)

    def move(self, mailbox: str, folder: str, uids: Iterable[int], target: str) -> None:
        uids = sorted(set(uids))
        if not uids or folder == target:
            return
        with self.pool.connection(mailbox) as conn:
            self._select(conn, folder)
            if conn.has("MOVE"):
                conn.client.move(uids, target)
            else:
                conn.client.copy(uids, target)
                self._expunge(conn, uids)
        self._forget(mailbox, folder, uids)

    def delete(self, mailbox: str, folder: str, uids: Iterable[int]) -> None:
        """Move to the \\Trash folder; in the Trash (or without one), expunge for good."""
        uids = sorted(set(uids))
        if not uids:
            return
        trash = self.special_folder(mailbox, "\\Trash")
        if trash is not None and trash.name != folder:
            self.move(mailbox, folder, uids, trash.name)
            return
        with self.pool.connection(mailbox) as conn:
            self._select(conn, folder)
            self._expunge(conn, uids)
        self._forget(mailbox, folder, uids)

    def empty_trash(self, mailbox: str) -> int:
        """Expunge everything in the \\Trash folder; returns how many messages went."""
        trash = self.special_folder(mailbox, "\\Trash")
        if trash is None:
            return 0
        with self.pool.connection(mailbox) as conn:
            self._select(conn, trash.name)
            uids = conn.client.search(["ALL"])
            if uids:
                self._expunge(conn, uids)
        self._forget(mailbox, trash.name, uids)
        return len(uids)

    def append(self, mailbox: str, folder: str, raw: bytes, flags: Sequence[bytes] = ()) -> int | None:
        """Store a message (a draft, a sent copy) in the folder; its UID when the server tells it (UIDPLUS)."""
        with self.pool.connection(mailbox) as conn:
            try:
                response = conn.client.append(folder, raw, flags=flags)
            except IMAPClient.Error as error:
                raise FolderNotFound(f"cannot append to {folder!r} in {mailbox}") from error
        found = APPENDUID.search(response or b"")
        return int(found.group(1)) if found else None

    def discard(self, mailbox: str, folder: str, uids: Iterable[int]) -> None:
        """Expunge for good, without a stop in the Trash: a draft replaced by its newer version, or sent."""
        uids = sorted(set(uids))
        if not uids:
            return
        with self.pool.connection(mailbox) as conn:
            self._select(conn, folder)
            self._expunge(conn, uids)
        self._forget(mailbox, folder, uids)

    # -- internals ----------------------------------------------------------------------------

    def _select(self, conn: Connection, folder: str) -> dict:
        if conn.selected == folder:
            return {}
        try:
            response = conn.client.select_folder(folder)
        except IMAPClient.Error as error:
            conn.selected = None
            raise FolderNotFound(f"no folder {folder!r} in {conn.mailbox}") from error
        conn.selected = folder
        return response

    def _status(self, conn: Connection, folder: str) -> FolderStatus:
        what = ["MESSAGES", "UNSEEN", "UIDNEXT", "UIDVALIDITY"]
        if conn.has("CONDSTORE"):
            what.append("HIGHESTMODSEQ")
        try:
            data = conn.client.folder_status(folder, what)
        except IMAPClient.Error as error:
            raise FolderNotFound(f"no folder {folder!r} in {conn.mailbox}") from error
        return FolderStatus(
            messages=data[b"MESSAGES"],
            unseen=data[b"UNSEEN"],
            uidnext=data[b"UIDNEXT"],
            uidvalidity=data[b"UIDVALIDITY"],
            highestmodseq=data.get(b"HIGHESTMODSEQ"),
        )

    def _valid_cache(self, cache_key: tuple, status: FolderStatus) -> _Sorted | None:
        """The cached list if the folder still holds exactly the messages it was sorted with.

        Same UIDVALIDITY, same UIDNEXT (nothing added) and same MESSAGES (nothing removed) mean
        the same set of UIDs; and the sort keys (dates, From, Subject) never change for a given
        message. So a HIGHESTMODSEQ that moved with everything else equal only reports flag
        changes (a message read, flagged): the order still holds and the entry is kept.
        """
        with self._lock:
            cached = self._cache.get(cache_key)
            if cached is None:
                return None
            old = cached.status
            if (old.uidvalidity, old.uidnext, old.messages) != (status.uidvalidity, status.uidnext, status.messages):
                del self._cache[cache_key]
                return None
            if old.highestmodseq != status.highestmodseq:
                cached = replace(cached, status=status)
                self._cache[cache_key] = cached
            self._cache.move_to_end(cache_key)
            return cached

    def _remember(self, cache_key: tuple, entry: _Sorted) -> None:
        with self._lock:
            self._cache[cache_key] = entry
            self._cache.move_to_end(cache_key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _forget(self, mailbox: str, folder: str, uids: Iterable[int]) -> None:
        """Take messages this store removed out of the cached lists instead of sorting again."""
        gone = set(uids)
        with self._lock:
            for cache_key, entry in list(self._cache.items()):
                if cache_key[:2] != (mailbox, folder):
                    continue
                kept = tuple(uid for uid in entry.uids if uid not in gone)
                removed = len(entry.uids) - len(kept)
                status = replace(entry.status, messages=entry.status.messages - removed, highestmodseq=None)
                self._cache[cache_key] = _Sorted(status=status, uids=kept)

    def _sorted(
        self, conn: Connection, folder: str, key: SortKey, reverse: bool, status: FolderStatus | None = None
    ) -> _Sorted:
        cache_key = (conn.mailbox, folder, key, reverse)
        status = status or self._status(conn, folder)
        cached = self._valid_cache(cache_key, status)
        if cached is not None:
            return cached
        self._select(conn, folder)
        if conn.has("ESORT") and conn.has("SORT"):
            uids = self._esort_all(conn, key, reverse)
        elif conn.has("SORT"):
            uids = conn.client.sort([_criterion(key, reverse)], ["ALL"], charset="UTF-8")
        else:
            uids = _client_side_sort(conn.client, key, reverse)
        entry = _Sorted(status=status, uids=tuple(uids))
        self._remember(cache_key, entry)
        return entry

    def _esort_all(self, conn: Connection, key: SortKey, reverse: bool) -> list[int]:
        data = _esort(conn, ["RETURN", "(ALL)", _criterion(key, reverse)])
        match = re.search(rb"\bALL ([0-9:,]+)", data)
        return _expand_sequence_set(match.group(1)) if match else []

    def _esort_partial(self, conn: Connection, key: SortKey, reverse: bool, first: int, last: int) -> tuple[list[int], int]:
        data = _esort(conn, ["RETURN", f"(PARTIAL {first}:{last} COUNT)", _criterion(key, reverse)])
        partial = re.search(rb"\bPARTIAL \([0-9:]+ (NIL|[0-9:,]+)\)", data)
        count = re.search(rb"\bCOUNT (\d+)", data)
        uids = _expand_sequence_set(partial.group(1)) if partial and partial.group(1) != b"NIL" else []
        return uids, int(count.group(1)) if count else 0

    def _pending_warm_up(self, cache_key: tuple) -> Future | None:
        with self._lock:
            return self._warming.get(cache_key)

    def _warm_up(self, cache_key: tuple, status: FolderStatus) -> None:
        mailbox, folder, key, reverse = cache_key
        with self._lock:
            if cache_key in self._warming:
                return

            def work() -> None:
                try:
                    with self.pool.connection(mailbox) as conn:
                        self._sorted(conn, folder, key, reverse, status=status)
                finally:
                    with self._lock:
                        self._warming.pop(cache_key, None)

            self._warming[cache_key] = self._executor.submit(work)

    def _envelopes(self, conn: Connection, folder: str, uids: Sequence[int]) -> tuple[Envelope, ...]:
        if not uids:
            return ()
        self._select(conn, folder)
        response = conn.client.fetch(
            list(uids), ["ENVELOPE", "FLAGS", "RFC822.SIZE", "BODYSTRUCTURE", "INTERNALDATE"]
        )
        return tuple(_envelope(uid, response[uid]) for uid in uids if uid in response)

    def _store_flag(self, mailbox: str, folder: str, uids: Iterable[int], flag: bytes, on: bool) -> None:
        uids = sorted(set(uids))
        if not uids:
            return
        with self.pool.connection(mailbox) as conn:
            self._select(conn, folder)
            if on:
                conn.client.add_flags(uids, [flag], silent=True)
            else:
                conn.client.remove_flags(uids, [flag], silent=True)

    def _expunge(self, conn: Connection, uids: Sequence[int]) -> None:
        conn.client.add_flags(uids, [DELETED], silent=True)
        if not conn.has("UIDPLUS"):
            # A plain EXPUNGE would also remove what another client marked \Deleted.
            raise MailError("the server lacks UIDPLUS: cannot expunge only the chosen messages")
        conn.client.uid_expunge(uids)


def store_from_settings(settings) -> ImapStore:
    """An ImapStore for the portal's settings (portal.settings.Settings), master-user credential."""
    if not settings.imap_host or not settings.imap_master_user or settings.imap_master_password is None:
        raise MailError("the webmail needs PORTAL_IMAP_HOST, PORTAL_IMAP_MASTER_USER and PORTAL_IMAP_MASTER_PASSWORD")
    server = ImapServer(
        host=settings.imap_host,
        port=settings.imap_port,
        security=settings.imap_security,
        ca_file=str(settings.imap_ca_file) if settings.imap_ca_file else None,
        timeout_seconds=settings.imap_timeout_seconds,
    )
    credential = MasterUserCredential(settings.imap_master_user, settings.imap_master_password.get_secret_value())
    pool = ConnectionPool(
        server, credential, max_size=settings.imap_pool_size, idle_seconds=settings.imap_pool_idle_seconds
    )
    return ImapStore(pool)


# -- protocol helpers ---------------------------------------------------------------------------


def _wait_quietly(future: Future, timeout: float) -> None:
    try:
        future.result(timeout=timeout)
    except Exception:  # a failed or slow warm-up: the request sorts by itself
        pass


def _criterion(key: SortKey, reverse: bool) -> str:
    return f"REVERSE {key.value}" if reverse else key.value


def _esort(conn: Connection, return_and_criteria: list[str]) -> bytes:
    """Send `UID SORT RETURN (...) (criterion) UTF-8 ALL` and return the ESEARCH data (RFC 5267)."""
    returns, options, criterion = return_and_criteria
    args = [returns.encode(), options.encode(), f"({criterion})".encode(), b"UTF-8", b"ALL"]
    data = conn.client._raw_command_untagged(b"SORT", args, response_name="ESEARCH")
    responses = [d for d in data if d]
    return responses[-1] if responses else b""


def _expand_sequence_set(text: bytes) -> list[int]:
    """"5:3,9" -> [5, 4, 3, 9]: in ESORT results the order of ranges and within them matters."""
    uids: list[int] = []
    for part in text.split(b","):
        if b":" in part:
            a, b = (int(x) for x in part.split(b":"))
            uids.extend(range(a, b + 1) if a <= b else range(a, b - 1, -1))
        elif part:
            uids.append(int(part))
    return uids


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _decode_words(value: bytes | str | None) -> str:
    """RFC 2047 encoded-words (and raw UTF-8, which servers pass through) to text."""
    if value is None:
        return ""
    text = _text(value)
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        return text


def _address(raw) -> Address:
    mailbox, host = _text(raw.mailbox or b""), _text(raw.host or b"")
    return Address(name=_decode_words(raw.name), email=f"{mailbox}@{host}" if mailbox and host else mailbox)


def _envelope(uid: int, data: dict) -> Envelope:
    env = data[b"ENVELOPE"]
    date = env.date
    if isinstance(date, datetime) and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    internal = data.get(b"INTERNALDATE")
    return Envelope(
        uid=uid,
        subject=_decode_words(env.subject),
        sender=_address(env.from_[0]) if env.from_ else None,
        to=tuple(_address(a) for a in env.to or ()),
        cc=tuple(_address(a) for a in env.cc or ()),
        date=date if isinstance(date, datetime) else None,
        internal_date=internal,
        message_id=_text(env.message_id) if env.message_id else None,
        in_reply_to=_text(env.in_reply_to) if env.in_reply_to else None,
        flags=frozenset(_text(f) for f in data.get(b"FLAGS", ())),
        size=data.get(b"RFC822.SIZE", 0),
        has_attachments=_has_attachments(data.get(b"BODYSTRUCTURE")),
    )


def _has_attachments(structure, parent_subtype: bytes = b"MIXED") -> bool:
    """True when a part is a download rather than the text: disposition attachment, a file name,
    or a non-text leaf of a multipart/mixed (alternative and related parts are the body)."""
    if structure is None:
        return False
    if getattr(structure, "is_multipart", False):
        parts, subtype = structure[0], _text(structure[1]).upper().encode()
        return any(_has_attachments(part, subtype) for part in parts)
    leaf = tuple(structure)
    main_type = _text(leaf[0]).upper() if leaf and leaf[0] else ""
    if _names_a_file(leaf[2] if len(leaf) > 2 else None):
        return True
    for item in leaf[7:]:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes):
            if item[0].upper() == b"ATTACHMENT" or _names_a_file(item[1]):
                return True
    return main_type not in ("TEXT", "MULTIPART") and parent_subtype == b"MIXED"


def _names_a_file(params) -> bool:
    if not isinstance(params, tuple):
        return False
    names = params[::2]
    return any(isinstance(n, bytes) and n.upper() in (b"NAME", b"FILENAME", b"FILENAME*", b"NAME*") for n in names)


# -- client-side sort (servers without SORT), RFC 5256 --------------------------------------------

_SUBJ_TRAILER = re.compile(r"(?:\s|\(fwd\))+$", re.IGNORECASE)
_SUBJ_BLOB = r"\[[^\[\]]*\]\s*"
_SUBJ_LEADER = re.compile(rf"^(?:\s*(?:{_SUBJ_BLOB})*(?:re|fwd?)\s*(?:{_SUBJ_BLOB})?:\s*)", re.IGNORECASE)
_SUBJ_LEADING_BLOB = re.compile(rf"^\s*{_SUBJ_BLOB}")
_SUBJ_FWD = re.compile(r"^\[fwd:(.*)\]$", re.IGNORECASE | re.DOTALL)


def base_subject(subject: str) -> str:
    """The base subject of RFC 5256 § 2.1, case-mapped for comparison."""
    text = " ".join(subject.split())
    while True:
        text = _SUBJ_TRAILER.sub("", text)
        while True:
            stripped = _SUBJ_LEADER.sub("", text, count=1)
            if stripped == text:
                blob = _SUBJ_LEADING_BLOB.sub("", text, count=1)
                stripped = blob if blob.strip() else text
            if stripped == text:
                break
            text = stripped
        wrapped = _SUBJ_FWD.match(text)
        if not wrapped:
            break
        text = wrapped.group(1).strip()
    return unicode_casemap(text)


def unicode_casemap(text: str) -> str:
    """The i;unicode-casemap comparator's key (RFC 5051): titlecase, then NFKD decomposition.

    Dovecot compares SORT strings this way, so "État" sorts with the E words, before "Planning".
    """
    titled = "".join(c.title() if len(c.title()) == 1 else c for c in text)
    return unicodedata.normalize("NFKD", titled)


def _client_side_sort(client: IMAPClient, key: SortKey, reverse: bool) -> list[int]:
    """What `UID SORT` answers, computed from the headers; ties go by sequence number (RFC 5256)."""
    fields = {
        SortKey.DATE: "BODY.PEEK[HEADER.FIELDS (DATE)]",
        SortKey.FROM: "ENVELOPE",
        SortKey.SUBJECT: "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
        SortKey.ARRIVAL: None,
    }
    wanted = ["INTERNALDATE"] + ([fields[key]] if fields[key] else [])
    uids = client.search(["ALL"])
    response = client.fetch(uids, wanted) if uids else {}
    rows = []
    for uid, data in response.items():
        internal = data.get(b"INTERNALDATE")
        if key is SortKey.ARRIVAL:
            value = _utc(internal)
        elif key is SortKey.DATE:
            value = _header_date(_header_value(data, b"DATE")) or _utc(internal)
        elif key is SortKey.SUBJECT:
            value = base_subject(_decode_words(_header_value(data, b"SUBJECT")))
        else:
            senders = data[b"ENVELOPE"].from_ or ()
            value = unicode_casemap(_text(senders[0].mailbox or b"")) if senders else ""
        rows.append((value, data[b"SEQ"], uid))
    # Ties keep ascending sequence order even under REVERSE (RFC 5256, and Dovecot does so):
    # Python's sort is stable, also with reverse=True.
    rows.sort(key=lambda row: row[1])
    rows.sort(key=lambda row: row[0], reverse=reverse)
    return [uid for _value, _seq, uid in rows]


def _header_value(data: dict, name: bytes) -> str:
    for item, value in data.items():
        if isinstance(item, bytes) and item.startswith(b"BODY[HEADER.FIELDS"):
            text = value.decode("utf-8", "replace")
            match = re.search(rf"^{name.decode()}:(.*(?:\r?\n[ \t].*)*)", text, re.IGNORECASE | re.MULTILINE)
            return " ".join(match.group(1).split()) if match else ""
    return ""


def _is_report(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/report"


def _header_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return _utc(parsed)


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
