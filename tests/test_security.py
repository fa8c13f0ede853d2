"""The security baseline every response carries."""

import re

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DatabaseError

from portal.audit.service import SUCCESS, record
from portal.models import AuditEvent, AuditLogIsAppendOnly
from tests.conftest import csrf_token, text

INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+=", re.IGNORECASE)


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_our_pages_need_no_inline_script_or_style(logged_in, administrator):
    client = logged_in(administrator)
    for path in ("/", "/admin/audit/"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page and "style=" not in page and "<style" not in page
        assert not INLINE_HANDLER.search(page)


def test_authenticated_pages_are_not_cached(logged_in, professional):
    assert logged_in(professional).get("/").headers["Cache-Control"] == "no-store"


def test_session_cookie_is_http_only(client):
    client.get("/login")
    cookie = client.get_cookie("portal_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_form_post_without_csrf_token_is_rejected(client, db, professional):
    response = client.post("/login", data={"email": professional.email, "password": "x"})
    assert response.status_code == 400
    assert "Formulaire expiré" in text(response)


def test_htmx_post_with_csrf_header_is_accepted_and_without_it_rejected(logged_in, professional):
    client = logged_in(professional)
    token = csrf_token(client, "/")
    assert client.post("/locale", data={"locale": "en"}, headers={"HX-Request": "true"}).status_code == 400
    response = client.post("/locale", data={"locale": "en"}, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 302


def test_non_administrator_gets_403_on_the_audit_log_and_the_refusal_is_audited(logged_in, reception, db):
    client = logged_in(reception)
    assert client.get("/admin/audit/").status_code == 403
    event = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.outcome, event.actor_id) == ("access.denied", "denied", reception.id)


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/admin/audit/")
    assert response.status_code == 302 and response.location.endswith("/login")


def test_unknown_page_gets_a_french_404(logged_in, professional):
    response = logged_in(professional).get("/nulle-part")
    assert response.status_code == 404 and "Page introuvable" in text(response)


def test_interface_switches_to_english_and_back(logged_in, professional):
    client = logged_in(professional)
    token = csrf_token(client, "/")
    client.post("/locale", data={"locale": "en", "csrf_token": token, "next": "/"})
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_locale_switch_never_redirects_off_site(logged_in, professional):
    client = logged_in(professional)
    token = csrf_token(client, "/")
    for target in ("https://evil.example", "//evil.example", "/\\evil.example"):
        response = client.post("/locale", data={"locale": "fr", "csrf_token": token, "next": target})
        assert response.location == "/"


def test_audit_events_cannot_be_changed_through_the_orm(db):
    event = record(db, "test.event", outcome=SUCCESS, actor_label="test")
    db.commit()
    event.outcome = "failure"
    with pytest.raises(AuditLogIsAppendOnly):
        db.commit()
    db.rollback()


def test_audit_events_cannot_be_changed_in_the_database(db):
    record(db, "test.event", outcome=SUCCESS, actor_label="test")
    db.commit()
    for statement in (update(AuditEvent).values(outcome="failure"), delete(AuditEvent)):
        with pytest.raises(DatabaseError, match="append-only"):
            with db.begin_nested():
                db.execute(statement)


def test_session_data_stays_on_the_server(logged_in, professional, app):
    client = logged_in(professional)
    sid = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    # An opaque random id, not Flask's signed "payload.timestamp.signature" cookie.
    assert "." not in sid and len(sid) >= 40
    assert app.session_interface._retrieve_session_data(app.session_interface._get_store_id(sid))["_user_id"] == str(
        professional.id
    )


def test_form_fields_announce_hints_and_errors_only_when_there_are_some(client):
    page = client.get("/login").get_data(as_text=True)
    assert '"None"' not in page and "aria-describedby" not in page
    refused = client.post("/login", data={"email": "", "password": "", "csrf_token": csrf_token(client, "/login")})
    assert 'aria-invalid="true"' in refused.get_data(as_text=True) and 'aria-describedby="email-errors"' in refused.get_data(as_text=True)
