"""Only administrators reach the administration: others get 403 (audited), anonymous users go to login."""

import pytest
from sqlalchemy import select

from portal.models import AuditEvent
from tests.conftest import csrf_token

# (method, path) of every administration page and action; {user} and {establishment} are ids.
ROUTES = [
    ("GET", "/admin/users"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users/new"),
    ("GET", "/admin/users/{user}"),
    ("POST", "/admin/users/{user}"),
    ("POST", "/admin/users/{user}/deactivate"),
    ("POST", "/admin/users/{user}/reactivate"),
    ("POST", "/admin/users/{user}/reset-totp"),
    ("POST", "/admin/users/{user}/reset-password"),
    ("GET", "/admin/establishments"),
    ("GET", "/admin/establishments/new"),
    ("POST", "/admin/establishments/new"),
    ("GET", "/admin/establishments/{establishment}"),
    ("POST", "/admin/establishments/{establishment}"),
    ("POST", "/admin/establishments/{establishment}/deactivate"),
    ("POST", "/admin/establishments/{establishment}/reactivate"),
]


def call_every_route(client, target, establishment, token):
    """The status of each route, called with a valid CSRF token and a ticked confirmation."""
    statuses = {}
    for method, path in ROUTES:
        url = path.format(user=target.id, establishment=establishment.id)
        data = {"csrf_token": token, "confirm": "y"} if method == "POST" else None
        statuses[f"{method} {path}"] = client.open(url, method=method, data=data).status_code
    return statuses


@pytest.mark.parametrize("cast", ["reception", "professional"])
def test_reception_and_professional_get_403_on_user_and_establishment_administration(
    request, logged_in, administrator, establishment, db, cast
):
    member = request.getfixturevalue(cast)
    client = logged_in(member)
    statuses = call_every_route(client, administrator, establishment, csrf_token(client, "/"))
    assert statuses == {route: 403 for route in statuses}
    db.refresh(administrator)
    assert administrator.is_active and administrator.totp_secret is not None
    denied = db.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert {(e.actor_id, e.outcome) for e in denied} == {(member.id, "denied")}
    assert len(denied) == len(ROUTES)


def test_anonymous_is_redirected_to_login(client, administrator, establishment):
    client.get("/login")
    statuses = call_every_route(client, administrator, establishment, csrf_token(client, "/login"))
    assert statuses == {route: 302 for route in statuses}
    assert client.get("/admin/users").location.endswith("/login")


@pytest.mark.parametrize("path", ["/admin/users/999999", "/admin/establishments/999999"])
def test_unknown_ids_get_404(logged_in, administrator, path):
    client = logged_in(administrator)
    assert client.get(path).status_code == 404
    assert client.post(f"{path}/reactivate", data={"csrf_token": csrf_token(client, "/")}).status_code == 404


def test_state_changes_without_csrf_token_are_refused(logged_in, administrator, professional, db):
    client = logged_in(administrator)
    response = client.post(f"/admin/users/{professional.id}/deactivate", data={"confirm": "y"})
    assert response.status_code == 400
    db.refresh(professional)
    assert professional.is_active
