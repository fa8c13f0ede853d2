"""Pro Santé Connect: the OpenID Connect client, the checks of what PSC answers, and the identity in its claims."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from flask import Flask, Response, current_app
from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from portal.settings import Settings

log = logging.getLogger(__name__)

# scope_all returns the identity and the professional activities (SubjectRefPro) in one userinfo.
SCOPE = "openid scope_all"
# The eIDAS level PSC grants to a CPS card or the e-CPS app; asked for, then checked in the ID token.
ACR = "eidas1"
# Clock skew tolerated between PSC and the portal when checking exp, iat and nbf.
LEEWAY_SECONDS = 60
# Signatures PSC's keys may carry; anything else (HS256 with a public key, "none") is refused.
ALGORITHMS = ["RS256", "PS256", "ES256"]


class PscRefused(Exception):
    """The portal refuses what PSC answered (or PSC refused the professional); `reason` goes to the audit log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PscUnavailable(Exception):
    """PSC could not be reached, or its discovery document does not match the configured issuer."""


@dataclass(frozen=True)
class Identity:
    """The professional as PSC describes them. `sub` is opaque to the portal; the national id is the key."""

    national_id: str
    first_name: str
    last_name: str
    profession_codes: tuple[str, ...]
    # FINESS numbers of the sites and legal entities where the professional works, per the Annuaire Santé.
    finess: frozenset[str]

    @classmethod
    def from_claims(cls, claims: dict) -> Identity:
        """Read PSC's userinfo: SubjectNameID (8 + RPPS, 0 + ADELI), names, SubjectRefPro.exercices[].activities[]."""
        national_id = _text(claims.get("SubjectNameID")) or _text(claims.get("preferred_username"))
        if not national_id:
            raise PscRefused("national_id")
        practices = _objects(_object(claims.get("SubjectRefPro")).get("exercices"))
        activities = [activity for practice in practices for activity in _objects(practice.get("activities"))]
        professions = (_text(practice.get("codeProfession")) for practice in practices)
        finess = (
            _text(activity.get(key))
            for activity in activities
            for key in ("numeroFinessSite", "numeroFinessetablissementJuridique")
        )
        return cls(
            national_id=national_id,
            first_name=_text(claims.get("given_name")),
            last_name=_text(claims.get("family_name")),
            profession_codes=tuple(dict.fromkeys(code for code in professions if code)),
            finess=frozenset(number for number in finess if number),
        )


