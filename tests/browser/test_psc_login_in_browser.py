"""A professional logs in with Pro Santé Connect in Chromium, reaches the home page, and logs out of both."""

import re

import pytest

from portal import database
from portal.models import Establishment, Role, User


@pytest.fixture()
def psc(oidc_provider, live_url):
    oidc_provider.reset()
    oidc_provider.client.redirect_uris = [f"{live_url}/login/psc/callback"]
    oidc_provider.client.post_logout_redirect_uris = [f"{live_url}/login"]
    return oidc_provider


def test_professional_logs_in_with_psc_and_reaches_home(live_app, live_url, page, psc):
    with live_app.app_context():
        db = database.session()
        home = Establishment(finess="350000004", name="IME Les Korrigans", city="Rennes", postal_code="35000")
        user = User(
            email="educatrice@korrigans.test.mssante.fr",
            national_id="810000000066",
            first_name="Maëlle",
            last_name="Le Goff",
            local_login_allowed=False,
            establishments=[home],
        )
        user.roles = {Role.PROFESSIONAL}
        db.add(user)
        db.commit()
    professional = psc.enrol("810000000066", "MAËLLE", "LE GOFF", profession="51", finess=("350000004",))
    psc.insert_card("810000000066")

    page.goto(f"{live_url}/")
    assert page.url == f"{live_url}/login"
    page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
    # PSC's page, where the professional would present their CPS card or approve in the e-CPS app.
    page.get_by_role("button", name="Valider avec ma carte").click()

    page.get_by_role("heading", name="Bonjour Maëlle").wait_for()
    assert page.url == f"{live_url}/"
    assert page.get_by_text("IME Les Korrigans").is_visible()

    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(re.compile(re.escape(f"{live_url}/login") + r"(\?.*)?$"))
    assert psc.ended_sessions == [professional.sub]
    assert page.get_by_role("link", name="Se connecter avec Pro Santé Connect").is_visible()
