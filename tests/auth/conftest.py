"""Pro Santé Connect's stand-in, fresh for each test, and the steps of a PSC login through the test client."""

from __future__ import annotations

import pytest

from tests.auth.oidc_provider import Provider
from tests.conftest import csrf_token

CALLBACK = "http://localhost/login/psc/callback"
LOGIN_PAGE = "http://localhost/login"


@pytest.fixture()
def psc(oidc_provider) -> Provider:
    """The provider, knowing the test client's callback and post-logout addresses, and no one yet."""
    oidc_provider.reset()
    oidc_provider.client.redirect_uris = [CALLBACK]
    oidc_provider.client.post_logout_redirect_uris = [LOGIN_PAGE]
    return oidc_provider


def start_psc_login(client) -> str:
    """Click the PSC button: the portal sends the browser to PSC's authorization endpoint."""
    response = client.get("/login/psc")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.location


def psc_login(client, psc: Provider, national_id: str, choice: str = "valider"):
    """The whole PSC login of the card holder; returns the portal's answer to PSC's callback."""
    psc.insert_card(national_id)
    callback = psc.approve(start_psc_login(client), choice)
    return client.get(callback)


def logout(client):
    return client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
