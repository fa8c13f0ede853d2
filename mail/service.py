"""Reading use-cases of the webmail: each checks access, talks to the store, and leaves an audit line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mail.access import load_mailbox, readable_mailboxes
from mail.imap import Folder, FolderNotFound, ImapStore, MessageNotFound, Page, SearchNotReady, SortKey
from mail.imap_pool import MailError
from mail.mime import Attachment, Message, parse_message
from mail.models import Mailbox
from portal.audit.service import FAILURE, SUCCESS, record
from portal.models import User

PAGE_SIZE = 50
INBOX = "INBOX"


class MailUnavailable(Exception):
    """The mail server could not be reached or refused the operation; nothing was changed."""


@dataclass(frozen=True)
class MailboxSummary:
    mailbox: Mailbox
    unseen: int | None  # None when the server did not answer


@dataclass(frozen=True)
class Opened:
    """A mailbox opened on one folder, with what the page around the list needs."""

    mailbox: Mailbox
    folders: list[Folder]
    folder: str

    @property
    def current(self) -> Folder:
        return next(f for f in self.folders if f.name == self.folder)


@dataclass(frozen=True)
class Reading:
    mailbox: Mailbox
    folder: str
    uid: int
    raw: bytes
    message: Message
    previous_uid: int | None
    next_uid: int | None


class Webmail:
    """The webmail of one acting user, over one store (the IMAP server) and the portal's database."""

    def __init__(self, db: Session, store: ImapStore, actor: User):
        self.db = db
        self.store = store
        self.actor = actor

    def switcher(self) -> list[MailboxSummary]:
        summaries = []
        for mailbox in readable_mailboxes(self.db, self.actor):
            try:
                unseen = self.store.status(mailbox.address, INBOX).unseen
            except (MailError, OSError):
                unseen = None
            summaries.append(MailboxSummary(mailbox, unseen))
        return summaries

    def open(self, mailbox_id: int, folder: str) -> Opened:
        mailbox = load_mailbox(self.db, self.actor, mailbox_id)
        folders = self._call(mailbox, "mail.open", {"folder": folder}, self.store.list_folders, mailbox.address)
        if folder not in {f.name for f in folders if f.selectable}:
            self._audit(mailbox, "mail.open", FAILURE, {"folder": folder, "reason": "no such folder"})
            raise LookupError(folder)
        return Opened(mailbox, folders, folder)

    def list(self, opened: Opened, page: int, sort: SortKey, reverse: bool) -> Page:
        detail = {"folder": opened.folder, "page": page, "sort": sort.value}
        result = self._call(
            opened.mailbox, "mail.list", detail, self.store.page,
            opened.mailbox.address, opened.folder, page, PAGE_SIZE, sort, reverse,
        )
        self._audit(opened.mailbox, "mail.list", SUCCESS, detail)
        return result

    def search(self, opened: Opened, text: str, page: int) -> Page:
        # The words themselves stay out of the log: they may name a patient.
        detail = {"folder": opened.folder}
        uids = self._call(opened.mailbox, "mail.search", detail, self.store.search, opened.mailbox.address, opened.folder, text)
        total = len(uids)
        page = min(max(1, page), max(1, -(-total // PAGE_SIZE)))
        visible = uids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        envelopes = self._call(
            opened.mailbox, "mail.search", detail, self.store.envelopes, opened.mailbox.address, opened.folder, visible
        )
        self._audit(opened.mailbox, "mail.search", SUCCESS, {**detail, "results": total})
        return Page(envelopes=envelopes, total=total, number=page, size=PAGE_SIZE)

    def read(self, opened: Opened, uid: int, sort: SortKey = SortKey.DATE, reverse: bool = True) -> Reading:
        address = opened.mailbox.address
        raw = self._raw(opened, uid, "mail.read")
        message = parse_message(raw)
        self._call(opened.mailbox, "mail.read", {"uid": uid}, self.store.set_seen, address, opened.folder, [uid])
        previous_uid, next_uid = self._call(
            opened.mailbox, "mail.read", {"uid": uid}, self.store.neighbours, address, opened.folder, uid, sort, reverse
        )
        self._audit(opened.mailbox, "mail.read", SUCCESS, self._about(opened.folder, uid, message))
        return Reading(opened.mailbox, opened.folder, uid, raw, message, previous_uid, next_uid)

    def body(self, mailbox_id: int, folder: str, uid: int) -> tuple[Mailbox, bytes]:
        """The raw message again for its sandboxed frame; the reading itself was logged by read().

        The frame needs no folder list: a folder or message that is not there answers LookupError.
        """
        mailbox = load_mailbox(self.db, self.actor, mailbox_id)
        raw = self._call(mailbox, "mail.read", {"folder": folder, "uid": uid}, self.store.raw_message, mailbox.address, folder, uid)
        return mailbox, raw

    def allow_remote_content(self, mailbox: Mailbox, folder: str, uid: int, message: Message) -> None:
        """The user chose to load the message's remote images: the sender may learn it was read."""
        self._audit(mailbox, "mail.remote_content", SUCCESS, self._about(folder, uid, message))

    def attachment(self, opened: Opened, uid: int, index: int) -> Attachment:
        message = parse_message(self._raw(opened, uid, "mail.download"))
        if not 0 <= index < len(message.attachments):
            raise LookupError(index)
        attachment = message.attachments[index]
        detail = {**self._about(opened.folder, uid, message), "attachment": attachment.filename}
        self._audit(opened.mailbox, "mail.download", SUCCESS, detail)
        return attachment

    def set_flag(self, opened: Opened, uids: Sequence[int], flag: str, on: bool) -> None:
        operation = {"seen": self.store.set_seen, "flagged": self.store.set_flagged}[flag]
        detail = {"folder": opened.folder, "uids": list(uids), "flag": flag, "on": on}
        self._call(opened.mailbox, "mail.flag", detail, operation, opened.mailbox.address, opened.folder, uids, on)
        self._audit(opened.mailbox, "mail.flag", SUCCESS, detail)

    def move(self, opened: Opened, uids: Sequence[int], target: str) -> None:
        if target not in {f.name for f in opened.folders if f.selectable} or target == opened.folder:
            raise LookupError(target)
        detail = {"folder": opened.folder, "uids": list(uids), "target": target}
        self._call(opened.mailbox, "mail.move", detail, self.store.move, opened.mailbox.address, opened.folder, uids, target)
        self._audit(opened.mailbox, "mail.move", SUCCESS, detail)

    def delete(self, opened: Opened, uids: Sequence[int]) -> None:
        detail = {"folder": opened.folder, "uids": list(uids)}
        self._call(opened.mailbox, "mail.delete", detail, self.store.delete, opened.mailbox.address, opened.folder, uids)
        self._audit(opened.mailbox, "mail.delete", SUCCESS, detail)

    def empty_trash(self, mailbox_id: int) -> int:
        mailbox = load_mailbox(self.db, self.actor, mailbox_id)
        removed = self._call(mailbox, "mail.empty_trash", {}, self.store.empty_trash, mailbox.address)
        self._audit(mailbox, "mail.empty_trash", SUCCESS, {"removed": removed})
        return removed

    def _raw(self, opened: Opened, uid: int, action: str) -> bytes:
        return self._call(opened.mailbox, action, {"uid": uid}, self.store.raw_message, opened.mailbox.address, opened.folder, uid)

    def _call(self, mailbox: Mailbox, action: str, detail: dict, operation, *args):
        try:
            return operation(*args)
        except (MailError, OSError) as error:
            self._audit(mailbox, action, FAILURE, {**detail, "error": type(error).__name__})
            if isinstance(error, (FolderNotFound, MessageNotFound)):
                raise LookupError(str(error)) from error
            if isinstance(error, SearchNotReady):
                raise  # not an outage: the page tells the user to search again in a while
            raise MailUnavailable(str(error)) from error

    def _audit(self, mailbox: Mailbox, action: str, outcome: str, detail: dict) -> None:
        record(self.db, action, outcome=outcome, actor=self.actor, target=mailbox.address, detail=detail)
        self.db.commit()

    @staticmethod
    def _about(folder: str, uid: int, message: Message) -> dict:
        return {"folder": folder, "uid": uid, "message_id": message.message_id}
