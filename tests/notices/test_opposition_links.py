"""The public page of an opposition link: birth-date check, opposition and withdrawal, gone links, curators."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from notices import issuing, links, oppositions
from notices.models import Opposition, Protection, Representative, RepresentativeRole
from portal.database import utcnow
from tests.conftest import csrf_token, login, text

BIRTH_DATE = "1940-08-14"  # make_usager's


@pytest.fixture()
def issued(db, reception, settings, monkeypatch):
    """issue(usager, representative_id, channel) -> (notice, token), with a token the test knows."""

    def issue(usager, representative_id, channel="remise_en_main_propre"):
        token = links.new_token()
        monkeypatch.setattr(links, "new_token", lambda: token)
        [notice] = issuing.issue(
            db, reception, usager, [issuing.Choice(representative_id, channel)],
            base_url="http://portail.test/", settings=settings,
        )  # fmt: skip
        return notice, token

    return issue


def open_and_check(client, token, birth_date=BIRTH_DATE):
    opened = client.get(f"/o/{token}")
    assert opened.status_code == 303 and opened.location == "/o"
    return client.post("/o", data={"birth_date": birth_date, "csrf_token": csrf_token(client, "/o")})


def test_guardian_opens_the_link_and_records_an_opposition(db, client, issued, usager_under_guardianship):
    usager = usager_under_guardianship
    notice, token = issued(usager, usager.representatives[0].id)

    first = text(client.get(f"/o/{token}", follow_redirects=True))
    assert "Date de naissance" in first and "MARTIN" not in first  # nothing about the usager before the check

    checked = open_and_check(client, token)
    assert checked.status_code == 303
    page = text(client.get("/o"))
    assert "34 22" in page and "Enregistrer mon opposition" in page

    response = client.post("/o/opposition", data={"reason": "Je ne veux pas.", "csrf_token": csrf_token(client, "/o")})
    assert response.status_code == 302
    opposition = db.scalar(select(Opposition).where(Opposition.usager_id == usager.id))
    assert (opposition.notice_id, opposition.reason) == (notice.id, "Je ne veux pas.")
    assert "BERNARD Paul (tuteur)" == opposition.opposed_by
    assert oppositions.feeding_status(db, usager).state == oppositions.OPPOSITION
    assert "Retirer l'opposition" in text(client.get("/o"))


def test_opposition_shows_on_the_usagers_page_and_alerts_reception(
    db, client, app, issued, usager_under_guardianship, reception
):
    usager = usager_under_guardianship
    _notice, token = issued(usager, usager.representatives[0].id)
    open_and_check(client, token)
    client.post("/o/opposition", data={"reason": "Motif personnel", "csrf_token": csrf_token(client, "/o")})

    staff = app.test_client()  # another browser than the guardian's
    login(staff, reception, db)
    page = text(staff.get(f"/usagers/{usager.id}"))
    assert "Opposition de BERNARD Paul (tuteur)" in page and "Motif personnel" in page
    assert "l'établissement n'alimente pas le DMP" in page
    alerts = text(staff.get("/usagers"))
    assert "Nouvelles oppositions" in alerts
    opposition = db.scalar(select(Opposition).where(Opposition.usager_id == usager.id))
    staff.post(f"/usagers/oppositions/{opposition.id}/acknowledge", data={"csrf_token": csrf_token(staff, "/usagers")})
    assert "Nouvelles oppositions" not in text(staff.get("/usagers"))


def test_withdrawal_lets_the_feeding_resume(db, client, issued, usager_under_guardianship):
    usager = usager_under_guardianship
    _notice, token = issued(usager, usager.representatives[0].id)
    open_and_check(client, token)
    client.post("/o/opposition", data={"reason": "Plus tard", "csrf_token": csrf_token(client, "/o")})
    client.post("/o/withdrawal", data={"csrf_token": csrf_token(client, "/o")})
    assert oppositions.active_opposition(db, usager.id) is None
    assert db.scalar(select(Opposition).where(Opposition.usager_id == usager.id)).withdrawn_at is not None


def test_wrong_birth_date_gets_a_neutral_error_and_is_counted(db, client, issued, usager_under_guardianship):
    notice, token = issued(usager_under_guardianship, usager_under_guardianship.representatives[0].id)
    response = open_and_check(client, token, birth_date="1941-08-14")
    assert response.status_code == 200
    page = text(response)
    assert "ne permet pas d'ouvrir" in page and "MARTIN" not in page and "Bernard" not in page
    assert notice.link.failed_checks == 1
    assert client.post("/o/opposition", data={"reason": "x", "csrf_token": csrf_token(client, "/o")}).status_code == 403


def test_too_many_wrong_birth_dates_lock_the_link(db, client, issued, usager_under_guardianship):
    notice, token = issued(usager_under_guardianship, usager_under_guardianship.representatives[0].id)
    notice.link.failed_checks = links.MAX_FAILED_CHECKS - 1
    db.commit()
    response = open_and_check(client, token, birth_date="2000-01-01")
    assert response.status_code == 410 and "bloqué" in text(response)
    assert open_and_check(client, token).status_code == 410  # the right date no longer opens it


def test_expired_link_gets_a_page_saying_whom_to_contact(db, client, issued, usager_under_guardianship):
    notice, token = issued(usager_under_guardianship, usager_under_guardianship.representatives[0].id)
    notice.link.expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    response = client.get(f"/o/{token}", follow_redirects=True)
    assert response.status_code == 410
    assert "a expiré" in text(response) and "EHPAD Les Tilleuls" in text(response)


def test_revoked_link_is_refused(db, client, issued, usager_under_guardianship, reception):
    notice, token = issued(usager_under_guardianship, usager_under_guardianship.representatives[0].id)
    oppositions.revoke(db, reception, notice)
    response = client.get(f"/o/{token}", follow_redirects=True)
    assert response.status_code == 410 and "désactivé ce lien" in text(response)


def test_unknown_token_gets_404(client):
    response = client.get(f"/o/{links.new_token()}")
    assert response.status_code == 404 and "aucune notice" in text(response)


def test_typed_code_opens_the_link_whatever_its_case_and_separators(client, issued, usager_under_guardianship):
    _notice, token = issued(usager_under_guardianship, usager_under_guardianship.representatives[0].id)
    typed = token.lower().replace("-", " ")
    response = client.post("/o", data={"code": typed, "csrf_token": csrf_token(client, "/o")})
    assert response.status_code == 303 and "Date de naissance" in text(client.get("/o"))


def test_curator_may_not_oppose(db, client, issued, make_usager):
    curator = Representative(
        position=0, role=RepresentativeRole.CURATEUR, last_name="Petit", first_names="Anne", email="anne@example.org"
    )
    usager = make_usager(protection=Protection.CURATELLE, email="louise@example.org", representatives=[curator])
    notice, token = issued(usager, curator.id, "email")
    assert not notice.may_oppose
    open_and_check(client, token)
    page = text(client.get("/o"))
    assert "Enregistrer mon opposition" not in page and "décide seule" in page
    response = client.post("/o/opposition", data={"reason": "Non", "csrf_token": csrf_token(client, "/o")})
    assert response.status_code == 403
    assert oppositions.active_opposition(db, usager.id) is None


def test_public_page_sends_no_referrer_and_the_token_stays_out_of_the_logs(client, issued, usager_under_guardianship):
    _notice, token = issued(usager_under_guardianship, usager_under_guardianship.representatives[0].id)
    response = client.get(f"/o/{token}")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        "",
        0,
        '%s - - [%s] "%s" %s %s',
        ("127.0.0.1", "now", f"GET /o/{token} HTTP/1.1", "303", "-"),
        None,
    )
    for log_filter in logging.getLogger("werkzeug").filters:
        log_filter.filter(record)
    assert token not in record.getMessage() and "/o/…" in record.getMessage()


def test_link_pages_are_rate_limited_per_address(client):
    codes = [client.get(f"/o/{links.new_token()}").status_code for _ in range(31)]
    assert codes[:30] == [404] * 30 and codes[30] == 429


def test_reception_records_an_opposition_the_usager_expressed_at_the_desk(
    db, logged_in, reception, usager_under_guardianship
):
    client = logged_in(reception)
    usager = usager_under_guardianship
    response = client.post(
        f"/usagers/{usager.id}/oppositions",
        data={
            "opposed_by": "Louise MARTIN (l'usager)",
            "reason": "Ne veut pas d'un dossier en ligne",
            "csrf_token": csrf_token(client, f"/usagers/{usager.id}"),
        },
    )
    assert response.status_code == 302
    opposition = oppositions.active_opposition(db, usager.id)
    assert (opposition.recorded_by_id, opposition.notice_id) == (reception.id, None)
    assert "Opposition de Louise MARTIN (l'usager)" in text(client.get(f"/usagers/{usager.id}"))


def test_professional_may_not_record_an_opposition(db, logged_in, professional, usager_under_guardianship):
    client = logged_in(professional)
    response = client.post(
        f"/usagers/{usager_under_guardianship.id}/oppositions",
        data={
            "opposed_by": "X",
            "reason": "Y",
            "csrf_token": csrf_token(client, f"/usagers/{usager_under_guardianship.id}"),
        },
    )
    assert response.status_code == 403
    assert oppositions.active_opposition(db, usager_under_guardianship.id) is None
