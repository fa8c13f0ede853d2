"""A professional reads mail in Chromium: the sandboxed frame shows HTML with scripts dead; the keyboard is enough."""

import base64
import uuid
from email.message import EmailMessage
from email.utils import format_datetime

import pyotp
import pytest

from mail.imap import ImapStore
from mail.imap_pool import ConnectionPool
from mail.models import Mailbox, MailboxKind
from portal import database
from portal.models import Establishment, Role, User
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD_HASH
from tests.mail.conftest import days_ago, imap_append, imap_credential, imap_server, mailstack, new_imap_mailbox  # noqa: F401

# A 1x1 red PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


@pytest.fixture()
def reader(live_app, imap_server, imap_credential, new_imap_mailbox):  # noqa: F811
    address = new_imap_mailbox("lecteur")
    secret = pyotp.random_base32()
    with live_app.app_context():
        db = database.session()
        home = Establishment(finess=f"44{uuid.uuid4().int % 10**7:07d}", name="SSIAD du Port", city="Nantes")
        user = User(email=f"u-{address}", first_name="Marc", last_name="Leroy", password_hash=PASSWORD_HASH,
                    totp_secret=secret, establishments=[home])
        user.roles = {Role.PROFESSIONAL}
        db.add_all([user, Mailbox(address=address, kind=MailboxKind.PER, display_name="Marc Leroy",
                                  establishment=home, owner=user)])
        db.commit()
        email = user.email
    live_app.extensions["mail.store"] = ImapStore(ConnectionPool(imap_server, imap_credential))
    yield address, email, secret
    live_app.extensions.pop("mail.store").close()


def test_messages_are_read_one_after_another_with_the_keyboard(live_url, page, reader, imap_append):  # noqa: F811
    address, email, secret = reader
    for age, subject in enumerate(("Troisième", "Deuxième", "Premier")):  # listed newest first
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, "cadre@demo.mssante.fr", address
        message["Date"] = format_datetime(days_ago(age + 1))
        message.set_content(f"Message {subject}.")
        imap_append(address, message.as_bytes())
    log_in(page, live_url, email, secret)
    page.get_by_role("link", name="Messagerie").click()
    page.get_by_role("link", name="Premier").wait_for()
    page.wait_for_load_state()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Troisième").wait_for()
    page.wait_for_load_state()
    page.keyboard.press("j")
    page.get_by_role("heading", name="Deuxième").wait_for()
    page.wait_for_load_state()
    page.keyboard.press("k")
    page.get_by_role("heading", name="Troisième").wait_for()
    page.wait_for_load_state()
    page.keyboard.press("u")
    page.get_by_role("link", name="Premier").wait_for()


def test_html_message_shows_in_its_frame_with_inline_image_and_no_script(live_url, page, reader, imap_append):  # noqa: F811
    address, email, secret = reader
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "Planning de la semaine", "cadre@demo.mssante.fr", address
    message.set_content("Planning en pièce jointe.")
    message.add_alternative(
        '<h2 onclick="alert(1)">Planning</h2><p>Voir <a href="https://intranet.example/planning">le planning</a>'
        '<img alt="logo" src="cid:logo@demo"><script>alert(2)</script></p>',
        subtype="html",
    )
    message.get_payload()[1].add_related(PNG, maintype="image", subtype="png", cid="<logo@demo>")
    imap_append(address, message.as_bytes())
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    log_in(page, live_url, email, secret)
    page.get_by_role("link", name="Messagerie").click()
    page.get_by_role("link", name="Planning de la semaine").click()

    frame = page.frame_locator("iframe.mail-body")
    frame.get_by_role("heading", name="Planning").wait_for()
    assert frame.locator("img").evaluate("img => img.naturalWidth") == 1
    link = frame.get_by_role("link", name="le planning")
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    assert frame.locator("script").count() == 0
    frame.get_by_role("heading", name="Planning").click()
    assert dialogs == []
