"""Parse a raw message into an immutable view: headers, best body, attachments, reports, XDM.

Mail comes from strangers and from broken software, so nothing here raises on bad input:
what cannot be read is replaced by a marker or left out, and recorded in `defects`.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.policy
import email.utils
import mimetypes
import quopri
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message as EmailPart

from mail import reports, xdm

XDM_SUBJECT_PREFIX = "XDM/1.0/DDM+"
UNREADABLE = "[Partie du message illisible]"
MAX_DEPTH = 25  # multipart and attached-message levels together: a guard against crafted nesting
RASTER_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Python codecs that are not mail charsets: a charset= parameter must never select them.
NOT_CHARSETS = frozenset({"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "mbcs", "oem"})


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str  # sanitised: no path, no control or bidi characters
    content_type: str
    size: int
    content_id: str | None  # without angle brackets, for cid: references
    inline: bool
    data: bytes

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf" or self.filename.lower().endswith(".pdf")

    def __repr__(self) -> str:
        return f"Attachment({self.filename!r}, {self.content_type!r}, {self.size} bytes)"


@dataclass(frozen=True, slots=True)
class Message:
    subject: str  # RFC 2047 decoded, MSSanté XDM prefix hidden
    xdm_subject: bool  # the subject carried the XDM/1.0/DDM+ prefix
    from_: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    disposition_notification_to: tuple[Address, ...]
    html: str | None  # preferred for display
    text: str | None  # plain alternative; "" when the message has no readable body at all
    attachments: tuple[Attachment, ...]  # PDF first
    attached_messages: tuple[Message, ...]  # message/rfc822 parts, parsed
    delivery_report: reports.DeliveryReport | None
    read_receipt: reports.ReadReceipt | None
    xdm: xdm.XdmPackage | None
    defects: tuple[str, ...]

    def attachment_by_cid(self, content_id: str) -> Attachment | None:
        wanted = content_id.strip().strip("<>")
        return next((a for a in self.attachments if a.content_id == wanted), None)


def parse_message(raw: bytes) -> Message:
    # A byte-order mark would glue itself to the first header name and hide every header.
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        part = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:  # the parser is lenient, but a bug on hostile input must not become a 500
        return _unreadable("MessageParseError")
    try:
        return _view(part, depth=0)
    except RecursionError:
        return _unreadable("NestingTooDeep")


def _unreadable(defect: str) -> Message:
    return Message(
        subject="",
        xdm_subject=False,
        from_=(),
        to=(),
        cc=(),
        reply_to=(),
        date=None,
        message_id=None,
        in_reply_to=None,
        references=(),
        disposition_notification_to=(),
        html=None,
        text=UNREADABLE,
        attachments=(),
        attached_messages=(),
        delivery_report=None,
        read_receipt=None,
        xdm=None,
        defects=(defect,),
    )


# --- text decoding -----------------------------------------------------------------------


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        info = codecs.lookup(charset.strip().strip('"'))
    except (LookupError, ValueError):
        return None
    return (
        None
        if info.name.replace("-", "_") in NOT_CHARSETS or not getattr(info, "_is_text_encoding", True)
        else info.name
    )


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """(text, charset_trusted). Mislabelled or unlabelled 8-bit text is usually UTF-8, else windows-1252."""
    codec = _codec(charset)
    if codec and codec not in ("ascii", "utf-8"):
        try:
            return data.decode(codec), True
        except UnicodeDecodeError:
            return data.decode(codec, "replace"), False
        except Exception:  # a few CJK codecs raise other errors on garbage
            pass
    try:
        return data.decode("utf-8"), codec is not None or data.isascii()
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace"), False


def _repair_8bit(value: str) -> str:
    """Raw 8-bit header bytes reach us as surrogate escapes: decode them as UTF-8, else windows-1252."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"), None)[0]


def _printable(value: str) -> str:
    """One display line: folding undone, control and bidi-override characters removed."""
    text = " ".join(value.split())
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))


# --- headers -----------------------------------------------------------------------------


def _raw(part: EmailPart, name: str) -> str | None:
    return next((value for key, value in part.raw_items() if key.lower() == name), None)


def _text_header(part: EmailPart, name: str) -> str | None:
    raw = _raw(part, name)
    if raw is None:
        return None
    try:
        if raw.isascii():
            return _printable(str(part[name]))
    except Exception:  # policy.default has bugs on some malformed headers: decode by hand below
        pass
    try:
        return _printable(str(make_header(decode_header(_repair_8bit(raw)))))
    except Exception:  # unknown charset or broken encoded word in the header
        return _printable(_repair_8bit(raw))


