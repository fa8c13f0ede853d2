"""A Pro Santé Connect session: tokens renewed on the server, ended when PSC refuses, and PSC logout."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from portal.database import utcnow
from portal.models import AuditEvent
from tests.auth.conftest import LOGIN_PAGE, logout, psc_login
from tests.conftest import text

REFRESH_RE = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)">')


@pytest.fixture()
def signed_in(client, psc, professional, establishment):
    """The cast's professional, logged in with PSC."""
    psc.enrol(professional.national_id, professional.first_name, professional.last_name, finess=(establishment.finess,))
    assert psc_login(client, psc, professional.national_id).location == "/"
    return client


def lapse_access_token(client) -> dict:
    with client.session_transaction() as session:
        session["psc"] = {**session["psc"], "expires_at": int(utcnow().timestamp()) - 1}
        return dict(session["psc"])


def kept_tokens(client) -> dict:
    with client.session_transaction() as session:
        return dict(session.get("psc") or {})


def test_lapsed_access_token_is_renewed_on_the_server(signed_in, psc):
    before = lapse_access_token(signed_in)
    assert signed_in.get("/").status_code == 200
    after = kept_tokens(signed_in)
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # PSC rotates refresh tokens
    assert after["expires_at"] > utcnow().timestamp() + 200
    assert after["access_token"] == psc.tokens[-1].access_token


def test_a_valid_access_token_is_not_renewed(signed_in, psc):
    before = kept_tokens(signed_in)
    signed_in.get("/")
    assert kept_tokens(signed_in) == before and len(psc.tokens) == 1


def test_portal_session_ends_when_psc_refuses_the_renewal(signed_in, db, psc, professional):
    psc.end_sessions_of(professional.national_id)  # e.g. a logout from another PSC service
    lapse_access_token(signed_in)
    response = signed_in.get("/")
    assert response.status_code == 302 and response.location.endswith("/login")
    assert "Pro Santé Connect a mis fin à votre session" in text(signed_in.get("/login"))
    assert signed_in.get("/").status_code == 302
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.psc_refresh_refused"))
    assert (event.actor_id, event.detail) == (professional.id, {"reason": "invalid_grant"})


def test_logout_ends_the_psc_session_and_comes_back_to_the_login_page(signed_in, db, psc, professional):
    sub = psc.professionals[professional.national_id].sub
    response = logout(signed_in)
    assert response.status_code == 200
    end_session_url = html.unescape(REFRESH_RE.search(response.get_data(as_text=True)).group(1))
    assert end_session_url.startswith(psc.issuer + "/protocol/openid-connect/logout?")
    query = parse_qs(urlsplit(end_session_url).query)
    assert query["post_logout_redirect_uri"] == [LOGIN_PAGE] and query["id_token_hint"]
    assert signed_in.get("/").status_code == 302  # the portal session is already over

    at_psc = requests.get(end_session_url, allow_redirects=False, timeout=10)
    assert at_psc.status_code == 302 and at_psc.headers["Location"].startswith(LOGIN_PAGE)
    assert psc.ended_sessions == [sub] and all(token.revoked for token in psc.tokens)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.logout"))
    assert (event.actor_id, event.detail) == (professional.id, {"method": "psc"})


def test_logout_of_a_local_session_stays_on_the_portal(client, db, logged_in, professional):
    response = logout(logged_in(professional))
    assert response.status_code == 302 and response.location.endswith("/login")
