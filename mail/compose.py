"""Outgoing messages from what the user wrote: MSSanté headers, threading, quoting, forwarding (no Flask, no I/O).

What the MSSanté client reference (Référentiel socle MSSanté #2) asks of a sent message is noted in the
README ("Writing mail"); this module is where each rule is applied.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from html.parser import HTMLParser

from mail.mime import Message, attachment_filename
from mail.sanitize import editable, render_html
from portal.patients import PATIENT_DOMAIN

NIL_HEADER = "X-MSS-NIL"  # the product's reference, on every message (ECO.2.4.3)
MES_HEADER = "X-MSS-MES"  # "FIN": the patient may not answer (ECO.2.2.8)
FORWARDED_TYPE = "message/rfc822"
# Wire form for both SMTP and IMAP APPEND: CRLF line ends. Headers are folded only beyond RFC 5322's
# hard limit (998): folding at 78 columns makes Python put a long Subject on a continuation line, and
# receivers that test the subject for the "XDM/1.0/DDM+" prefix without unfolding it would miss it.
WIRE = email.policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class Part:
    """A file the message carries: uploaded, kept from a draft, or taken from a forwarded message."""

    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:  # never the content in a log or a traceback
        return f"Part({self.filename!r}, {self.content_type!r}, {self.size} bytes)"


@dataclass(frozen=True)
class Draft:
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    html: bool = False  # the body is HTML (the simple HTML mode), sanitised before it leaves
    attachments: tuple[Part, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    read_receipt: bool = False  # ask for an MDN (Disposition-Notification-To, RFC 8098)
    closed_to_replies: bool = False  # X-MSS-MES: FIN when a patient is among the recipients
    message_id: str | None = field(default=None, compare=False)  # kept across saves of the same draft

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.to + self.cc))

    @property
    def has_patient(self) -> bool:
        return any(is_patient_address(address) for address in self.recipients)


@dataclass(frozen=True)
class Sender:
    address: str
    display_name: str  # the mailbox's name, shown to the recipients (ECO.2.2.7: a meaningful label)


def addresses(text: str) -> tuple[str, ...]:
    """The addresses of a To or Cc field as typed ("Nom <a@b>, c@d" or one per chip), in order, once each."""
    found = (address.strip() for _name, address in getaddresses([text.replace(";", ",")]))
    return tuple(dict.fromkeys(address for address in found if address))


def is_patient_address(address: str) -> bool:
    return address.lower().rpartition("@")[2] == PATIENT_DOMAIN


def build(
    draft: Draft,
    sender: Sender,
    *,
    product_reference: str,
    message_id: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The message as it will be sent (and stored in Sent or Drafts), UTF-8 throughout."""
    message = EmailMessage()
    message["From"] = Address(sender.display_name, addr_spec=sender.address)
    if draft.to:
        message["To"] = ", ".join(draft.to)
    if draft.cc:
        message["Cc"] = ", ".join(draft.cc)
    message["Subject"] = draft.subject
    message["Date"] = format_datetime((date or datetime.now()).astimezone())
    message["Message-ID"] = message_id or draft.message_id or new_message_id(sender.address)
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        message["References"] = " ".join(draft.references)
    message[NIL_HEADER] = product_reference
    if draft.closed_to_replies and draft.has_patient:
        message[MES_HEADER] = "FIN"
    if draft.read_receipt:
        message["Disposition-Notification-To"] = sender.address
    body = _lines(draft.body)
    if draft.html:
        fragment = render_html(body)
        message.set_content(html_text(fragment), charset="utf-8", cte="quoted-printable")
        message.add_alternative(fragment, subtype="html", charset="utf-8", cte="quoted-printable")
    else:
        message.set_content(body, charset="utf-8", cte="quoted-printable")
    for part in draft.attachments:
        if part.content_type == FORWARDED_TYPE:
            inner = email.message_from_bytes(part.data, policy=email.policy.default)
            message.add_attachment(inner, filename=part.filename)
        else:
            maintype, _, subtype = part.content_type.partition("/")
            message.add_attachment(part.data, maintype=maintype, subtype=subtype or "octet-stream", filename=part.filename)
    return message


def new_message_id(sender_address: str) -> str:
    return make_msgid(domain=sender_address.rpartition("@")[2])


