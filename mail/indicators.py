"""The webmail's indicators: MSSanté messages received and sent per month and per mailbox, top partner domains
(wired into the portal's indicators page by mail.init_app).

The server counts (IMAP SEARCH SINCE / BEFORE on INBOX and the Sent folder, on the arrival date);
partner domains come from the envelopes of at most ENVELOPES_PER_MONTH messages per folder and
month. The figures are kept per mailbox and month (MailboxMonth), so that the page answers without
waiting for the mail server: a month is counted again when asked, or, until it is over, when its
figures are more than an hour old.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from flask import current_app
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from mail.imap import Envelope, ImapStore, MailError
from mail.models import Mailbox, MailboxMonth
from portal.audit.service import SUCCESS, record
from portal.database import utcnow
from portal.indicators.figures import Period, Table, month_start, next_month
from portal.models import Establishment, User

FRESH_FOR = timedelta(hours=1)
ENVELOPES_PER_MONTH = 200
TOP_DOMAINS = 10
INBOX = "INBOX"


def tables(db: Session, actor: User, establishment: Establishment, period: Period, refresh: bool) -> list[Table]:
    mailboxes = list(
        db.scalars(
            select(Mailbox)
            .where(Mailbox.establishment_id == establishment.id, Mailbox.is_active)
            .order_by(Mailbox.address)
        )
    )
    note = _refresh(db, actor, mailboxes, period, refresh)
    months = list(
        db.scalars(
            select(MailboxMonth)
            .where(MailboxMonth.mailbox_id.in_([m.id for m in mailboxes]), MailboxMonth.month.in_(period.months))
            .order_by(MailboxMonth.month)
        )
    )
    if months:
        note = note or _(
            "Comptés sur le serveur de messagerie : arrivés dans la boîte de réception, ou copiés dans le dossier "
            "des envoyés ; calcul du %(date)s.",
            date=format_datetime(min(m.computed_at for m in months), "dd/MM/yyyy HH:mm"),
        )
    return [_per_month(months, period, note), _per_mailbox(months, mailboxes), _domains(months)]


def compute(db: Session, store: ImapStore, actor: User, mailbox: Mailbox, months: list[date]) -> None:
    """Count the mailbox's messages of these months on the server, and keep the figures."""
    sent_folder = store.special_folder(mailbox.address, "\\Sent")
    for month in months:
        received = store.uids_between(mailbox.address, INBOX, month, next_month(month))
        sent = store.uids_between(mailbox.address, sent_folder.name, month, next_month(month)) if sent_folder else []
        domains: Counter[str] = Counter()
        for folder, uids in ((INBOX, received), (sent_folder.name if sent_folder else "", sent)):
            # The latest messages when the month holds more than the cap.
            for envelope in store.envelopes(mailbox.address, folder, uids[-ENVELOPES_PER_MONTH:]):
                domains.update(_partner_domains(envelope, folder == INBOX, mailbox.address))
        row = db.get(MailboxMonth, (mailbox.id, month)) or MailboxMonth(mailbox_id=mailbox.id, month=month)
        row.received, row.sent, row.domains, row.computed_at = len(received), len(sent), dict(domains), utcnow()
        row.sampled = max(len(received), len(sent)) > ENVELOPES_PER_MONTH
        db.add(row)
    record(db, "mail.figures_computed", outcome=SUCCESS, actor=actor, target=mailbox.address,
           detail={"months": len(months)})  # fmt: skip
    db.commit()


def _refresh(db: Session, actor: User, mailboxes: list[Mailbox], period: Period, forced: bool) -> str:
    """Count again what is stale (or everything when forced); a note when the figures could not be counted."""
    store: ImapStore | None = current_app.extensions.get("mail.store")
    if store is None:
        return _("La messagerie n'est pas configurée sur ce portail : pas de chiffres de messages.")
    for mailbox in mailboxes:
        months = list(period.months) if forced else _stale_months(db, mailbox, period)
        if months:
            try:
                compute(db, store, actor, mailbox, months)
            except (MailError, OSError):
                db.rollback()
                return _("Le serveur de messagerie n'a pas répondu : chiffres du dernier calcul, s'il y en a un.")
    return ""


def _stale_months(db: Session, mailbox: Mailbox, period: Period) -> list[date]:
    """The months never counted, and those counted more than FRESH_FOR ago before they were over.

    A month counted after its end is final: messages arrive with the date of their arrival, so
    none joins it later (a mailbox restored from elsewhere is counted again with the button).
    """
    counted = dict(
        db.execute(
            select(MailboxMonth.month, MailboxMonth.computed_at).where(
                MailboxMonth.mailbox_id == mailbox.id, MailboxMonth.month.in_(period.months)
            )
        ).all()
    )
    stale_before = utcnow() - FRESH_FOR
    return [
        month
        for month in period.months
        if month not in counted
        or (counted[month] < month_start(next_month(month)) and counted[month] < stale_before)
    ]


def _partner_domains(envelope: Envelope, received: bool, own_address: str) -> set[str]:
    """The domains on the other side of one message: its sender's if received, its recipients' if sent."""
    addresses = [envelope.sender] if received else [*envelope.to, *envelope.cc]
    emails = {a.email.lower() for a in addresses if a and "@" in a.email}
    return {email.rpartition("@")[2] for email in emails - {own_address.lower()}}


def _per_month(months: list[MailboxMonth], period: Period, note: str) -> Table:
    received, sent = Counter(), Counter()
    for row in months:
        received[row.month] += row.received
        sent[row.month] += row.sent
    has_figures = bool(months)
    return Table(
        key="messages-par-mois",
        caption=_("Messages MSSanté reçus et envoyés, par mois"),
        headings=(_("Mois"), _("Reçus"), _("Envoyés")),
        rows=[(month, received[month], sent[month]) for month in period.months] if has_figures else [],
        monthly=True,
        note=note,
    )


def _per_mailbox(months: list[MailboxMonth], mailboxes: list[Mailbox]) -> Table:
    addresses = {m.id: m.address for m in mailboxes}
    # A row for every mailbox and month would be mostly zeros: the months with messages only.
    active = ((addresses[r.mailbox_id], r.month, r.received, r.sent) for r in months if r.received or r.sent)
    return Table(
        key="messages-par-boite",
        caption=_("Messages par boîte aux lettres et par mois"),
        headings=(_("Boîte aux lettres"), _("Mois"), _("Reçus"), _("Envoyés")),
        rows=sorted(active, key=lambda r: r[:2]),
        note=_("Les mois sans message reçu ni envoyé ne sont pas listés."),
    )


def _domains(months: list[MailboxMonth]) -> Table:
    counts: Counter[str] = Counter()
    for row in months:
        counts.update(row.domains)
    note = _(
        "Domaines des correspondants (expéditeurs des messages reçus, destinataires des messages envoyés), lus sur "
        "au plus %(cap)d messages par mois, par dossier et par boîte.",
        cap=ENVELOPES_PER_MONTH,
    )
    if any(row.sampled for row in months):
        note += " " + _(
            "Ce plafond est atteint pour certains mois : les plus récents messages de ces mois sont comptés."
        )
    return Table(
        key="domaines-partenaires",
        caption=_("Principaux domaines partenaires"),
        headings=(_("Domaine"), _("Messages")),
        rows=sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_DOMAINS],
        note=note,
    )