class PscClient:
    """A confidential client of PSC: authorization code with PKCE (S256), state and nonce, checked ID token."""

    def __init__(self, settings: Settings):
        self.issuer = settings.psc_issuer
        self.client_id = settings.psc_client_id
        if settings.psc_client_auth == "private_key_jwt":
            credential = settings.psc_private_key_file.read_text()
            # The assertion's audience is the token endpoint it is sent to, which discovery tells.
            auth_methods = [PrivateKeyJWT()]
        else:
            credential = settings.psc_client_secret.get_secret_value()
            auth_methods = None
        # authlib keeps state, nonce and the PKCE verifier in the Flask session, which lives on the server.
        self._oauth = FlaskOAuth2App(
            FlaskIntegration("psc"),
            name="psc",
            client_id=settings.psc_client_id,
            client_secret=credential,
            server_metadata_url=settings.resolved_psc_discovery_url(),
            client_auth_methods=auth_methods,
            client_kwargs={
                "scope": SCOPE,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": settings.psc_client_auth,
                "default_timeout": settings.psc_timeout_seconds,
            },
        )

    def authorize_redirect(self, redirect_uri: str) -> Response:
        """Send the browser to PSC's authorization endpoint (on PSC's wallet host, as discovery says)."""
        try:
            self._metadata()
            return self._oauth.authorize_redirect(redirect_uri, acr_values=ACR)
        except requests.RequestException as error:
            raise PscUnavailable(str(error)) from error

    def authorize(self) -> tuple[Identity, dict]:
        """Finish the flow on PSC's callback: the professional, and the tokens the server keeps for them."""
        try:
            self._metadata()
            token = self._oauth.authorize_access_token(claims_options=self._id_token_checks(), leeway=LEEWAY_SECONDS)
            id_claims = token.get("userinfo")  # authlib's name for the claims of the ID token it has checked
            if id_claims is None:
                raise PscRefused("id_token")
            userinfo = self._userinfo(token)
        except MismatchingStateError as error:
            raise PscRefused("state") from error
        except OAuthError as error:
            # access_denied: the professional cancelled at PSC; others: PSC refused the code or the client.
            raise PscRefused("cancelled" if error.error == "access_denied" else "provider") from error
        except JoseError as error:
            raise PscRefused(_jose_reason(error)) from error
        except requests.RequestException as error:
            raise PscUnavailable(str(error)) from error
        # OpenID Connect Core 5.3.2: a userinfo about someone else must be thrown away.
        if userinfo.get("sub") != id_claims["sub"]:
            raise PscRefused("subject")
        return Identity.from_claims(userinfo), _kept(token)

    def refresh(self, tokens: dict) -> dict:
        """New tokens for an open session; PscRefused when PSC no longer honours the session."""
        try:
            token = self._oauth.fetch_access_token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        except OAuthError as error:
            raise PscRefused(error.error or "refresh") from error
        except requests.RequestException as error:
            raise PscUnavailable(str(error)) from error
        return _kept(token, previous=tokens)

    def logout_url(self, tokens: dict, post_logout_redirect_uri: str) -> str | None:
        """PSC's end-session URL for this session; None when PSC cannot be reached (the portal session ends anyway)."""
        try:
            self._metadata()
            return self._oauth.create_logout_url(
                post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=tokens.get("id_token")
            )["url"]
        except (requests.RequestException, PscUnavailable, RuntimeError) as error:
            log.warning("Pro Santé Connect logout skipped: %s", error)
            return None

    def _metadata(self) -> dict:
        metadata = self._oauth.load_server_metadata()
        # OpenID Connect Discovery 4.3: the document must name the issuer we trust, or nothing in it is.
        if metadata.get("issuer") != self.issuer:
            log.error("PSC discovery names issuer %r, configured %r", metadata.get("issuer"), self.issuer)
            raise PscUnavailable("issuer mismatch")
        return metadata

    def _id_token_checks(self) -> dict:
        # A fresh dict each time: authlib consumes the options it is given.
        return {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "acr": {"essential": True, "value": ACR},
        }

    def _userinfo(self, token: dict) -> dict:
        response = self._oauth.get(self._metadata()["userinfo_endpoint"], token=token)
        if response.status_code in (401, 403):
            raise PscRefused("userinfo")
        response.raise_for_status()
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind == "application/jwt":
            return self._signed_claims(response.text)
        if kind == "application/json":
            return response.json()
        raise PscRefused("userinfo")

    def _signed_claims(self, value: str) -> dict:
        """A signed userinfo: PSC's signature, and (OpenID Connect Core 5.3.2) our client id as audience."""
        try:
            token = jwt.decode(value, self._keys(), algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            # PSC rotated its keys since we last fetched them.
            token = jwt.decode(value, self._keys(force=True), algorithms=ALGORITHMS)
        checks = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
        )
        checks.validate(token.claims)
        return dict(token.claims)

    def _keys(self, force: bool = False) -> KeySet:
        return KeySet.import_key_set(self._oauth.fetch_jwk_set(force=force))


def init_app(app: Flask, settings: Settings) -> None:
    if settings.psc_enabled:
        app.extensions["psc"] = PscClient(settings)


def enabled() -> bool:
    return "psc" in current_app.extensions


def client() -> PscClient:
    return current_app.extensions["psc"]


def _kept(token: dict, previous: dict | None = None) -> dict:
    """What the session keeps: PSC may omit a refresh token or ID token on refresh, the last ones still hold."""
    previous = previous or {}
    return {
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token") or previous.get("refresh_token"),
        "id_token": token.get("id_token") or previous.get("id_token"),
        "expires_at": int(token.get("expires_at") or time.time() + int(token.get("expires_in", 0))),
    }


def _jose_reason(error: JoseError) -> str:
    if isinstance(error, (BadSignatureError, InvalidKeyIdError)):
        return "signature"
    if isinstance(error, ClaimError):
        return {"exp": "expired", "iss": "issuer", "aud": "audience", "azp": "audience"}.get(error.claim, error.claim)
    return "malformed"


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _objects(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
