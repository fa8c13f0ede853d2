"""A professional logs in with password and TOTP in Chromium and reaches the home page."""

import pyotp

from portal import database
from portal.auth import passwords
from portal.models import Establishment, Role, User
from tests.conftest import PASSWORD


def test_professional_logs_in_with_totp_and_reaches_home(live_app, live_url, page):
    secret = pyotp.random_base32()
    with live_app.app_context():
        db = database.session()
        home = Establishment(finess="440000003", name="MAS Les Embruns", city="Nantes", postal_code="44000")
        user = User(
            email="infirmier@embruns.test.mssante.fr",
            first_name="Jeanne",
            last_name="Leroy",
            password_hash=passwords.hash_password(PASSWORD),
            totp_secret=secret,
            establishments=[home],
        )
        user.roles = {Role.PROFESSIONAL}
        db.add(user)
        db.commit()

    page.goto(f"{live_url}/")
    assert page.url == f"{live_url}/login"
    page.get_by_label("Adresse e-mail").fill("infirmier@embruns.test.mssante.fr")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()

    page.get_by_label("Code à 6 chiffres").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Se connecter").click()

    page.get_by_role("heading", name="Bonjour Jeanne").wait_for()
    assert page.url == f"{live_url}/"
    assert page.get_by_text("MAS Les Embruns").is_visible()
    # The logout control is reachable from the keyboard.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
