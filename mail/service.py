"""Use-cases of the webmail, reading and writing: each checks access, talks to the servers, and leaves an audit line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from flask_babel import format_datetime
from flask_babel import gettext as _
from imapclient import IMAPClient
from sqlalchemy.orm import Session

from mail import compose, mdn, receipts, xdm
from mail.access import load_mailbox, load_sending_mailbox, readable_mailboxes
from mail.compose import Draft, Part, Sender
from mail.imap import (
    DRAFT, MDN_SENT, SEEN, Folder, FolderNotFound, ImapStore, MessageNotFound, Page, SearchNotReady, SortKey,
)
from mail.imap_pool import MailError
from mail.mime import Attachment, Message, parse_message
from mail.models import Mailbox, SentMessage
from mail.sending import transmit
from portal import patients
from portal.patients import PatientIdentity
from portal.annuaire.service import is_trusted
from portal.audit.service import FAILURE, SUCCESS, record
from portal.i18n import file_size
from portal.models import User
from portal.settings import Settings
from portal.smtp import SendFailed

PAGE_SIZE = 50
INBOX = "INBOX"
# Delivery status notifications asked for on every message (RFC 3461), as the MSSanté clients' reference asks.
NOTIFY = ("SUCCESS", "FAILURE")
# Folders whose messages the mailbox wrote itself: nobody there asks it for a read receipt.
OWN_FOLDERS = {"\\Sent", "\\Drafts"}


class MailUnavailable(Exception):
    """The mail server could not be reached or refused the operation; nothing was changed."""


class DocumentRefused(Exception):
    """A patient document that cannot be prepared; str() says why, in French."""


class NotSent(Exception):
    """Nothing was sent; str() says why, in French. What was written is kept in Drafts (draft_uid)."""

    def __init__(self, reason: str, draft_uid: int | None, refused: dict[str, str] | None = None):
        super().__init__(reason)
        self.draft_uid = draft_uid
        self.refused = refused or {}  # address -> why it may not be written to


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
class Saved:
    """Where a draft's saved version is: its mailbox's Drafts folder, under this UID."""

    mailbox: Mailbox
    uid: int


@dataclass(frozen=True)
class Reading:
    mailbox: Mailbox
    folder: str
    uid: int
    raw: bytes
    message: Message
    previous_uid: int | None
    next_uid: int | None
    sent: SentMessage | None  # the portal sent it from this mailbox and follows its reports
    asks_read_receipt: bool  # the sender asks for a read receipt that nobody has answered yet


@dataclass(frozen=True)
class Found:
    """A page of search results; index_pending: the server's full-text index of the folder is still
    being built, so the search answered nothing yet and should be tried again in a while."""

    page: Page
    index_pending: bool = False


class Webmail:
    """The webmail of one acting user, over one store (the IMAP server) and the portal's database."""

    def __init__(self, db: Session, store: ImapStore, actor: User, settings: Settings | None = None):
        self.db = db
        self.store = store
        self.actor = actor
        self.settings = settings

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
        self._sync_reports(opened.mailbox)
        result = self._call(
            opened.mailbox, "mail.list", detail, self.store.page,
            opened.mailbox.address, opened.folder, page, PAGE_SIZE, sort, reverse,
        )
        self._audit(opened.mailbox, "mail.list", SUCCESS, detail)
        return result

    def search(self, opened: Opened, text: str, page: int) -> Found:
        # The words themselves stay out of the log: they may name a patient.
        detail = {"folder": opened.folder}
        try:
            uids = self._call(
                opened.mailbox, "mail.search", detail, self.store.search, opened.mailbox.address, opened.folder, text
            )
        except SearchNotReady:
            return Found(Page(envelopes=(), total=0, number=1, size=PAGE_SIZE), index_pending=True)
        total = len(uids)
        page = min(max(1, page), max(1, -(-total // PAGE_SIZE)))
        visible = uids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        envelopes = self._call(
            opened.mailbox, "mail.search", detail, self.store.envelopes, opened.mailbox.address, opened.folder, visible
        )
        self._audit(opened.mailbox, "mail.search", SUCCESS, {**detail, "results": total})
        return Found(Page(envelopes=envelopes, total=total, number=page, size=PAGE_SIZE))

    def read(self, opened: Opened, uid: int, sort: SortKey = SortKey.DATE, reverse: bool = True) -> Reading:
        address = opened.mailbox.address
        raw = self._raw(opened, uid, "mail.read")
        message = parse_message(raw)
        self._call(opened.mailbox, "mail.read", {"uid": uid}, self.store.set_seen, address, opened.folder, [uid])
        previous_uid, next_uid = self._call(
            opened.mailbox, "mail.read", {"uid": uid}, self.store.neighbours, address, opened.folder, uid, sort, reverse
        )
        self._audit(opened.mailbox, "mail.read", SUCCESS, self._about(opened.folder, uid, message))
        sent = receipts.tracked(self.db, opened.mailbox, [message.message_id]).get(message.message_id or "")
        asks = self._asks_read_receipt(opened, uid, message)
        return Reading(opened.mailbox, opened.folder, uid, raw, message, previous_uid, next_uid, sent, asks)

    def tracked(self, opened: Opened, page: Page) -> dict[str, SentMessage]:
        """The page's messages that the portal sent from this mailbox, by Message-ID, with their reports."""
        return receipts.tracked(self.db, opened.mailbox, (envelope.message_id for envelope in page.envelopes))

    def answer_read_receipt(self, opened: Opened, uid: int, send: bool) -> None:
        """Send the read receipt the sender asked for, or decline to; either way it is never asked again.

        LookupError when the message asks for none (or was answered already); SendFailed says why
        the operator refused it.
        """
        message = parse_message(self._raw(opened, uid, "mail.mdn"))
        if not self._asks_read_receipt(opened, uid, message):
            raise LookupError(uid)
        detail = {**self._about(opened.folder, uid, message), "sent": send}
        if send:
            subject = message.subject or _("(sans objet)")
            report = mdn.read_receipt(
                message, opened.mailbox.address, opened.mailbox.display_name,
                subject=_("Accusé de lecture : %(subject)s", subject=subject),
                text=_(
                    "Le message « %(subject)s » adressé à %(address)s a été affiché. "
                    "Cet accusé ne garantit pas que le message a été lu ou compris.",
                    subject=subject, address=opened.mailbox.address,
                ),
            )
            recipients = [address.email for address in message.disposition_notification_to]
            try:
                # No delivery report about a read receipt (RFC 8098 § 2.1): it must not start a loop.
                transmit(self.settings, opened.mailbox.address, report, recipients=recipients)
            except SendFailed:
                # The server's words may quote addresses (a patient's is an INS): the user reads them, not the log.
                self._audit(opened.mailbox, "mail.mdn", FAILURE, {**detail, "error": "SendFailed"})
                raise
        address = opened.mailbox.address
        self._call(opened.mailbox, "mail.mdn", detail, self.store.set_mdn_sent, address, opened.folder, [uid])
        self._audit(opened.mailbox, "mail.mdn", SUCCESS, detail)

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

    # Writing

    def sender(self, mailbox_id: int) -> Mailbox:
        """A mailbox the acting user may write from (404 otherwise)."""
        return load_sending_mailbox(self.db, self.actor, mailbox_id)

    def reply(self, opened: Opened, uid: int, everyone: bool) -> Draft:
        raw = self._raw(opened, uid, "mail.read")
        original = parse_message(raw)
        self._audit(opened.mailbox, "mail.read", SUCCESS, {**self._about(opened.folder, uid, original), "for": "reply"})
        sender = ", ".join(str(a) for a in original.from_) or "?"
        attribution = _("Le %(date)s, %(sender)s a écrit :", date=self._date(original), sender=sender)
        return compose.reply(original, opened.mailbox.address, everyone=everyone, attribution=attribution)

    def forward(self, opened: Opened, uid: int, as_attachment: bool) -> Draft:
        raw = self._raw(opened, uid, "mail.read")
        original = parse_message(raw)
        self._audit(opened.mailbox, "mail.read", SUCCESS, {**self._about(opened.folder, uid, original), "for": "forward"})
        lines = [
            _("-------- Message transféré --------"),
            _("De : %(value)s", value=", ".join(str(a) for a in original.from_)),
            _("Date : %(value)s", value=self._date(original)),
            _("Objet : %(value)s", value=original.subject),
            _("À : %(value)s", value=", ".join(str(a) for a in original.to)),
        ]
        return compose.forward(original, raw, as_attachment=as_attachment, header="\n".join(lines))

    def open_draft(self, mailbox: Mailbox, uid: int) -> Draft:
        """A draft saved earlier, back in the editor (LookupError when it is no longer there)."""
        folder = self._drafts(mailbox)
        detail = {"folder": folder, "uid": uid}
        raw = self._call(mailbox, "mail.draft", detail, self.store.raw_message, mailbox.address, folder, uid)
        self._audit(mailbox, "mail.draft", SUCCESS, {**detail, "operation": "open"})
        return compose.draft_of(raw)

    def patients(self, text: str) -> list[PatientIdentity]:
        """The usagers the acting user may write about whose name or INS matches `text`."""
        return patients.search(self.db, self.actor, text) if text.strip() else []

    def patient(self, ins: str) -> PatientIdentity | None:
        """The usager with this INS if the acting user may write about them."""
        return patients.get(self.db, self.actor, ins)

    def patient_document(
        self, mailbox: Mailbox, ins: str, type_code: str, title: str, pdf: Part
    ) -> tuple[Draft, int | None]:
        """A new draft of `mailbox` carrying a usager's PDF as MSSanté expects it: the PDF and its IHE_XDM.ZIP
        (METADATA.XML naming the INS, the title and the type), under the conventional subject; the user adds
        the recipients in the editor. DocumentRefused says why not."""
        patient = self.patient(ins)
        if patient is None or not patient.qualified:
            raise DocumentRefused(_("Seul un usager dont l'INS est qualifiée peut être nommé dans un document envoyé."))
        if not pdf.data.startswith(b"%PDF-"):
            raise DocumentRefused(_("Le fichier « %(name)s » n'est pas un PDF.", name=pdf.filename))
        document = xdm.Document(
            title=title.strip() or xdm.DOCUMENT_TYPES[type_code], type_code=type_code,
            type_label=xdm.DOCUMENT_TYPES[type_code], content=pdf.data,
        )  # fmt: skip
        author = xdm.Author(
            family_name=self.actor.last_name, given_name=self.actor.first_name, national_id=self.actor.national_id,
            institution=mailbox.establishment.name, finess=mailbox.establishment.finess,
        )  # fmt: skip
        package = Part(xdm.FILENAME, "application/zip", xdm.build_package([document], patient, author))
        draft = Draft(subject=xdm.subject([document.title], patient), attachments=(package, pdf))
        return self.save_draft(mailbox, draft)

    def save_draft(self, mailbox: Mailbox, draft: Draft, replaces: Saved | None = None) -> tuple[Draft, int | None]:
        """Store the draft in the mailbox's Drafts in place of its previous version (maybe in another mailbox,
        when the user changed the sender); the draft (with its Message-ID) and its UID."""
        draft = replace(draft, message_id=draft.message_id or compose.new_message_id(mailbox.address))
        raw = compose.wire(self._build(mailbox, draft))
        folder = self._drafts(mailbox)
        detail = {"folder": folder, "message_id": draft.message_id, "operation": "save"}
        uid = self._call(mailbox, "mail.draft", detail, self.store.append, mailbox.address, folder, raw, [DRAFT, SEEN])
        if replaces is not None and (replaces.mailbox.id, replaces.uid) != (mailbox.id, uid):
            old = replaces.mailbox
            self._call(old, "mail.draft", detail, self.store.discard, old.address, self._drafts(old), [replaces.uid])
        self._audit(mailbox, "mail.draft", SUCCESS, {**detail, "uid": uid})
        return draft, uid

    def send(self, mailbox: Mailbox, draft: Draft, replaces: Saved | None = None) -> str:
        """Send the draft from the mailbox, keep a copy in Sent; its Message-ID. NotSent keeps it in Drafts."""
        draft, draft_uid = self.save_draft(mailbox, draft, replaces)  # first: whatever happens, nothing typed is lost
        detail = {"message_id": draft.message_id, "recipients": len(draft.recipients)}
        raw = compose.wire(self._build(mailbox, draft))
        refused = self.refused_recipients(draft)
        if not draft.recipients or refused or len(raw) > self.settings.mail_max_message_bytes:
            reason = (
                _("Indiquez au moins un destinataire.") if not draft.recipients
                else _("Certains destinataires ne peuvent pas recevoir ce message.") if refused
                else _("Le message pèse %(size)s, au-delà de la limite de %(limit)s de l'opérateur : retirez une pièce "
                       "jointe.", size=file_size(len(raw)), limit=file_size(self.settings.mail_max_message_bytes))
            )  # fmt: skip
            self._audit(mailbox, "mail.send", FAILURE, {**detail, "refused": len(refused), "size": len(raw)})
            raise NotSent(reason, draft_uid, refused)
        try:
            dsn = transmit(self.settings, mailbox.address, raw, recipients=draft.recipients, notify=NOTIFY,
                           envelope_id=draft.message_id)  # fmt: skip
        except SendFailed as error:
            # The server's words may quote recipients' addresses (patients'): they go to the user, not the log.
            self._audit(mailbox, "mail.send", FAILURE, {**detail, "error": "SendFailed"})
            raise NotSent(_("Le serveur d'envoi n'a pas accepté le message : %(why)s", why=str(error)), draft_uid) from error
        receipts.record_sent(self.db, mailbox, draft.message_id, draft.recipients, dsn, draft.read_receipt, self.actor)
        self._file_sent(mailbox, raw, draft_uid, detail)
        self._audit(mailbox, "mail.send", SUCCESS, {**detail, "dsn": dsn, "mdn": draft.read_receipt})
        return draft.message_id

    def refused_recipients(self, draft: Draft) -> dict[str, str]:
        """Each recipient the message may not go to, with the reason shown to the user."""
        refused = {}
        for address in draft.recipients:
            if not is_trusted(address):
                refused[address] = _("adresse hors de l'espace de confiance MSSanté")
            elif compose.is_patient_address(address):
                patient = self.patient(address.rpartition("@")[0])
                if patient is None or not patient.qualified:
                    refused[address] = _("aucun usager de vos établissements n'a cette INS qualifiée")
        return refused

    def _build(self, mailbox: Mailbox, draft: Draft):
        sender = Sender(mailbox.address, mailbox.display_name)
        return compose.build(draft, sender, product_reference=self.settings.mss_nil)

    def _file_sent(self, mailbox: Mailbox, raw: bytes, draft_uid: int | None, detail: dict) -> None:
        """The sent copy in Sent, and the draft gone; the message has left whatever happens here."""
        try:
            self.store.append(mailbox.address, self._special(mailbox, "\\Sent", "Sent"), raw, [SEEN])
            if draft_uid is not None:
                self.store.discard(mailbox.address, self._drafts(mailbox), [draft_uid])
        except (MailError, OSError) as error:
            self._audit(mailbox, "mail.file_sent", FAILURE, {**detail, "error": type(error).__name__})

    def _drafts(self, mailbox: Mailbox) -> str:
        return self._special(mailbox, "\\Drafts", "Drafts")

    def _special(self, mailbox: Mailbox, use: str, default: str) -> str:
        folder = self._call(mailbox, "mail.open", {"special_use": use}, self.store.special_folder, mailbox.address, use)
        return folder.name if folder else default

    @staticmethod
    def _date(message: Message) -> str:
        return format_datetime(message.date, "EEEE d MMMM yyyy, HH:mm") if message.date else "?"
    def _asks_read_receipt(self, opened: Opened, uid: int, message: Message) -> bool:
        if not message.disposition_notification_to or opened.current.special_use in OWN_FOLDERS:
            return False
        if any(address.email.lower() == opened.mailbox.address for address in message.from_):
            return False
        flags = self._call(
            opened.mailbox, "mail.read", {"uid": uid}, self.store.flags, opened.mailbox.address, opened.folder, uid
        )
        return MDN_SENT.decode() not in flags

    def _sync_reports(self, mailbox: Mailbox) -> None:
        try:
            receipts.sync_reports(self.db, self.store, mailbox)
        except (MailError, IMAPClient.Error, OSError):
            # The reports wait for the next listing; the list itself must not fail for them.
            self.db.rollback()

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
