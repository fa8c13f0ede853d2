"""Login with Pro Santé Connect against a real OpenID Connect provider on loopback: the flow and every refusal."""

from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from portal.auth import psc as psc_client
from portal.models import AuditEvent, Establishment, User
from tests.auth.conftest import CALLBACK, psc_login, start_psc_login
from tests.conftest import csrf_token, text

REFUSED = "La réponse de Pro Santé Connect n'a pas pu être vérifiée"


def psc_events(db) -> list[tuple[str, str, dict]]:
    stmt = select(AuditEvent).where(AuditEvent.action.startswith("auth.psc")).order_by(AuditEvent.id)
    return [(event.action, event.outcome, event.detail) for event in db.scalars(stmt)]


def is_logged_in(client) -> bool:
    return client.get("/").status_code == 200


@pytest.fixture()
def nurse(psc, professional, establishment):
    """The cast's professional (national id 810000000017), known to PSC with an activity in our establishment."""
    psc.enrol(
        professional.national_id,
        professional.first_name.upper(),
        professional.last_name.upper(),
        profession="60",
        finess=(establishment.finess,),
    )
    return professional


def test_professional_logs_in_with_psc_and_no_second_factor(client, db, psc, nurse):
    response = psc_login(client, psc, nurse.national_id)
    # Straight to the home page: PSC is strong authentication, no TOTP code on top.
    assert response.status_code == 302 and response.location == "/"
    page = text(client.get("/"))
    assert f"Bonjour {nurse.first_name}" in page and "EHPAD Les Tilleuls" in page
    db.refresh(nurse)
    assert nurse.last_login_at is not None
    assert psc_events(db) == [("auth.psc_login", "success", {})]


def test_login_page_offers_psc_above_the_local_login(client, psc):
    page = text(client.get("/login"))
    assert 'href="/login/psc"' in page
    assert page.index('Se connecter avec</span> <span class="psc-name">Pro Santé Connect') < page.index('name="email"')


def test_authorization_request_uses_discovery_pkce_s256_nonce_and_eidas1(client, psc):
    url = urlsplit(start_psc_login(client))
    # The authorization endpoint comes from PSC's discovery document, outside the issuer's path.
    assert f"{url.scheme}://{url.netloc}{url.path}" == psc.url + "/wallet/auth"
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == psc.client.client_id
    assert query["scope"] == "openid scope_all" and query["acr_values"] == "eidas1"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["redirect_uri"] == CALLBACK
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20


def test_callback_with_a_wrong_state_opens_no_session(client, db, psc, nurse):
    psc.insert_card(nurse.national_id)
    callback = psc.approve(start_psc_login(client))
    query = parse_qs(urlsplit(callback).query)
    response = client.get("/login/psc/callback", query_string={"code": query["code"][0], "state": "forged-state"})
    assert response.status_code == 400 and REFUSED in text(response)
    assert not is_logged_in(client)
    assert psc_events(db) == [("auth.psc_login", "failure", {"reason": "state"})]


def test_callback_started_in_another_browser_opens_no_session(app, client, db, psc, nurse):
    # Login CSRF: someone hands their own code and state to the victim's browser.
    psc.insert_card(nurse.national_id)
    other_browser = app.test_client()
    callback = psc.approve(start_psc_login(other_browser))
    response = client.get(callback)
    assert response.status_code == 400 and REFUSED in text(response)
    assert not is_logged_in(client)


def test_a_callback_cannot_be_replayed(client, db, psc, nurse):
    psc.insert_card(nurse.national_id)
    callback = psc.approve(start_psc_login(client))
    assert client.get(callback).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    response = client.get(callback)
    assert response.status_code == 400 and not is_logged_in(client)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("other_nonce", "nonce"),
        ("expired_id_token", "expired"),
        ("tampered_id_token", "signature"),
        ("no_acr", "acr"),
        ("userinfo_of_another", "subject"),
    ],
)
def test_an_answer_that_fails_a_check_opens_no_session(client, db, psc, nurse, fault, reason):
    psc.faults.add(fault)
    response = psc_login(client, psc, nurse.national_id)
    assert response.status_code == 400 and REFUSED in text(response)
    assert not is_logged_in(client)
    assert psc_events(db) == [("auth.psc_login", "failure", {"reason": reason})]


