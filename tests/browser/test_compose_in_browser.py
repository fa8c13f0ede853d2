"""A professional writes in Chromium: a recipient picked from the suggestions as a chip, a file attached, sent."""

import email
from email.policy import default

import pytest
from imapclient import IMAPClient

from mail.imap_pool import open_connection
from mail.models import Mailbox, MailboxKind
from portal import database
from portal.models import Establishment
from tests.browser.conftest import log_in
from tests.browser.test_mail_in_browser import reader  # noqa: F401
from tests.mail.conftest import imap_credential, imap_server, mailstack, new_imap_mailbox, submission_settings, wait_for  # noqa: F401

PDF = b"%PDF-1.4 synthetic\n" + bytes(range(256))


@pytest.fixture()
def pharmacy(live_app, reader, new_imap_mailbox) -> str:  # noqa: F811
    """An organisational mailbox of the writer's establishment, found by the suggestions."""
    address = new_imap_mailbox("pharmacie")
    with live_app.app_context():
        db = database.session()
        home = db.query(Establishment).filter_by(name="SSIAD du Port").order_by(Establishment.id.desc()).first()
        db.add(Mailbox(address=address, kind=MailboxKind.ORG, display_name="Pharmacie du Port", establishment=home))
        db.commit()
    return address


@pytest.fixture()
def live_sending(live_app, mailstack, monkeypatch):  # noqa: F811
    settings = live_app.config["PORTAL_SETTINGS"]
    for name, value in submission_settings(mailstack).items():
        monkeypatch.setattr(settings, name, value)


def inbox_subjects(imap_server, imap_credential, address: str) -> list[str]:  # noqa: F811
    client: IMAPClient = open_connection(imap_server)
    try:
        imap_credential.login(client, address)
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch(client.search(["ALL"]), ["RFC822"]).values()
        return [email.message_from_bytes(data[b"RFC822"], policy=default) for data in fetched]
    finally:
        client.logout()


def test_message_composed_with_a_suggested_recipient_and_a_file_is_sent(
    live_url, page, reader, pharmacy, live_sending, imap_server, imap_credential, tmp_path  # noqa: F811
):
    _address, user_email, secret = reader
    log_in(page, live_url, user_email, secret)
    page.get_by_role("link", name="Messagerie").click()
    page.get_by_role("link", name="Nouveau message").click()

    page.get_by_label("À", exact=True).press_sequentially("pharma")
    page.get_by_role("option", name="Pharmacie du Port").click()
    page.locator(".chip", has_text="Pharmacie du Port").wait_for()
    page.get_by_label("Objet").fill("Renouvellement d'ordonnance")
    page.get_by_label("Message", exact=True).fill("Bonjour,\nl'ordonnance est jointe.")
    prescription = tmp_path / "ordonnance.pdf"
    prescription.write_bytes(PDF)
    page.get_by_label("Joindre des fichiers").set_input_files(prescription)
    page.locator("[data-picked] li", has_text="ordonnance.pdf").wait_for()
    page.get_by_role("button", name="Envoyer").click()

    page.get_by_text("Message envoyé.").wait_for()
    [got] = wait_for(lambda: inbox_subjects(imap_server, imap_credential, pharmacy))
    assert got["Subject"] == "Renouvellement d'ordonnance" and str(got["From"]).startswith("Marc Leroy <")
    [attachment] = got.iter_attachments()
    assert attachment.get_content() == PDF
