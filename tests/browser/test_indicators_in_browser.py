"""In Chromium: an administrator reads the indicators, whose SVG bars draw under the Content Security Policy."""

import pyotp
from sqlalchemy import select

from portal import database
from portal.auth import passwords
from portal.models import Establishment, Role, User
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD


def test_indicators_draw_their_bars_and_change_period(live_app, live_url, page):
    secret = pyotp.random_base32()
    with live_app.app_context():
        db = database.session()
        home = db.scalar(select(Establishment).where(Establishment.finess == "490000016")) or Establishment(
            finess="490000016", name="SSIAD Les Iris", city="Angers", postal_code="49000"
        )
        admin = User(
            email="admin@iris.test.mssante.fr", first_name="Inès", last_name="Roux",
            password_hash=passwords.hash_password(PASSWORD), totp_secret=secret, establishments=[home],
        )  # fmt: skip
        admin.roles = {Role.ADMINISTRATOR}
        db.add(admin)
        db.commit()

    log_in(page, live_url, admin.email, secret)  # the page fixture fails the test on any CSP violation
    page.get_by_role("link", name="Indicateurs").click()
    page.get_by_role("heading", name="Indicateurs de SSIAD Les Iris").wait_for()
    chart = page.get_by_role("img", name="Notices d'information remises et oppositions, par mois")
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    assert page.locator("svg desc").first.text_content().startswith("Barres par mois")

    page.get_by_label("Période").select_option("3")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url("**mois=3")
    assert page.locator("section:has(#notices-par-mois) tbody tr").count() == 3