def test_unknown_national_id_gets_a_page_saying_whom_to_ask(client, db, psc):
    psc.enrol("810099999990", "Paul", "Martin", finess=("720000001",))
    response = psc_login(client, psc, "810099999990")
    assert response.status_code == 403
    page = text(response)
    assert "votre identifiant national 810099999990 ne correspond à aucun compte" in page
    assert "administrateur" in page
    assert not is_logged_in(client)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.psc_login"))
    assert (event.actor_label, event.outcome, event.detail) == ("810099999990", "failure", {"reason": "unknown"})
    assert db.scalar(select(User).where(User.national_id == "810099999990")) is None


def test_deactivated_account_is_refused(client, db, psc, nurse):
    nurse.is_active = False
    db.commit()
    response = psc_login(client, psc, nurse.national_id)
    assert response.status_code == 403 and "désactivé" in text(response)
    assert not is_logged_in(client)
    assert psc_events(db) == [("auth.psc_login", "failure", {"reason": "inactive"})]


def test_cancelling_at_psc_says_so(client, db, psc, nurse):
    response = psc_login(client, psc, nurse.national_id, choice="annuler")
    assert response.status_code == 200 and "La connexion a été annulée" in text(response)
    assert not is_logged_in(client)
    assert psc_events(db) == [("auth.psc_login", "failure", {"reason": "cancelled"})]


def test_signed_userinfo_is_verified_and_read(client, db, psc, nurse):
    psc.client.userinfo_signed = True
    assert psc_login(client, psc, nurse.national_id).location == "/"
    assert is_logged_in(client)


def test_a_tampered_signed_userinfo_opens_no_session(client, db, psc, nurse):
    psc.client.userinfo_signed = True
    psc.faults.add("tampered_userinfo")
    response = psc_login(client, psc, nurse.national_id)
    assert response.status_code == 400 and not is_logged_in(client)
    assert psc_events(db) == [("auth.psc_login", "failure", {"reason": "signature"})]


def test_names_and_profession_follow_the_national_directory(client, db, psc, make_user):
    user = make_user(
        "c.durand@tilleuls.test.mssante.fr",
        national_id="810000000033",
        first_name="Claire",
        last_name="Durand",
        profession_code="60",
    )
    psc.enrol("810000000033", "CLAIRE", "MARTIN", profession="10")
    psc_login(client, psc, "810000000033")
    db.refresh(user)
    # A name differing only in case is kept as the administrator wrote it.
    assert (user.first_name, user.last_name, user.profession_code) == ("Claire", "MARTIN", "10")
    assert psc_events(db) == [("auth.psc_login", "success", {"updated": ["last_name", "profession_code"]})]


def test_portal_refuses_a_provider_that_does_not_know_its_credentials(client, db, psc, nurse):
    psc.client.client_secret = "another-secret"
    response = psc_login(client, psc, nurse.national_id)
    assert response.status_code == 400 and not is_logged_in(client)
    assert psc_events(db) == [("auth.psc_login", "failure", {"reason": "provider"})]


