"""Accounts restricted to Pro Santé Connect: an administrator turns local login off, and the password is refused."""

from __future__ import annotations

from sqlalchemy import select

from portal.models import AuditEvent
from tests.auth.conftest import psc_login
from tests.conftest import PASSWORD, csrf_token, text


def post_password(client, email, password=PASSWORD):
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")}
    )


def profile(user, **changes) -> dict:
    fields = {
        "last_name": user.last_name,
        "first_name": user.first_name,
        "email": user.email,
        "national_id": user.national_id or "",
        "profession_code": user.profession_code or "",
        "roles": [role.value for role in user.roles],
        "establishments": [str(e.id) for e in user.establishments],
    }
    return {**fields, **changes}


def save_profile(client, user, **changes):
    page = f"/admin/users/{user.id}"
    return client.post(page, data={**profile(user, **changes), "csrf_token": csrf_token(client, page)})


def test_password_of_an_account_restricted_to_psc_is_refused(client, db, professional):
    professional.local_login_allowed = False
    db.commit()
    response = post_password(client, professional.email)
    assert response.status_code == 200
    assert "Ce compte se connecte uniquement avec Pro Santé Connect." in text(response)
    assert client.get("/login/code").status_code == 302  # no second step was opened
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.password"))
    assert (event.outcome, event.detail) == ("failure", {"reason": "local_login_disabled"})


def test_a_wrong_password_tells_nothing_about_the_restriction(client, db, professional):
    professional.local_login_allowed = False
    db.commit()
    response = post_password(client, professional.email, "wrong password")
    page = text(response)
    assert "Identifiants ou code incorrects." in page and "uniquement avec Pro Santé Connect" not in page


def test_administrator_restricts_an_account_to_psc_which_still_logs_in_with_psc(
    app, db, logged_in, administrator, professional, psc, establishment
):
    admin = logged_in(administrator)
    response = save_profile(admin, professional, psc_only="y")
    assert response.status_code == 302
    db.refresh(professional)
    assert not professional.local_login_allowed
    page = text(admin.get(f"/admin/users/{professional.id}"))
    assert "désactivée : Pro Santé Connect uniquement" in page
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "admin.user_updated"))
    assert event.detail == {"fields": ["local_login_allowed"]}

    psc.enrol(professional.national_id, professional.first_name, professional.last_name, finess=(establishment.finess,))
    assert psc_login(app.test_client(), psc, professional.national_id).location == "/"


def test_administrator_gives_local_login_back(db, logged_in, administrator, professional):
    professional.local_login_allowed = False
    db.commit()
    save_profile(logged_in(administrator), professional)
    db.refresh(professional)
    assert professional.local_login_allowed


def test_local_login_stays_on_when_psc_is_not_configured(app, db, logged_in, administrator, professional, monkeypatch):
    monkeypatch.delitem(app.extensions, "psc")
    admin = logged_in(administrator)
    assert 'href="/login/psc"' not in text(admin.application.test_client().get("/login"))
    response = save_profile(admin, professional, psc_only="y")
    assert response.status_code == 200
    assert "Pro Santé Connect n'est pas configuré sur ce portail" in text(response)
    db.refresh(professional)
    assert professional.local_login_allowed
    assert app.test_client().get("/login/psc").status_code == 404
