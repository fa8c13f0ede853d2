"""Local login: password, mandatory second factor, lockout, rate limit, session rotation, logout."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal.database import utcnow
from portal.models import AuditEvent
from tests.conftest import PASSWORD, csrf_token, current_code, login, text

PARIS = ZoneInfo("Europe/Paris")


def post_password(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")})


def post_code(client, code, path="/login/code"):
    return client.post(path, data={"code": code, "csrf_token": csrf_token(client, path)})


def actions(db, user=None):
    stmt = select(AuditEvent.action, AuditEvent.outcome).order_by(AuditEvent.id)
    if user is not None:
        stmt = stmt.where(AuditEvent.actor_id == user.id)
    return [tuple(row) for row in db.execute(stmt)]


def test_professional_logs_in_with_password_and_code_and_sees_establishment_and_role(client, db, professional):
    assert login(client, professional, db).status_code == 302
    page = text(client.get("/"))
    assert "EHPAD Les Tilleuls" in page
    assert "Professionnel de santé ou du social" in page
    assert actions(db, professional) == [("auth.password", "success"), ("auth.login", "success")]


def test_home_shows_the_login_before_this_one_so_that_a_stranger_s_login_stands_out(client, db, professional):
    login(client, professional, db)
    assert "première connexion" in text(client.get("/"))
    db.refresh(professional)
    first = professional.last_login_at
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    login(client, professional, db)
    page = text(client.get("/"))
    assert "première connexion" not in page
    assert f"Connexion précédente</dt>\n    <dd>{first.astimezone(PARIS):%d/%m/%Y %H:%M}" in page
    db.refresh(professional)
    assert professional.previous_login_at == first < professional.last_login_at


def test_password_alone_does_not_open_a_session(client, db, professional):
    post_password(client, professional.email)
    response = client.get("/")
    assert response.status_code == 302 and response.location.endswith("/login")


def test_wrong_password_is_refused_with_generic_message_and_audited(client, db, professional):
    response = post_password(client, professional.email, "wrong password")
    assert response.status_code == 200
    assert "Identifiants ou code incorrects." in text(response)
    assert actions(db, professional) == [("auth.password", "failure")]


def test_unknown_email_gets_the_same_message_as_a_wrong_password(client, db):
    response = post_password(client, "nobody@tilleuls.test.mssante.fr")
    assert "Identifiants ou code incorrects." in text(response)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.password"))
    assert (event.actor_label, event.outcome, event.detail) == ("nobody@tilleuls.test.mssante.fr", "failure", {"reason": "unknown"})


def test_wrong_code_is_refused(client, db, professional):
    post_password(client, professional.email)
    good = current_code(professional)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = post_code(client, wrong)
    assert "Identifiants ou code incorrects." in text(response)
    assert client.get("/").status_code == 302
    assert ("auth.totp", "failure") in actions(db, professional)


def test_a_code_cannot_be_used_twice(client, db, professional, app):
    login(client, professional, db)
    used = current_code(professional)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    post_password(client, professional.email)
    response = post_code(client, used)
    assert "Identifiants ou code incorrects." in text(response)


def test_account_locks_after_repeated_failures_even_with_the_right_password(client, db, professional, settings):
    for _ in range(settings.lockout_threshold):
        post_password(client, professional.email, "wrong password")
    response = post_password(client, professional.email)
    assert "le compte est verrouillé jusqu'à" in text(response)
    assert ("auth.locked", "failure") in actions(db, professional)
    db.refresh(professional)
    assert professional.locked_until > utcnow() + timedelta(minutes=settings.lockout_minutes - 1)


def test_lock_expires_after_its_duration(client, db, professional):
    professional.locked_until = utcnow() - timedelta(seconds=1)
    db.commit()
    assert login(client, professional, db).status_code == 302


def test_wrong_codes_count_towards_the_lockout(client, db, professional, settings):
    post_password(client, professional.email)
    for _ in range(settings.lockout_threshold):
        post_code(client, "000000" if current_code(professional) != "000000" else "111111")
    db.refresh(professional)
    assert professional.locked_until is not None


def test_login_attempts_are_rate_limited_per_client_address(client, db):
    statuses = [post_password(client, f"guess{i}@example.org", "x").status_code for i in range(11)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    assert "Trop de tentatives" in text(post_password(client, "guess@example.org", "x"))


def test_first_login_enrols_the_second_factor_with_a_qr_code(client, db, make_user):
    newcomer = make_user("nouveau@tilleuls.test.mssante.fr", enrolled=False)
    response = post_password(client, newcomer.email)
    assert response.location.endswith("/login/enrol")
    page = text(client.get("/login/enrol"))
    assert "<svg" in page and "Activer la double authentification" in page
    with client.session_transaction() as session:
        secret = session["pending"]["enrol_secret"]
    import pyotp

    response = post_code(client, pyotp.TOTP(secret).now(), "/login/enrol")
    assert response.status_code == 302 and response.location.endswith("/")
    db.refresh(newcomer)
    assert newcomer.totp_secret == secret
    assert ("auth.totp_enrolled", "success") in actions(db, newcomer)


def test_session_id_changes_at_login(client, db, professional, app):
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    client.get("/login")
    before = client.get_cookie(cookie_name).value
    login(client, professional, db)
    after = client.get_cookie(cookie_name).value
    assert before != after
    # The pre-login id no longer opens anything.
    client.set_cookie(cookie_name, before)
    assert client.get("/").status_code == 302


def test_logout_ends_the_session_and_is_audited(client, db, professional):
    login(client, professional, db)
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302
    assert client.get("/").status_code == 302
    assert actions(db, professional)[-1] == ("auth.logout", "success")


def test_idle_session_is_locked_after_the_idle_timeout(client, db, professional, settings):
    login(client, professional, db)
    with client.session_transaction() as session:
        session["last_seen"] -= settings.session_idle_minutes * 60 + 1
    response = client.get("/")
    assert response.status_code == 302 and response.location.endswith("/login")
    assert "inactivité" in text(client.get("/login"))
    assert actions(db, professional)[-1] == ("auth.idle_timeout", "success")


def test_htmx_request_without_session_is_sent_to_login_as_a_full_page(client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].endswith("/login")


def test_pending_password_step_expires(client, db, professional):
    post_password(client, professional.email)
    with client.session_transaction() as session:
        session["pending"] = {**session["pending"], "at": session["pending"]["at"] - 301}
    response = client.get("/login/code")
    assert response.status_code == 302 and response.location.endswith("/login")


def change_password(client, current, new, confirm=None):
    return client.post(
        "/account/password",
        data={"current": current, "new": new, "confirm": confirm or new, "csrf_token": csrf_token(client, "/account/password")},
    )


def test_user_changes_password_and_logs_in_with_the_new_one(logged_in, professional, db):
    client = logged_in(professional)
    response = change_password(client, PASSWORD, "une phrase de passe toute neuve")
    assert response.status_code == 302
    assert ("auth.password_changed", "success") in actions(db, professional)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert post_password(client, professional.email, "une phrase de passe toute neuve").location.endswith("/login/code")


def test_password_change_needs_the_current_password(logged_in, professional, db):
    response = change_password(logged_in(professional), "not my password", "une phrase de passe toute neuve")
    assert "Mot de passe actuel incorrect." in text(response)
    assert ("auth.password_change", "failure") in actions(db, professional)


def test_short_new_password_is_refused(logged_in, professional):
    response = change_password(logged_in(professional), PASSWORD, "court")
    assert "Au moins 12 caractères." in text(response)


def test_reactivated_account_does_not_revive_the_session_open_before_deactivation(logged_in, professional, db):
    client = logged_in(professional)
    professional.is_active = False
    db.commit()
    assert client.get("/").status_code == 302
    professional.is_active = True
    db.commit()
    assert client.get("/").status_code == 302