def test_client_authenticates_with_a_signed_assertion(app, client, db, psc, nurse, settings, tmp_path, monkeypatch):
    key = RSAKey.generate_key(2048, private=True)
    pem = tmp_path / "psc-client.pem"
    pem.write_bytes(key.as_pem(private=True))
    psc.client.auth_method = "private_key_jwt"
    psc.client.client_secret = ""
    psc.client.public_jwks = KeySet([key]).as_dict(private=False)
    signing = settings.model_copy(update={"psc_client_auth": "private_key_jwt", "psc_private_key_file": pem})
    monkeypatch.setitem(app.extensions, "psc", psc_client.PscClient(signing))
    assert psc_login(client, psc, nurse.national_id).location == "/"
    assert is_logged_in(client)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"psc_discovery_url": "http://127.0.0.1:9/.well-known/wallet-openid-configuration"}, "unreachable"),
        ({"psc_issuer": "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet"}, "another issuer"),
    ],
)
def test_unreachable_or_mismatched_provider_gets_a_clear_page(
    app, client, psc, settings, monkeypatch, change, expected
):
    discovery = {"psc_discovery_url": psc.discovery_url}
    monkeypatch.setitem(
        app.extensions, "psc", psc_client.PscClient(settings.model_copy(update={**discovery, **change}))
    )
    response = client.get("/login/psc")
    assert response.status_code == 503, expected
    assert "Pro Santé Connect ne répond pas" in text(response)


def test_tokens_stay_out_of_the_cookie_the_audit_log_and_the_logs(app, client, db, psc, nurse, caplog):
    caplog.set_level(logging.DEBUG)
    psc_login(client, psc, nurse.national_id)
    token = psc.tokens[-1]
    with client.session_transaction() as session:
        assert session["psc"]["access_token"] == token.access_token  # kept on the server side
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    details = " ".join(str(detail) for *_, detail in db.execute(select(AuditEvent.action, AuditEvent.detail)))
    # The portal's own logs, at every level: the provider's threads log what a provider may.
    portal_logs = "\n".join(r.getMessage() for r in caplog.records if r.thread == threading.get_ident())
    assert "openid-connect/token" in portal_logs  # captured: the portal's HTTP client logs its requests
    for secret in (token.access_token, token.refresh_token):
        assert secret not in cookie and secret not in details and secret not in portal_logs


def test_pending_policy_requests_an_account_that_an_administrator_approves(
    app, db, psc, settings, monkeypatch, establishment, administrator, logged_in
):
    monkeypatch.setattr(settings, "psc_unknown_user", "pending")
    elsewhere = Establishment(finess="440000003", name="MAS Les Embruns")
    db.add(elsewhere)
    db.commit()
    psc.enrol("810000000041", "Lucie", "Bernard", profession="60", finess=(elsewhere.finess, establishment.finess))
    newcomer = app.test_client()

    response = psc_login(newcomer, psc, "810000000041")
    assert response.status_code == 200 and "Votre demande de compte est enregistrée" in text(response)
    user = db.scalar(select(User).where(User.national_id == "810000000041"))
    assert (user.first_name, user.last_name, user.profession_code) == ("Lucie", "Bernard", "60")
    assert user.approval_pending and not user.is_active and not user.local_login_allowed
    assert {e.finess for e in user.establishments} == {"440000003", "720000001"}
    assert psc_events(db)[0][:2] == ("auth.psc_account_requested", "success")

    response = psc_login(newcomer, psc, "810000000041")
    assert response.status_code == 403 and "attend encore la validation" in text(response)

    admin = logged_in(administrator)
    assert "en attente de validation" in text(admin.get("/admin/users?q=Bernard"))
    admin.post(f"/admin/users/{user.id}/reactivate", data={"csrf_token": csrf_token(admin, f"/admin/users/{user.id}")})
    db.refresh(user)
    assert user.is_active and not user.approval_pending
    assert db.scalar(
        select(AuditEvent.action).where(AuditEvent.target == user.email).order_by(AuditEvent.id.desc())
    ) == ("admin.user_approved")
    assert psc_login(newcomer, psc, "810000000041").location == "/"


def test_pending_policy_refuses_someone_working_in_no_establishment_of_the_portal(
    db, client, psc, settings, monkeypatch
):
    monkeypatch.setattr(settings, "psc_unknown_user", "pending")
    psc.enrol("810000000058", "Marc", "Petit", finess=("130000007",))
    response = psc_login(client, psc, "810000000058")
    assert response.status_code == 403 and "ne correspond à aucun compte" in text(response)
    assert db.scalar(select(User).where(User.national_id == "810000000058")) is None
