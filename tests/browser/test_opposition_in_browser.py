"""In Chromium: a guardian opens a notice's link, types the birth date, opposes; curators; expired and revoked links."""

import uuid
from datetime import date, timedelta

import pyotp
import pytest
from sqlalchemy import select

from notices import issuing, links, oppositions
from notices.models import IdentityStatus, Opposition, Protection, Representative, RepresentativeRole, Sex, Usager
from portal import database
from portal.auth import passwords
from portal.database import utcnow
from portal.models import Establishment, Role, User
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

BIRTH_DATE = date(1950, 3, 9)


@pytest.fixture()
def issued_link(live_app, monkeypatch):
    """issue(role) -> (usager id, notice id, token): a usager with one representative, whose notice is handed over."""
    secret = pyotp.random_base32()
    new_token = links.new_token

    def issue(role=RepresentativeRole.TUTEUR, protection=Protection.REPRESENTATION_PERSONNE):
        token = new_token()
        monkeypatch.setattr(links, "new_token", lambda: token)
        with live_app.app_context():
            db = database.session()
            home = db.scalar(select(Establishment).where(Establishment.finess == "490000008")) or Establishment(
                finess="490000008", name="Foyer Les Ajoncs", city="Angers", postal_code="49000", phone="02 41 00 00 00"
            )
            reception = db.scalar(select(User).where(User.email == "accueil@ajoncs.test.mssante.fr"))
            if reception is None:
                reception = User(
                    email="accueil@ajoncs.test.mssante.fr", first_name="Léa", last_name="Roux",
                    password_hash=passwords.hash_password(PASSWORD), totp_secret=secret, establishments=[home],
                )  # fmt: skip
                reception.roles = {Role.RECEPTION}
            representative = Representative(
                position=0, role=role, last_name="Bernard", first_names="Paul", email="paul@example.org"
            )
            usager = Usager(
                establishment=home, local_id=f"DUI-{uuid.uuid4().hex[:8]}", identity_status=IdentityStatus.VALIDEE,
                birth_name="Martin", birth_first_names="Louise", birth_date=BIRTH_DATE, sex=Sex.F,
                protection=protection, representatives=[representative],
            )  # fmt: skip
            db.add_all([reception, usager])
            db.commit()
            [notice] = issuing.issue(
                db, reception, usager, [issuing.Choice(representative.id, "remise_en_main_propre")],
                base_url="http://unused.test/", settings=live_app.config["PORTAL_SETTINGS"],
            )  # fmt: skip
            issuing.mark(db, reception, notice, issuing.NoticeStatus.HANDED_OVER)
            return usager.id, notice.id, token, reception.email, reception.totp_secret

    return issue


def test_guardian_types_the_birth_date_and_records_an_opposition_shown_to_reception(
    live_app, live_url, page, issued_link
):
    usager_id, notice_id, token, reception_email, secret = issued_link()

    page.goto(f"{live_url}/o/{token}")
    assert page.url == f"{live_url}/o"  # the token leaves the address bar at once
    assert page.get_by_text("Louise").count() == 0
    page.get_by_label("Date de naissance").fill("1950-09-03")  # day and month swapped
    page.get_by_role("button", name="Voir l'information").click()
    page.get_by_text("Cette date ne permet pas d'ouvrir l'information").wait_for()

    page.get_by_label("Date de naissance").fill(BIRTH_DATE.isoformat())
    page.get_by_role("button", name="Voir l'information").click()
    page.get_by_role("heading", name="Vos autres droits").wait_for()
    assert page.get_by_text("34 22").first.is_visible()
    page.get_by_label("Votre raison").fill("Ma sœur ne veut pas que ses documents soient partagés.")
    page.get_by_role("button", name="Enregistrer mon opposition").click()
    page.get_by_text("Une opposition est enregistrée").wait_for()

    with live_app.app_context():
        db = database.session()
        opposition = db.scalar(select(Opposition).where(Opposition.usager_id == usager_id))
        assert opposition.notice_id == notice_id and opposition.withdrawn_at is None
        assert oppositions.feeding_status(db, db.get(Usager, usager_id)).state == oppositions.OPPOSITION

    # Reception, in the same browser but logged in, sees it on the usager's page.
    log_in(page, live_url, reception_email, secret)
    page.goto(f"{live_url}/usagers")
    page.get_by_role("heading", name="Nouvelles oppositions à l'alimentation du DMP").wait_for()
    page.goto(f"{live_url}/usagers/{usager_id}")
    page.get_by_text("Opposition de BERNARD Paul (tuteur)").wait_for()


def test_curator_reads_the_information_and_is_told_who_acts(live_url, page, issued_link):
    _usager_id, _notice_id, token, *_ = issued_link(RepresentativeRole.CURATEUR, Protection.CURATELLE)
    page.goto(f"{live_url}/o/{token}")
    page.get_by_label("Date de naissance").fill(BIRTH_DATE.isoformat())
    page.get_by_role("button", name="Voir l'information").click()
    page.get_by_text("La personne que vous accompagnez décide seule").wait_for()
    assert page.get_by_role("button", name="Enregistrer mon opposition").count() == 0


def test_expired_and_revoked_links_say_whom_to_contact(live_app, live_url, browser, issued_link):
    _u, expired_id, expired, *_ = issued_link()
    _u, revoked_id, revoked, *_ = issued_link()
    with live_app.app_context():
        db = database.session()
        notice = db.get(issuing.Notice, expired_id)
        notice.link.expires_at = utcnow() - timedelta(days=1)
        revoked_notice = db.get(issuing.Notice, revoked_id)
        oppositions.revoke(db, revoked_notice.issuer, revoked_notice)
        db.commit()

    # Not the `page` fixture: Chromium logs every 410 answer as a console error, which is the point here.
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    response = page.goto(f"{live_url}/o/{expired}")
    assert response.status == 410
    page.get_by_text("Ce lien a expiré.").wait_for()
    assert page.get_by_text("Foyer Les Ajoncs").first.is_visible()
    response = page.goto(f"{live_url}/o/{revoked}")
    assert response.status == 410
    page.get_by_text("L'établissement a désactivé ce lien.").wait_for()
    context.close()