def wire(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=WIRE)


# Reopening a draft


def draft_of(raw: bytes) -> Draft:
    """A saved draft back as the editor shows it: the plain text body and every file it carries."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(("html", "plain"))  # a draft written in HTML mode reopens in HTML mode
    html = body is not None and body.get_content_type() == "text/html"
    text = body.get_content() if body is not None else ""
    in_reply_to = (message["In-Reply-To"] or "").strip() or None
    return Draft(
        to=addresses(str(message["To"] or "")),
        cc=addresses(str(message["Cc"] or "")),
        subject=str(message["Subject"] or "").strip(),  # a folded Subject: starts with the folding space
        body=_lines(editable(text) if html else text),
        html=html,
        attachments=carried(raw),
        in_reply_to=in_reply_to,
        references=tuple(str(message["References"] or "").split()),
        read_receipt=message["Disposition-Notification-To"] is not None,
        closed_to_replies=(message[MES_HEADER] or "").strip().upper() == "FIN",
        message_id=(message["Message-ID"] or "").strip() or None,
    )


def carried(raw: bytes) -> tuple[Part, ...]:
    """The files of a message, exact bytes; an attached message stays a whole message (message/rfc822)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = []
    for part in message.iter_attachments():
        content_type = part.get_content_type()
        if content_type == FORWARDED_TYPE and part.is_multipart():
            data = part.get_payload(0).as_bytes(policy=WIRE)
        else:
            data = part.get_payload(decode=True) or b""
        parts.append(Part(attachment_filename(part, content_type), content_type, data))
    return tuple(parts)


# Replying and forwarding


def reply(original: Message, own_address: str, *, everyone: bool, attribution: str) -> Draft:
    """A reply quoting the original (RFC 5322 § 3.6.4 threading); `everyone` adds the other recipients in Cc."""
    to = tuple(a.email for a in (original.reply_to or original.from_) if a.email)
    cc: tuple[str, ...] = ()
    if everyone:
        others = (a.email for a in original.to + original.cc if a.email)
        skip = {own_address.lower(), *(address.lower() for address in to)}
        cc = tuple(dict.fromkeys(address for address in others if address.lower() not in skip))
    references = original.references or ((original.in_reply_to,) if original.in_reply_to else ())
    if original.message_id:
        references += (original.message_id,)
    return Draft(
        to=to,
        cc=cc,
        subject=_prefixed("Re: ", original.subject),
        body=f"\n\n{attribution}\n{quote(readable_text(original))}",
        in_reply_to=original.message_id,
        references=references,
    )


def forward(original: Message, raw: bytes, *, as_attachment: bool, header: str) -> Draft:
    """Forwarded inline (quoted text under `header`, with the original's files) or as an attached message."""
    subject = _prefixed("Fwd: ", original.subject)
    if as_attachment:
        name = f"{original.subject or 'message'}.eml"
        return Draft(subject=subject, attachments=(Part(name, FORWARDED_TYPE, raw),))
    return Draft(subject=subject, body=f"\n\n{header}\n\n{readable_text(original)}", attachments=carried(raw))


def quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.rstrip("\n").split("\n"))


def readable_text(message: Message) -> str:
    """The message's plain text, or the text of its HTML when it has only that."""
    if message.text:
        return message.text
    return html_text(message.html) if message.html else ""


def _lines(text: str) -> str:
    # Browsers send a textarea with CRLF, and decoded wire text keeps them: one convention inside.
    return text.replace("\r\n", "\n")


def _prefixed(prefix: str, subject: str) -> str:
    return subject if subject.lower().startswith(prefix.lower()) else f"{prefix}{subject}"


class _Text(HTMLParser):
    BREAKS = frozenset("br p div li tr h1 h2 h3 h4 h5 h6 blockquote pre table ul ol".split())
    SKIPPED = frozenset({"style", "script", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BREAKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BREAKS:
            self.chunks.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.chunks.append(data)


def html_text(html: str) -> str:
    """Readable plain text of HTML (the text alternative of an HTML message, the quote of an HTML-only one)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.chunks).split("\n"))
    text, blank = [], False
    for line in lines:
        if line or not blank:
            text.append(line)
        blank = not line
    return "\n".join(text).strip()