def _addresses(part: EmailPart, name: str) -> tuple[Address, ...]:
    raw = _raw(part, name)
    if raw is None:
        return ()
    try:
        found = [(a.display_name, a.addr_spec) for group in part[name].groups for a in group.addresses]
    except Exception:
        found = email.utils.getaddresses([_text_header(part, name) or ""])
    return tuple(
        Address(_printable(_repair_8bit(display)), _printable(_repair_8bit(spec)))
        for display, spec in found
        if display or spec
    )


def _ids(value: str | None) -> tuple[str, ...]:
    """Message identifiers of Message-ID, In-Reply-To, References; bare ids (no <>) are tolerated."""
    return tuple(token for token in (value or "").replace(",", " ").split() if token.startswith("<") or "@" in token)


def _date(part: EmailPart) -> datetime | None:
    raw = _raw(part, "date")
    try:
        return email.utils.parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _subject(part: EmailPart) -> tuple[str, bool]:
    subject = _text_header(part, "subject") or ""
    if subject.startswith(XDM_SUBJECT_PREFIX):
        return subject[len(XDM_SUBJECT_PREFIX) :].strip(), True
    return subject, False


# --- parts -------------------------------------------------------------------------------


def attachment_filename(part: EmailPart, content_type: str) -> str:
    """The part's file name, made safe to show and to save: no path, no control or bidi characters."""
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    if "=?" in name:  # RFC 2047 inside a parameter: not standard, but what Outlook sends
        try:
            name = str(make_header(decode_header(name)))
        except Exception:
            pass
    name = _printable(_repair_8bit(name)).replace("\\", "/").rsplit("/", 1)[-1].strip(" .")
    if not name:
        name = "piece-jointe" + (mimetypes.guess_extension(content_type) or ".bin")
    return name[:200]


def _payload(part: EmailPart) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    return data if isinstance(data, bytes) else b""


def _field_blocks(part: EmailPart) -> list[reports.Fields]:
    """Header-like blocks of a report part, whether the parser split them or left them as text."""
    payload = part.get_payload()
    encoding = (part.get("content-transfer-encoding") or "").strip().lower()
    if isinstance(payload, list) and encoding not in ("base64", "quoted-printable"):
        return [[(key, _repair_8bit(value)) for key, value in block.raw_items()] for block in payload]
    if isinstance(payload, list):
        # The parser read encoded text as if it were fields: join it back and decode it ourselves.
        encoded = "".join(block.as_string(policy=email.policy.compat32) for block in payload).encode("ascii", "replace")
        try:
            data = binascii.a2b_base64(encoded) if encoding == "base64" else quopri.decodestring(encoded)
        except binascii.Error:
            data = b""
    else:
        data = _payload(part)
    text = decode_bytes(data, part.get_content_charset())[0]
    blocks = []
    for chunk in text.replace("\r\n", "\n").split("\n\n"):
        if chunk.strip():
            block = email.message_from_string(chunk.strip("\n") + "\n\n", policy=email.policy.compat32)
            blocks.append(list(block.items()))
    return blocks


