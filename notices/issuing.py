"""Issuing DMP information notices to the addressees of a usager's plan: prepare, send, print, hand over.

A notice is prepared and committed with its exact content (PDF letter or e-mail message) before
anything leaves the portal; sending then changes its status. A retry sends the same bytes, with
the same Message-ID: the receiving server sees one message, however many times it was tried.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from notices import letters, links, proof, rendering, service, texts
from notices.models import (
    EML,
    GIVEN_STATUSES,
    PDF,
    Notice,
    NoticeStatus,
    OppositionLink,
    OutboxItem,
    Representative,
    Usager,
)
from notices.plan import Addressee
from portal.access import PermissionDenied
from portal.audit.service import FAILURE, SUCCESS, record
from portal.database import utcnow
from portal.models import User
from portal.settings import Settings
from portal.smtp import Connection, SendFailed, operator_server

# The channels whose notices leave through the operator's SMTP server.
SENT_BY_SMTP = frozenset({"email", "mssante"})
# The statuses a staff member sets by hand, and the channel each belongs to.
MANUAL_STATUSES = {NoticeStatus.PRINTED: "courrier", NoticeStatus.HANDED_OVER: "remise_en_main_propre"}
_REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L: read aloud on the phone


class NotAllowed(Exception):
    """A choice the plan does not allow (or no choice at all); nothing was issued."""


@dataclass(frozen=True)
class Choice:
    """One notice to issue: to the usager (representative_id None) or a representative, by one channel."""

    representative_id: int | None
    channel: str

    @property
    def form_value(self) -> str:
        """How a form names it: "usager:email", "<representative id>:courrier"."""
        return f"{self.representative_id or 'usager'}:{self.channel}"


@dataclass(frozen=True)
class AddresseeStatus:
    """One addressee of the plan and the notices given to them in the current follow-up."""

    addressee: Addressee
    representative: Representative | None
    given: list[Notice]

    @property
    def informed(self) -> bool:
        return bool(self.given)


def plan_choices(usager: Usager, plan: list[Addressee]) -> dict[Choice, Addressee]:
    """Every (addressee, channel) the plan allows, with its addressee."""
    allowed = {}
    for addressee in plan:
        representative_id = usager.representatives[addressee.index].id if addressee.who == "representative" else None
        for channel in addressee.channels:
            allowed[Choice(representative_id, channel)] = addressee
    return allowed


def issue(
    db: Session, actor: User, usager: Usager, choices: list[Choice], *, base_url: str, settings: Settings
) -> list[Notice]:
    """Prepare one notice per choice and commit them; e-mails are then sent by send_email()."""
    if not service.may_edit(actor, usager):
        raise PermissionDenied("notices.issue")
    allowed = plan_choices(usager, service.plan_for(usager))
    if not choices or any(choice not in allowed for choice in choices):
        raise NotAllowed()
    notices = [
        prepare(db, actor, usager, choice, allowed[choice], base_url=base_url, settings=settings)
        for choice in dict.fromkeys(choices)
    ]
    db.commit()
    return notices


def send_email(db: Session, notice: Notice, settings: Settings) -> None:
    """Send a prepared (or failed) e-mail or MSSanté notice; its status says how it went. Committed.

    The notice's row stays locked from the status check to the commit (PostgreSQL): a second
    sender (a double click on "Renvoyer", `portal notices send-pending`) waits, then finds it sent.
    """
    if notice.channel not in SENT_BY_SMTP:
        return
    db.refresh(notice, with_for_update=True)
    if notice.status not in (NoticeStatus.PREPARED, NoticeStatus.FAILED):
        db.commit()
        return
    try:
        with Sender(settings) as sender:
            sender.transmit(notice)
    except SendFailed as error:
        set_status(db, notice, NoticeStatus.FAILED, failure_reason=str(error))
    else:
        set_status(db, notice, NoticeStatus.SENT)
    prove_status(db, notice)
    db.commit()


class Sender:
    """The notices' way out through the operator's SMTP server: one session for the notices given to it in turn.

    Connected at the first notice (a claim of letters alone never connects); SendFailed says why a
    notice did not leave, the server not configured included.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._connection: Connection | None = None

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._connection is not None:
            self._connection.close()

    def transmit(self, notice: Notice) -> None:
        """Hand the notice's exact bytes to the server."""
        if self._connection is None:
            settings = self.settings
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
            self._connection = Connection(operator_server(settings, username=settings.smtp_username, password=password))
        # A refusal after acceptance comes back as a report naming the notice by its Message-ID (notices.bounces).
        self._connection.send(
            notice.content,
            sender=self.settings.notice_sender,
            recipients=[notice.recipient_address],
            notify=("FAILURE",),
            envelope_id=notice.message_id,
        )


