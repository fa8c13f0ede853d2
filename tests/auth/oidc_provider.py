"""An OpenID Connect provider shaped like Pro Santé Connect, built on authlib's server side, served on loopback.

It does what PSC does and checks what PSC checks: discovery on PSC's non-standard path, the authorization
endpoint outside the issuer's path (PSC's wallet host), authorization code with PKCE S256 required, nonce
required, RS256 ID tokens with `acr` (eidas1 when asked), a JWKS, userinfo with PSC's claims (JSON, or a
signed JWT for a client registered so), refresh token rotation, RP-initiated logout, client_secret_basic,
client_secret_post and private_key_jwt. Its authorization page stands for the CPS card or the e-CPS app:
it authenticates whoever the test put "in the reader". `faults` makes it answer wrongly on purpose, the way
an attacker or a broken provider would, so that the tests can show the portal refuses it.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, TokenMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask, jsonify, request
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

REALM_PATH = "/auth/realms/esante-wallet"
ACCESS_TOKEN_SECONDS = 300  # PSC's access tokens live about five minutes


@dataclass
class Professional:
    national_id: str
    given_name: str
    family_name: str
    profession: str = "60"
    finess: tuple[str, ...] = ()
    # Keycloak's opaque subject: the portal must never read the national id out of it.
    sub: str = field(default_factory=lambda: f"f:{uuid.uuid4()}:psc")

    def userinfo(self) -> dict:
        """The claims PSC's userinfo gives with scope_all (a subset of the real ones, same names and shapes)."""
        activities = [
            {
                "codeModeExercice": "S",
                "codeSecteurDactivite": "SA17",
                "numeroFinessSite": number,
                "numeroFinessetablissementJuridique": "",
                "raisonSocialeSite": f"Établissement {number}",
                "codePostal": "72000",
            }
            for number in self.finess
        ]
        return {
            "sub": self.sub,
            "SubjectNameID": self.national_id,
            "preferred_username": self.national_id,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "SubjectRole": [f"{self.profession}^1.2.250.1.213.1.1.5.5"],
            "SubjectRefPro": {
                "codeCivilite": "MME",
                "exercices": [
                    {
                        "codeProfession": self.profession,
                        "codeCategorieProfessionnelle": "C",
                        "nomDexercice": self.family_name,
                        "prenomDexercice": self.given_name,
                        "activities": activities,
                    }
                ],
            },
        }


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str = ""
    auth_method: str = "client_secret_basic"
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    public_jwks: dict | None = None
    userinfo_signed: bool = False

    @property
    def client_metadata(self) -> dict:
        metadata = {"post_logout_redirect_uris": self.post_logout_redirect_uris}
        if self.userinfo_signed:
            metadata["userinfo_signed_response_alg"] = "RS256"
        return metadata

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in scope.split() if s in ("openid", "scope_all"))

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return bool(self.client_secret) and secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return endpoint == "token" and method == self.auth_method

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: Professional
    nonce: str | None
    acr: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return self.acr


@dataclass
class Token(TokenMixin):
    client: Client
    user: Professional
    scope: str
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    issued_at: float = field(default_factory=time.time)
    revoked: bool = False

    def check_client(self, client):
        return client.get_client_id() == self.client.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return self.user

    def get_client(self):
        return self.client


