"""The indicators count the messages of the establishment's mailboxes on the real Dovecot, by month and partner domain,
keep the figures for the next pages, and count again when asked."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mail.models import Mailbox, MailboxKind, MailboxMonth
from portal.database import utcnow
from portal.models import AuditEvent
from tests.conftest import csrf_token, text
from tests.mail.conftest import message
from tests.notices.test_indicators_page import table_rows

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture()
def counted_store(app, make_imap_store, imap_command_log):
    """The portal's webmail wired to the test Dovecot, its IMAP commands recorded."""
    app.extensions["mail.store"] = make_imap_store(connect=imap_command_log)
    yield imap_command_log
    app.extensions.pop("mail.store")


@pytest.fixture()
def secretariat(db, establishment, administrator, new_imap_mailbox) -> Mailbox:
    box = Mailbox(address=new_imap_mailbox("secretariat"), kind=MailboxKind.ORG, display_name="Secrétariat",
                  establishment=establishment, owner=administrator)  # fmt: skip
    db.add(box)
    db.commit()
    return box


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), PARIS)


@pytest.fixture()
def months():
    """(this month's day, a day two months before), both at noon in French time."""
    today = datetime.now(PARIS).date()
    earlier = date(today.year - (today.month <= 2), (today.month - 3) % 12 + 1, 15)
    return noon(today), noon(earlier)


@pytest.fixture()
def filled(secretariat, imap_append, months):
    now, earlier = months
    box = secretariat.address
    for sender in ("a@demo.mssante.fr", "b@demo.mssante.fr", "c@ch-lyon.mssante.fr"):
        imap_append(box, message(sender=sender, to=box), when=now)
    imap_append(box, message(sender="d@ehpad.mssante.fr", to=box), when=earlier)
    for recipient in ("e@ch-lyon.mssante.fr", f"f@ch-lyon.mssante.fr, {box}"):
        imap_append(box, message(sender=box, to=recipient), folder="Sent", when=now)
    return secretariat


def test_messages_are_counted_per_month_mailbox_and_partner_domain(
    logged_in, administrator, establishment, counted_store, filled
):
    page = text(logged_in(administrator).get(f"/indicateurs/{establishment.id}"))
    monthly = table_rows(page, "messages-par-mois")
    assert monthly[-1][1:] == ["3", "2"] and monthly[-3][1:] == ["1", "0"]
    assert sum(int(row[1]) + int(row[2]) for row in monthly) == 6
    per_mailbox = table_rows(page, "messages-par-boite")
    # Only the months with messages: not ten rows of zeros.
    assert [(row[0], row[2], row[3]) for row in per_mailbox] == [(filled.address, "1", "0"), (filled.address, "3", "2")]
    assert table_rows(page, "domaines-partenaires") == [
        ["ch-lyon.mssante.fr", "3"], ["demo.mssante.fr", "2"], ["ehpad.mssante.fr", "1"],
    ]  # fmt: skip
    assert len(counted_store.commands(b"UID SEARCH")) == 24  # INBOX and Sent, for each of the 12 months


def test_figures_are_kept_until_a_refresh_is_asked(
    db, logged_in, administrator, establishment, counted_store, filled, imap_append, months
):
    client = logged_in(administrator)
    client.get(f"/indicateurs/{establishment.id}")
    searches = len(counted_store.commands(b"UID SEARCH"))
    imap_append(filled.address, message(sender="g@demo.mssante.fr", to=filled.address), when=months[0])

    kept = text(client.get(f"/indicateurs/{establishment.id}"))
    assert table_rows(kept, "messages-par-mois")[-1][1:] == ["3", "2"]
    assert len(counted_store.commands(b"UID SEARCH")) == searches  # answered from the kept figures

    response = client.post(
        f"/indicateurs/{establishment.id}/refresh", data={"csrf_token": csrf_token(client, "/"), "mois": 12}
    )
    assert response.status_code == 302
    refreshed = text(client.get(response.location))
    assert table_rows(refreshed, "messages-par-mois")[-1][1:] == ["4", "2"]
    audited = db.scalars(select(AuditEvent).where(AuditEvent.action == "mail.figures_computed")).all()
    assert [(e.target, e.actor_id) for e in audited] == [(filled.address, administrator.id)] * 2


def test_mail_figures_export_as_csv(logged_in, administrator, establishment, counted_store, filled):
    client = logged_in(administrator)
    body = client.get(f"/indicateurs/{establishment.id}/domaines-partenaires.csv").get_data().decode("utf-8-sig")
    assert body.splitlines() == ["Domaine;Messages", "ch-lyon.mssante.fr;3", "demo.mssante.fr;2", "ehpad.mssante.fr;1"]


def test_after_an_hour_only_the_months_not_over_are_counted_again(
    db, logged_in, administrator, establishment, counted_store, filled, imap_append, months
):
    client = logged_in(administrator)
    client.get(f"/indicateurs/{establishment.id}")
    now, earlier = months
    for row in db.scalars(select(MailboxMonth).where(MailboxMonth.mailbox_id == filled.id)):
        # Counted two hours ago: at the time, every month but the current one was over.
        row.computed_at = utcnow() - timedelta(hours=2)
    db.commit()
    imap_append(filled.address, message(sender="g@demo.mssante.fr", to=filled.address), when=now)
    imap_append(filled.address, message(sender="h@demo.mssante.fr", to=filled.address), when=earlier)
    searches = len(counted_store.commands(b"UID SEARCH"))

    monthly = table_rows(text(client.get(f"/indicateurs/{establishment.id}")), "messages-par-mois")
    assert monthly[-1][1:] == ["4", "2"] and monthly[-3][1:] == ["1", "0"]  # the earlier month is final
    assert len(counted_store.commands(b"UID SEARCH")) == searches + 2  # INBOX and Sent of the current month