class _Walk:
    """Collects body, attachments and reports while descending the MIME tree once."""

    def __init__(self, root: EmailPart | None = None) -> None:
        self.root = root  # the message's own top part: its text is the body whatever its headers say
        self.html: str | None = None
        self.text: str | None = None
        self.attachments: list[Attachment] = []
        self.messages: list[Message] = []
        self.delivery_report: reports.DeliveryReport | None = None
        self.read_receipt: reports.ReadReceipt | None = None
        self.defects: list[str] = []

    @property
    def has_body(self) -> bool:
        return self.html is not None or self.text is not None

    def part(self, part: EmailPart, depth: int) -> None:
        try:
            self.read(part, depth)
        finally:  # after reading: decoding a payload adds its own defects (bad base64...)
            self.defects.extend(type(defect).__name__ for defect in part.defects)

    def read(self, part: EmailPart, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.defects.append("NestingTooDeep")
            return
        content_type = part.get_content_type()
        try:
            if content_type in ("message/delivery-status", "message/global-delivery-status"):
                self.delivery_report = self.delivery_report or reports.delivery_report(_field_blocks(part))
            elif content_type == "message/disposition-notification":
                self.read_receipt = self.read_receipt or reports.read_receipt(sum(_field_blocks(part), []))
            elif part.is_multipart() and content_type.startswith("multipart/"):
                self.multipart(part, content_type, depth)
            elif part.is_multipart():  # message/rfc822 and other message/* holding a message
                self.messages.extend(_view(inner, depth + 1) for inner in part.get_payload())
            else:
                self.leaf(part, content_type, depth)
        except RecursionError:
            raise
        except Exception as error:  # keep what was read so far; mark the rest
            self.defects.append(f"UnreadablePart:{type(error).__name__}")
            if not self.has_body:
                self.text = UNREADABLE

    def multipart(self, part: EmailPart, content_type: str, depth: int) -> None:
        children = part.get_payload()
        if content_type == "multipart/alternative":
            # Each alternative is read on its own; the last HTML one and the first plain one win.
            walks = []
            for child in children:
                walk = _Walk()
                walk.part(child, depth + 1)
                walks.append(walk)
            if not self.has_body:
                self.html = next((w.html for w in reversed(walks) if w.html is not None), None)
                self.text = next((w.text for w in walks if w.text is not None), None)
            for walk in walks:
                self.absorb(walk)
        elif content_type == "multipart/related":
            start = part.get_param("start")
            start = start.strip("<>") if isinstance(start, str) else None
            root = next((c for c in children if start and (c.get("content-id") or "").strip("<> ") == start), None)
            root = root or (children[0] if children else None)
            for child in children:
                if child is root:
                    self.part(child, depth + 1)
                else:
                    self.leaf(child, child.get_content_type(), depth + 1, resource=True)
        else:  # mixed, report, signed, digest, and unknown subtypes, which RFC 2046 reads as mixed
            for child in children:
                self.part(child, depth + 1)

    def absorb(self, walk: _Walk) -> None:
        self.attachments.extend(walk.attachments)
        self.messages.extend(walk.messages)
        self.delivery_report = self.delivery_report or walk.delivery_report
        self.read_receipt = self.read_receipt or walk.read_receipt
        self.defects.extend(walk.defects)

    def leaf(self, part: EmailPart, content_type: str, depth: int, resource: bool = False) -> None:
        if resource and part.is_multipart():
            self.part(part, depth)
            return
        if content_type.startswith("multipart/"):
            content_type = "text/plain"  # a multipart the parser could not split: show its raw text
        disposition = part.get_content_disposition()
        is_body = (
            content_type in ("text/plain", "text/html")
            and not resource
            and (
                part is self.root
                or (disposition != "attachment" and not part.get_param("filename", header="content-disposition"))
            )
        )
        if is_body and not self.has_body:
            text, trusted = decode_bytes(_payload(part), part.get_content_charset())
            if not trusted:
                self.defects.append("CharsetGuessed")
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if content_type == "text/html":
                self.html = text
            else:
                self.text = text
            return
        data = _payload(part)
        content_id = (part.get("content-id") or "").strip().strip("<>").strip() or None
        self.attachments.append(
            Attachment(
                filename=attachment_filename(part, content_type),
                content_type=content_type,
                size=len(data),
                content_id=content_id,
                inline=disposition != "attachment" and (resource or content_id is not None),
                data=data,
            )
        )


def _view(part: EmailPart, depth: int) -> Message:
    walk = _Walk(root=part)
    walk.part(part, depth)
    if not walk.has_body:
        walk.text = ""
    package = None
    for attachment in walk.attachments:
        if attachment.filename.upper() == xdm.FILENAME:
            package = xdm.read_package(attachment.data)
            if package is None:
                walk.defects.append("XdmUnreadable")
            break
    subject, xdm_subject = _subject(part)
    return Message(
        subject=subject,
        xdm_subject=xdm_subject,
        from_=_addresses(part, "from"),
        to=_addresses(part, "to"),
        cc=_addresses(part, "cc"),
        reply_to=_addresses(part, "reply-to"),
        date=_date(part),
        message_id=next(iter(_ids(_text_header(part, "message-id"))), None),
        in_reply_to=next(iter(_ids(_text_header(part, "in-reply-to"))), None),
        references=_ids(_text_header(part, "references")),
        disposition_notification_to=_addresses(part, "disposition-notification-to"),
        html=walk.html,
        text=walk.text,
        attachments=tuple(sorted(walk.attachments, key=lambda a: not a.is_pdf)),
        attached_messages=tuple(walk.messages),
        delivery_report=walk.delivery_report,
        read_receipt=walk.read_receipt,
        xdm=package,
        defects=tuple(dict.fromkeys(walk.defects)),
    )