class Provider:
    """The provider and its state; `reset()` between tests."""

    def __init__(self):
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": "psc-test-1", "use": "sig", "alg": "RS256"}, private=True
        )
        self.jwks = KeySet([self.key]).as_dict(private=False)
        self.app = Flask(__name__)
        self.app.config.update(
            OAUTH2_REFRESH_TOKEN_GENERATOR=True,
            OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": ACCESS_TOKEN_SECONDS, "refresh_token": ACCESS_TOKEN_SECONDS},
        )
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.url + REALM_PATH
        self.discovery_url = self.issuer + "/.well-known/wallet-openid-configuration"
        self.token_endpoint = self.issuer + "/protocol/openid-connect/token"
        self.client = Client("portail-mssante", "secret-de-test")
        self.reset()
        self._build()

    def reset(self) -> None:
        self.professionals: dict[str, Professional] = {}
        self.card_holder: str | None = None
        # Wrong answers on purpose: expired_id_token, tampered_id_token, other_nonce, no_acr,
        # userinfo_of_another, tampered_userinfo (for a client registered with a signed userinfo).
        self.faults: set[str] = set()
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: list[Token] = []
        self.nonces: set[str] = set()
        self.jtis: set[str] = set()
        self.ended_sessions: list[str] = []
        self.client.client_secret = "secret-de-test"
        self.client.auth_method = "client_secret_basic"
        self.client.public_jwks = None
        self.client.userinfo_signed = False

    # What the tests do

    def enrol(self, national_id: str, given_name: str, family_name: str, **details) -> Professional:
        """A professional PSC knows (RPPS / ADELI), with their activities."""
        professional = Professional(national_id, given_name, family_name, **details)
        self.professionals[national_id] = professional
        return professional

    def insert_card(self, national_id: str) -> None:
        """The next authorization authenticates this professional, as if their CPS card or e-CPS answered."""
        self.card_holder = national_id

    def end_sessions_of(self, national_id: str) -> None:
        """The professional's PSC session ends elsewhere (logout from another service, session expiry)."""
        for token in self.tokens:
            if token.user.national_id == national_id:
                token.revoked = True

    def approve(self, authorize_url: str, choice: str = "valider") -> str:
        """Submit the authorization page as the card holder would; the URL PSC redirects to."""
        response = requests.post(authorize_url, data={"choice": choice}, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()

    # The provider itself

    def _build(self) -> None:
        provider = self
        server = AuthorizationServer(self.app, query_client=self._query_client, save_token=self._save_token)

        class S256Required(CodeChallenge):
            """PSC demands PKCE with S256 from every client, confidential ones included."""

            SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

            def validate_code_challenge(self, grant, redirect_uri):
                if grant.request.payload.data.get("code_challenge_method") != "S256":
                    raise InvalidRequestError("PKCE with S256 is required.")
                super().validate_code_challenge(grant, redirect_uri)

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

            def save_authorization_code(self, code, request):
                data = request.payload.data
                asked_acr = (data.get("acr_values") or "").split()
                provider.codes[code] = AuthorizationCode(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=request.payload.redirect_uri,
                    scope=request.payload.scope,
                    user=request.user,
                    nonce=data.get("nonce"),
                    acr="eidas1" if "eidas1" in asked_acr and "no_acr" not in provider.faults else None,
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )
                provider.nonces.add(data.get("nonce"))

            def query_authorization_code(self, code, client):
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code):
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class PscOpenIDCode(OpenIDCode):
            def exists_nonce(self, nonce, request):
                return nonce in provider.nonces

            def resolve_client_private_key(self, client):
                return provider.key

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": provider.key.kid}

            def get_client_claims(self, client):
                claims = {"iss": provider.issuer, "aud": client.client_id}  # a string, as Keycloak writes it
                if "expired_id_token" in provider.faults:
                    now = int(time.time())
                    claims.update(iat=now - 3600, auth_time=now - 3600, exp=now - 600)
                return claims

            def get_authorization_code_claims(self, authorization_code):
                claims = super().get_authorization_code_claims(authorization_code)
                if "other_nonce" in provider.faults:
                    claims["nonce"] = "une-autre-demande"
                return claims

            def generate_user_info(self, user, scope):
                return UserInfo(sub=user.sub, preferred_username=user.national_id)

            def encode_id_token(self, token, request):
                id_token = super().encode_id_token(token, request)
                if "tampered_id_token" in provider.faults:
                    id_token = _tampered(id_token)
                return id_token

        class RefreshGrant(grants.RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = CodeGrant.TOKEN_ENDPOINT_AUTH_METHODS
            INCLUDE_NEW_REFRESH_TOKEN = True  # rotation, as Keycloak does

            def authenticate_refresh_token(self, refresh_token):
                for token in provider.tokens:
                    if token.refresh_token == refresh_token and not token.revoked:
                        return token
                return None

            def authenticate_user(self, refresh_token):
                return refresh_token.user

            def revoke_old_credential(self, refresh_token):
                refresh_token.revoked = True

        class PrivateKeyJWT(JWTBearerClientAssertion):
            CLIENT_AUTH_METHOD = "private_key_jwt"

            def get_audiences(self):
                return [provider.token_endpoint, provider.issuer]

            def validate_jti(self, claims, jti):
                if jti in provider.jtis:
                    return False
                provider.jtis.add(jti)
                return True

            def resolve_client_public_key(self, client):
                return KeySet.import_key_set(client.public_jwks)

        class AccessTokens(BearerTokenValidator):
            def authenticate_token(self, token_string):
                return next((t for t in provider.tokens if t.access_token == token_string), None)

        class PscUserInfo(UserInfoEndpoint):
            def get_issuer(self):
                return provider.issuer

            def generate_user_info(self, user, scope):
                claims = user.userinfo()
                if "userinfo_of_another" in provider.faults:
                    claims["sub"] = "f:00000000-0000-0000-0000-000000000000:psc"
                return UserInfo(claims)

            def resolve_private_key(self):
                return provider.key

            def get_supported_algorithms(self):
                return ["RS256"]

            def __call__(self, request):
                status, body, headers = super().__call__(request)
                if "tampered_userinfo" in provider.faults:
                    body = _tampered(body)
                return status, body, headers

        class PscEndSession(EndSessionEndpoint):
            def get_server_jwks(self):
                return provider.jwks

            def end_session(self, end_session_request):
                claims = end_session_request.id_token_claims or {}
                provider.ended_sessions.append(claims.get("sub"))
                for token in provider.tokens:
                    if token.user.sub == claims.get("sub"):
                        token.revoked = True

        resources = ResourceProtector()
        resources.register_token_validator(AccessTokens())
        server.register_grant(CodeGrant, [S256Required(required=True), PscOpenIDCode(require_nonce=True)])
        server.register_grant(RefreshGrant)
        server.register_client_auth_method("private_key_jwt", PrivateKeyJWT())
        server.register_endpoint(PscUserInfo(resource_protector=resources))
        server.register_endpoint(PscEndSession)

        app = self.app

        @app.get(REALM_PATH + "/.well-known/wallet-openid-configuration")
        def discovery():
            return jsonify(provider._metadata())

        @app.get(REALM_PATH + "/protocol/openid-connect/certs")
        def certs():
            return jsonify(provider.jwks)

        @app.route("/wallet/auth", methods=["GET", "POST"])
        def authorize():
            holder = provider.professionals.get(provider.card_holder)
            try:
                grant = server.get_consent_grant(end_user=holder)
            except OAuth2Error as error:
                return f"<p>Demande refusée : {html.escape(error.description or error.error)}</p>", 400
            if request.method == "GET":
                return _authorization_page(holder)
            granted = holder if request.form.get("choice") == "valider" else None
            return server.create_authorization_response(grant_user=granted, grant=grant)

        @app.post(REALM_PATH + "/protocol/openid-connect/token")
        def token():
            return server.create_token_response()

        @app.route(REALM_PATH + "/protocol/openid-connect/userinfo", methods=["GET", "POST"])
        def userinfo():
            return server.create_endpoint_response("userinfo")

        @app.route(REALM_PATH + "/protocol/openid-connect/logout", methods=["GET", "POST"])
        def logout():
            return server.create_endpoint_response("end_session") or "<p>Vous êtes déconnecté de Pro Santé Connect.</p>"

        @app.get("/favicon.ico")
        def favicon():
            return "", 204

    def _metadata(self) -> dict:
        realm = self.issuer + "/protocol/openid-connect"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url + "/wallet/auth",
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": realm + "/userinfo",
            "end_session_endpoint": realm + "/logout",
            "jwks_uri": realm + "/certs",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "scopes_supported": ["openid", "scope_all"],
            "acr_values_supported": ["eidas1"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "claims_supported": [
                "sub",
                "SubjectNameID",
                "preferred_username",
                "given_name",
                "family_name",
                "SubjectRefPro",
            ],
        }

    def _query_client(self, client_id: str) -> Client | None:
        return self.client if client_id == self.client.client_id else None

    def _save_token(self, token: dict, request) -> None:
        self.tokens.append(
            Token(
                client=request.client,
                user=request.user,
                scope=token.get("scope", ""),
                access_token=token["access_token"],
                expires_in=token["expires_in"],
                refresh_token=token.get("refresh_token"),
            )
        )


def _authorization_page(holder: Professional | None) -> str:
    who = f"{holder.given_name} {holder.family_name} ({holder.national_id})" if holder else "aucune carte"
    return f"""<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Pro Santé Connect (test)</title></head>
<body><h1>Pro Santé Connect (environnement de test)</h1><p>Carte lue : {html.escape(who)}</p>
<form method="post"><button name="choice" value="valider">Valider avec ma carte</button>
<button name="choice" value="annuler">Annuler</button></form></body></html>"""


def _tampered(token: str) -> str:
    """The same signature over a payload someone changed: here, to name another professional."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["preferred_username"] = "810000000099"
    if "SubjectNameID" in claims:
        claims["SubjectNameID"] = "810000000099"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"