def send_pending(db: Session, settings: Settings) -> list[Notice]:
    """Send the notices still prepared whose request ended before sending them (a crash, a restart).

    Those of a batch are left to its outbox: its worker may be sending them at this moment.
    """
    in_outbox = select(OutboxItem.id).where(OutboxItem.notice_id == Notice.id).exists()
    pending = db.scalars(
        select(Notice)
        .where(Notice.channel.in_(SENT_BY_SMTP), Notice.status == NoticeStatus.PREPARED, ~in_outbox)
        .order_by(Notice.id)
    ).all()
    for notice in pending:
        send_email(db, notice, settings)
    return list(pending)


def retry(db: Session, actor: User, notice: Notice, settings: Settings) -> None:
    if not service.may_edit(actor, notice.usager):
        raise PermissionDenied("notices.retry")
    if notice.status != NoticeStatus.FAILED:
        raise NotAllowed()
    send_email(db, notice, settings)


def mark(db: Session, actor: User, notice: Notice, status: NoticeStatus) -> None:
    """Printed (a letter) or handed over (hand delivery), once, by reception staff."""
    if not service.may_edit(actor, notice.usager):
        raise PermissionDenied("notices.mark")
    if MANUAL_STATUSES.get(status) != notice.channel or notice.status != NoticeStatus.PREPARED:
        raise NotAllowed()
    set_status(db, notice, status, actor=actor)
    proof.append(db, notice.usager.establishment, notice.usager_id, proof.notice_event(notice, "notice_status", actor))
    record(db, "notices.notice_marked", outcome=SUCCESS, actor=actor, target=_target(notice), detail={"status": status})
    db.commit()


def get_notice(db: Session, actor: User, notice_id: int) -> Notice | None:
    """The notice if the actor may issue notices for its usager; None (a 404) otherwise.

    Its content holds the addressee's opposition link: professionals who read the usager's
    record do not get it.
    """
    notice = db.get(Notice, notice_id)
    if notice is None or service.get_usager(db, actor, notice.usager_id) is None:
        return None
    if not service.may_edit(actor, notice.usager):
        raise PermissionDenied("notices.get_notice")
    return notice


def notices_of(db: Session, usager: Usager) -> list[Notice]:
    """The usager's notices, newest first (the caller has loaded the usager through its scoped loader)."""
    return list(db.scalars(select(Notice).where(Notice.usager_id == usager.id).order_by(Notice.id.desc())))


def information_status(usager: Usager, plan: list[Addressee], notices: list[Notice]) -> list[AddresseeStatus]:
    """Each addressee of the plan, with the notices given to them since the admission (the current follow-up)."""
    start = usager.admission_date or date.min
    statuses = []
    for addressee in plan:
        representative = usager.representatives[addressee.index] if addressee.who == "representative" else None
        given = [
            n
            for n in notices
            if n.status in GIVEN_STATUSES
            and n.representative_id == (representative.id if representative else None)
            and _paris_date(n.status_changed_at) >= start
        ]
        statuses.append(AddresseeStatus(addressee, representative, given))
    return statuses


