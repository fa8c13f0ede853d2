"""In Chromium: reception previews and launches a batch, and its page follows the worker live (htmx polling)."""

import uuid
from datetime import date

import pyotp

from notices import outbox
from notices.models import IdentityStatus, Sex, Usager
from portal import database
from portal.auth import passwords
from portal.models import Establishment, Role, User
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD


def test_batch_page_shows_the_progress_then_the_report_without_reloading(live_app, live_url, page):
    secret = pyotp.random_base32()
    with live_app.app_context():
        db = database.session()
        home = Establishment(finess="560000002", name="MAS Les Genêts", city="Vannes", postal_code="56000")
        reception = User(
            email=f"accueil-{uuid.uuid4().hex[:6]}@genets.test.mssante.fr", first_name="Léa", last_name="Roux",
            password_hash=passwords.hash_password(PASSWORD), totp_secret=secret, establishments=[home],
        )  # fmt: skip
        reception.roles = {Role.RECEPTION}
        for number, code in enumerate(("56000", "29000")):
            db.add(Usager(
                establishment=home, local_id=f"DUI-{number}", identity_status=IdentityStatus.VALIDEE,
                birth_name=f"Le Goff{number}", birth_first_names="Anne", birth_date=date(1960, 5, 2), sex=Sex.F,
                address_line1="2 rue du Port", postal_code=code, city="Vannes",
            ))  # fmt: skip
        db.add(reception)
        db.commit()
        email = reception.email

    log_in(page, live_url, email, secret)
    page.goto(f"{live_url}/usagers/batches/new")
    page.get_by_role("button", name="Voir ce qui sera envoyé").click()
    assert "2 notices pour 2 usagers" in page.inner_text("main")
    page.get_by_role("button", name="Lancer l'envoi").click()
    page.get_by_text("Restantes : 2").wait_for()
    batch_url = page.url

    with live_app.app_context():
        db = database.session()
        settings = live_app.config["PORTAL_SETTINGS"]
        while ids := outbox.claim(db, settings, "browser-test"):
            for item_id in ids:
                outbox.process(db, settings, item_id, "browser-test")

    page.get_by_text("Rapport de l'envoi").wait_for(timeout=10_000)  # htmx asks every 2 s
    assert page.url == batch_url
    assert "Envoyées ou prêtes à imprimer : 2" in page.inner_text("#batch-progress")
    assert page.locator("#batch-progress[hx-trigger]").count() == 0  # polling stopped
