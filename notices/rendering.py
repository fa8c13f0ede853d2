"""A notice as HTML, plain text and e-mail: pure functions of a NoticeContent, with no Flask and no database.

The caller (the reception pages, the outbox worker, the public page of a link) gathers what a
notice says into a NoticeContent:

- `sender`: the establishment (name, FINESS, address, contact);
- `recipient`: the addressee (name; the postal address is needed by letters only);
- `variant`: one of notices.plan.VARIANTS; `may_oppose`: the plan's answer for this addressee
  (False for a curator's copy, whose text then says that the usager acts alone);
- `usager_name`: the usager, named in the representatives' and parents' variants;
- `body`: the template of the NoticeText version used (notices.templating);
- `link`: the addressee's own opposition URL, in full; `reference`: the notice's short reference,
  printed for the proof; `issued_on`: the date shown.

render_html(content) gives the body as safe HTML (preview, public page); render_text(content) the
same as plain text; render_html_document(content) the HTML of an e-mail; render_email(...) a
multipart/alternative message ready for the outbox (which adds Date and the operator's headers);
render_mssante_message(...) the same message for Mon espace santé messaging. notices.letters
gives the PDF letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from email.headerregistry import Address
from email.message import EmailMessage

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from notices import templating
from notices.plan import VARIANTS
from portal import ins
from portal.settings import ROOT

# No health detail, no name, no establishment type (an addiction centre's name would say too
# much), the same for every variant: whoever sees the subject line in an inbox learns nothing.
EMAIL_SUBJECT = "Information de votre établissement : vos droits sur les documents de santé"
# The subject printed in the letter, inside the envelope, where naming the usager is useful.
LETTER_SUBJECTS = {
    "usager": "Information sur vos documents de santé et votre Dossier Médical Partagé",
    "facile_a_lire": "Vos documents de santé",
    "representant": "Information sur les documents de santé de {usager} et son Dossier Médical Partagé",
    "parents": "Information sur les documents de santé de votre enfant, {usager}",
}
MSSANTE_CITIZEN_DOMAIN = "patient.mssante.fr"
FRENCH_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip

templates = Environment(
    loader=FileSystemLoader(ROOT / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Sender:
    name: str
    finess: str
    address_lines: tuple[str, ...] = ()
    postal_code: str = ""
    city: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Recipient:
    name: str
    address_lines: tuple[str, ...] = ()
    postal_code: str = ""
    city: str = ""

    @property
    def postal_lines(self) -> tuple[str, ...]:
        """The address block of a French letter: name, street lines, postal code and city in capitals."""
        town = f"{self.postal_code} {self.city.upper()}".strip()
        return tuple(line for line in (self.name, *self.address_lines, town) if line)


@dataclass(frozen=True)
class NoticeContent:
    sender: Sender
    recipient: Recipient
    variant: str
    usager_name: str
    body: str
    link: str
    reference: str
    issued_on: date
    may_oppose: bool = True

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown notice variant {self.variant!r}")
        if not self.link.startswith(("https://", "http://")):  # http: the demo on loopback only
            raise ValueError("the opposition link must be a full URL")

    @property
    def values(self) -> templating.Values:
        return templating.Values(
            etablissement=self.sender.name,
            usager=self.usager_name,
            lien=self.link,
            telephone=self.sender.phone,
            courriel=self.sender.email,
            peut_agir=self.may_oppose,
        )

    @property
    def markdown(self) -> str:
        return templating.render(self.body, self.values)

    @property
    def letter_subject(self) -> str:
        return LETTER_SUBJECTS[self.variant].format(usager=self.usager_name)

    @property
    def short_link(self) -> str:
        """The link as printed for typing: without its scheme."""
        return self.link.split("://", 1)[1]


def render_html(content: NoticeContent) -> Markup:
    return templating.to_html(content.markdown)


def render_text(content: NoticeContent) -> str:
    return templating.to_text(content.markdown)


def render_email(
    content: NoticeContent,
    *,
    from_addr: str | Address,
    to_addr: str | Address,
    message_id: str,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> EmailMessage:
    """A multipart/alternative message, text then HTML, UTF-8, with no remote content."""
    message = EmailMessage()
    message["From"] = from_addr
    message["To"] = to_addr
    message["Subject"] = EMAIL_SUBJECT
    message["Message-ID"] = message_id
    for name, value in extra_headers:
        message[name] = value
    message.set_content(render_text(content) + _text_signature(content), subtype="plain", charset="utf-8")
    message.add_alternative(render_html_document(content), subtype="html", charset="utf-8")
    return message


def render_html_document(content: NoticeContent) -> str:
    """The whole HTML document of the e-mail: the text, then the establishment's signature and the reference."""
    return templates.get_template("notices/documents/email.html").render(
        content=content, body=render_html(content), subject=EMAIL_SUBJECT, formatted_date=french_date(content.issued_on)
    )


def render_mssante_message(
    content: NoticeContent, *, from_addr: str | Address, ins_matricule: str, message_id: str, nil: str
):
    """The notice to the usager's Mon espace santé messaging, closed to replies (X-MSS-MES: FIN).

    The address is built from the INS matricule, which the caller gives only for a qualified identity;
    `nil` is the product's reference (X-MSS-NIL), which MSSanté asks of every message.
    """
    matricule, _kind = ins.validate(ins_matricule)
    return render_email(
        content,
        from_addr=from_addr,
        to_addr=f"{matricule}@{MSSANTE_CITIZEN_DOMAIN}",
        message_id=message_id,
        extra_headers=(("X-MSS-NIL", nil), ("X-MSS-MES", "FIN")),
    )


def french_date(day: date) -> str:
    """14 mars 2025: written out, as letters are, whatever the locale of the machine."""
    return f"{day.day if day.day != 1 else '1er'} {FRENCH_MONTHS[day.month - 1]} {day.year}"


def _text_signature(content: NoticeContent) -> str:
    sender = content.sender
    lines = [
        sender.name,
        *sender.address_lines,
        f"{sender.postal_code} {sender.city}".strip(),
        f"Téléphone : {sender.phone}" if sender.phone else "",
        f"E-mail : {sender.email}" if sender.email else "",
    ]
    signature = "\n".join(line for line in lines if line)
    reference = f"Référence de cette information : {content.reference} ({french_date(content.issued_on)})"
    return f"\n-- \n{signature}\n\n{reference}\n"