def prepare(
    db: Session, actor: User, usager: Usager, choice: Choice, addressee: Addressee, *, base_url: str, settings: Settings
) -> Notice:
    """Render the notice (its Message-ID fixed for good), its link and its proof record, in the caller's transaction."""
    representative = next((r for r in usager.representatives if r.id == choice.representative_id), None)
    person = representative or usager
    text = texts.version_for_notice(db, usager.establishment_id, addressee.variant)
    token = links.new_token()
    reference = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    content = rendering.NoticeContent(
        sender=texts.sender(usager.establishment),
        recipient=rendering.Recipient(
            name=person.display_name,
            address_lines=tuple(line for line in (person.address_line1, person.address_line2) if line),
            postal_code=person.postal_code,
            city=person.city,
        ),
        variant=addressee.variant,
        usager_name=usager.display_name,
        body=text.body,
        link=links.link_url(settings.public_url or base_url, token),
        reference=reference,
        issued_on=datetime.now(ZoneInfo("Europe/Paris")).date(),
        may_oppose=addressee.may_oppose,
    )
    notice = Notice(
        usager=usager,
        representative=representative,
        addressee_name=person.display_name,
        addressee_capacity=representative.role.value if representative else "usager",
        variant=addressee.variant,
        channel=choice.channel,
        may_oppose=addressee.may_oppose,
        text=text,
        reference=reference,
        status=NoticeStatus.PREPARED,
        issuer=actor,
        issuer_label=actor.email,
    )
    if choice.channel in SENT_BY_SMTP:
        notice.message_id = make_msgid(idstring=reference, domain=settings.notice_sender.rpartition("@")[2])
        from_addr = Address(usager.establishment.name, addr_spec=settings.notice_sender)
        if choice.channel == "mssante":
            message = rendering.render_mssante_message(
                content, from_addr=from_addr, ins_matricule=usager.ins, message_id=notice.message_id, nil=settings.mss_nil
            )
            notice.recipient_address = message["To"].addresses[0].addr_spec
        else:
            notice.recipient_address = person.email
            message = rendering.render_email(
                content,
                from_addr=from_addr,
                to_addr=Address(person.display_name, addr_spec=person.email),
                message_id=notice.message_id,
            )
        message["Date"] = format_datetime(datetime.now(UTC))
        notice.content, notice.content_type = message.as_bytes(), EML
    else:
        notice.content, notice.content_type = letters.render_letter(content), PDF
    notice.content_sha256 = hashlib.sha256(notice.content).hexdigest()
    db.add(notice)
    db.add(
        OppositionLink(
            notice=notice,
            token_sha256=links.token_hash(token),
            expires_at=utcnow() + timedelta(days=settings.opposition_link_days),
        )
    )
    db.flush()
    record(
        db,
        "notices.notice_prepared",
        outcome=SUCCESS,
        actor=actor,
        target=_target(notice),
        detail={"channel": notice.channel, "variant": notice.variant, "text_id": text.id},
    )
    proof.append(db, usager.establishment, usager.id, proof.notice_event(notice, "notice_issued", actor))
    return notice


def set_status(
    db: Session, notice: Notice, status: NoticeStatus, *, actor: User | None = None, failure_reason: str = ""
) -> None:
    """Change the notice's status in the caller's transaction; its proof record is prove_status()'s, or mark()'s."""
    now = utcnow()
    notice.status, notice.status_changed_at, notice.failure_reason = status, now, failure_reason
    timestamp = {
        NoticeStatus.SENT: "sent_at",
        NoticeStatus.FAILED: "failed_at",
        NoticeStatus.PRINTED: "printed_at",
        NoticeStatus.HANDED_OVER: "handed_over_at",
    }[status]
    setattr(notice, timestamp, now)


def prove_status(db: Session, notice: Notice) -> None:
    """The proof record and the audit line of a sending's outcome, in the caller's transaction."""
    proof.append(db, notice.usager.establishment, notice.usager_id, proof.notice_event(notice, "notice_status"))
    if notice.status == NoticeStatus.SENT:
        record(db, "notices.notice_sent", outcome=SUCCESS, target=_target(notice))
    else:
        detail = {"reason": notice.failure_reason}
        record(db, "notices.notice_failed", outcome=FAILURE, target=_target(notice), detail=detail)


def _paris_date(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo("Europe/Paris")).date()


def _target(notice: Notice) -> str:
    return f"notice:{notice.id}"
