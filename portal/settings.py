"""Typed settings read from the environment (prefix PORTAL_)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """The environment does not describe a safe configuration."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    env: Literal["dev", "test", "production"] = Field(
        "production",
        description="dev and test get embedded defaults; production demands every secret explicitly.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs CSRF tokens and session cookies. Required in production; "
        "in dev/test a random key is kept in the instance directory.",
    )
    data_keys: SecretStr | None = Field(
        None,
        description="Keys that seal the secrets kept in the database (second-factor seeds), comma-separated, "
        "newest first: Fernet keys, made by `portal keys new`. Required in production, and kept apart from "
        "the database's backups; in dev/test a key is kept in the instance directory.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://portal@db/portal. Required in "
        "production; dev/test default to SQLite in the instance directory.",
    )
    instance_path: Path = Field(
        ROOT / "instance",
        description="Directory for the embedded database, the dev secret key and file-backed sessions.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL for sessions and rate-limit counters, needed when several "
        "processes serve the portal. Without it: files in the instance directory and "
        "in-process counters.",
    )
    session_idle_minutes: int = Field(
        120, ge=5, description="A session unused for this long is locked and must log in again."
    )
    login_rate_limit: str = Field(
        "10 per minute;50 per hour",
        description="Login and second-factor attempts allowed per client address.",
    )
    lockout_threshold: int = Field(
        5, ge=1, description="Consecutive failed attempts that lock an account."
    )
    lockout_minutes: int = Field(15, ge=1, description="How long a locked account stays locked.")
    trusted_proxies: int = Field(
        0,
        ge=0,
        description="Number of reverse proxies in front of the portal whose X-Forwarded-For "
        "is trusted for the client address written to the audit log.",
    )
    totp_issuer: str = Field(
        "Portail MSSanté", description="Issuer name shown in the user's authenticator app."
    )
    default_locale: Literal["fr", "en"] = Field("fr", description="Language of the interface.")

    # The MSSanté operator's IMAP server (webmail). Not required yet: without imap_host the
    # webmail is off. scripts/mailstack env prints the values of the dev/test stack.
    imap_host: str | None = Field(
        None, description="Host name of the operator's IMAP server; unset: the webmail is disabled."
    )
    imap_port: int = Field(143, ge=1, le=65535, description="IMAP port (143 with STARTTLS, 993 with TLS).")
    imap_security: Literal["starttls", "tls", "plain"] = Field(
        "starttls",
        description="starttls (upgrade on the IMAP port), tls (implicit TLS, IMAPS) or plain (no "
        "encryption: dev and test on loopback only, refused in production). The server's "
        "certificate and host name are always verified.",
    )
    imap_ca_file: Path | None = Field(
        None,
        description="CA bundle that signed the IMAP (and submission) server's certificate, for an "
        "operator PKI outside the system trust store; unset: the system's trust store.",
    )
    imap_master_user: str | None = Field(
        None,
        description="Dovecot master user of the portal: it logs in as 'mailbox*master_user' to reach "
        "the mailboxes its access rules allow, never with the users' own passwords.",
    )
    imap_master_password: SecretStr | None = Field(
        None, description="Password of the IMAP master user (a secret: set it from the environment)."
    )
    imap_pool_size: int = Field(
        32, ge=2, description="Most IMAP connections kept open at once, all mailboxes together."
    )
    imap_pool_idle_seconds: int = Field(
        300,
        ge=1,
        description="An IMAP connection unused for this long is closed; reused ones save the "
        "200-600 ms of a new login and folder opening.",
    )
    imap_timeout_seconds: float = Field(
        30.0, gt=0, description="Network timeout of one IMAP operation (connect, then each read)."
    )

    # Pro Santé Connect (PSC), the national OpenID Connect provider for professionals. Without
    # psc_issuer the login page offers local accounts only.
    psc_issuer: str | None = Field(
        None,
        description="PSC issuer, compared with the `iss` of every token: ANS test environment "
        "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet, production "
        "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet; unset: PSC login is off.",
    )
    psc_discovery_url: str | None = Field(
        None,
        description="PSC's discovery document; unset: the issuer followed by PSC's non-standard "
        "/.well-known/wallet-openid-configuration.",
    )
    psc_client_id: str | None = Field(None, description="Client id the ANS gave the portal.")
    psc_client_auth: Literal["client_secret_basic", "client_secret_post", "private_key_jwt"] = Field(
        "client_secret_basic",
        description="How the portal authenticates to PSC's token endpoint: with psc_client_secret "
        "(client_secret_basic or client_secret_post), or by signing with psc_private_key_file (private_key_jwt).",
    )
    psc_client_secret: SecretStr | None = Field(
        None, description="Client secret the ANS gave the portal (a secret: set it from the environment)."
    )
    psc_private_key_file: Path | None = Field(
        None, description="PEM RSA private key for private_key_jwt; its public key is registered with the ANS."
    )
    psc_unknown_user: Literal["refuse", "pending"] = Field(
        "refuse",
        description="A professional whose national id matches no account: refuse (a page says whom to "
        "ask), or pending (an inactive account is created, attached to the establishments whose FINESS "
        "PSC lists among their activities, for an administrator to approve; refused when none matches).",
    )
    psc_timeout_seconds: float = Field(10.0, gt=0, description="Network timeout of one request to PSC.")

    # Mail leaves through the operator's SMTP server (Postfix's submission port in the tests).
    smtp_host: str | None = Field(
        None, description="Host of the operator's SMTP server (webmail and notices); unset: nothing is sent."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="Port of that SMTP server (587: submission).")
    smtp_security: Literal["starttls", "tls", "plain"] = Field(
        "starttls",
        description="starttls (upgrade on the SMTP port), tls (implicit TLS, port 465) or plain (no "
        "encryption: loopback in dev and test only). The certificate is always verified.",
    )
    smtp_ca_file: Path | None = Field(
        None, description="CA bundle that signed the SMTP server's certificate; unset: the system's trust store."
    )
    smtp_username: str | None = Field(None, description="SMTP AUTH user, if the server asks for one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password (a secret).")
    smtp_timeout_seconds: float = Field(15.0, gt=0, description="Network timeout of one SMTP exchange.")
    mss_nil: str = Field(
        "PORTAIL-MSSANTE-DEV",
        description="Product reference written in the X-MSS-NIL header of every message the portal sends (webmail "
        "and notices): "
        "the reference the ANS gave the product when it was declared on its Convergence platform.",
    )
    mail_max_message_bytes: int = Field(
        10 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest message the webmail sends, attachments included, as encoded for sending (base64 "
        "makes a file a third bigger): the operator's limit; a bigger message is refused before anything is sent.",
    )
    notice_sender: str = Field(
        "ne-pas-repondre@portail.invalid",
        description="From address of the notices sent by e-mail (the establishment's name is its display name).",
    )
    public_url: str | None = Field(
        None,
        description="Base URL printed in the opposition links (https://portail.example.fr); unset: the URL "
        "the page was requested at.",
    )
    opposition_link_days: int = Field(365, ge=1, description="How long an opposition link stays valid, in days.")
    # The outbox of notice batches (notices.outbox): `portal worker`, or a thread of the app in dev.
    worker_embedded: bool | None = Field(
        None,
        description="Run the outbox worker in a thread of the app, started by its first request; unset: "
        "on in dev (make run), off otherwise (run `portal worker` beside the WSGI server).",
    )
    worker_claim_size: int = Field(20, ge=1, description="Outbox rows a worker claims at once.")
    worker_poll_seconds: float = Field(2.0, gt=0, description="How long an idle worker waits before looking again.")
    worker_lease_seconds: int = Field(
        600,
        ge=1,
        description="A claimed notice untouched for this long is taken back by another worker (its worker "
        "died). The lease restarts when the worker starts on the notice: keep it well above the time one "
        "notice may take (smtp_timeout_seconds, a letter).",
    )
    worker_retry_seconds: int = Field(
        60, ge=1, description="Wait before the first retry of a temporary sending failure; doubled at each attempt."
    )
    worker_max_attempts: int = Field(
        10, ge=1, description="Attempts of a notice before its temporary failures count as a permanent one."
    )
    worker_bounce_seconds: float = Field(
        60,
        gt=0,
        description="How often the worker reads the delivery reports returned to notice_sender (through the "
        "webmail's IMAP access) and marks the notices a server refused after taking them.",
    )
    gnupg_home: Path | None = Field(
        None,
        description="GnuPG home holding the establishments' signing keys; unset: <instance_path>/gnupg, where "
        "a key (ed25519, no passphrase) is made for each establishment on its first proof record.",
    )

    @model_validator(mode="after")
    def _require_psc_credentials(self) -> Settings:
        if not self.psc_issuer:
            return self
        if not self.psc_client_id:
            raise SettingsError("PORTAL_PSC_ISSUER needs PORTAL_PSC_CLIENT_ID.")
        if self.psc_client_auth == "private_key_jwt" and not self.psc_private_key_file:
            raise SettingsError("PORTAL_PSC_CLIENT_AUTH=private_key_jwt needs PORTAL_PSC_PRIVATE_KEY_FILE.")
        if self.psc_client_auth != "private_key_jwt" and not self.psc_client_secret:
            raise SettingsError(f"PORTAL_PSC_CLIENT_AUTH={self.psc_client_auth} needs PORTAL_PSC_CLIENT_SECRET.")
        if self.env == "production" and not all(
            url.startswith("https://") for url in (self.psc_issuer, self.resolved_psc_discovery_url())
        ):
            raise SettingsError("Pro Santé Connect must be reached over https in production.")
        return self

    @model_validator(mode="after")
    def _require_secrets_in_production(self) -> Settings:
        if self.env == "production" and self.imap_security == "plain":
            raise SettingsError("PORTAL_IMAP_SECURITY=plain is for dev and test only; use starttls or tls.")
        if self.env == "production" and self.smtp_security == "plain":
            raise SettingsError("PORTAL_SMTP_SECURITY=plain is for dev and test only; use starttls or tls.")
        if self.env == "production":
            missing = [
                name
                for name, value in (
                    ("PORTAL_SECRET_KEY", self.secret_key),
                    ("PORTAL_DATA_KEYS", self.data_keys),
                    ("PORTAL_DATABASE_URL", self.database_url),
                )
                if not value
            ]
            if missing:
                raise SettingsError(
                    "Refusing to start in production without " + ", ".join(missing)
                    + " (set PORTAL_ENV=dev for the embedded demo)."
                )
            if len(self.secret_key.get_secret_value()) < 32:
                raise SettingsError("PORTAL_SECRET_KEY must be at least 32 characters.")
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def embedded_worker(self) -> bool:
        return self.env == "dev" if self.worker_embedded is None else self.worker_embedded

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.instance_path / 'portal.sqlite3'}"

    @property
    def psc_enabled(self) -> bool:
        return bool(self.psc_issuer)

    def resolved_psc_discovery_url(self) -> str:
        return self.psc_discovery_url or f"{self.psc_issuer.rstrip('/')}/.well-known/wallet-openid-configuration"

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key.get_secret_value()
        return self._instance_key("secret_key", lambda: secrets.token_urlsafe(48))

    def resolved_data_keys(self) -> list[str]:
        if self.data_keys:
            return [key.strip() for key in self.data_keys.get_secret_value().split(",") if key.strip()]
        return [self._instance_key("data_key", lambda: Fernet.generate_key().decode("ascii"))]

    def _instance_key(self, name: str, make: Callable[[], str]) -> str:
        # dev/test only (production is refused above): one key per instance, so that sessions and
        # sealed secrets survive a restart of the demo.
        key_file = self.instance_path / name
        if not key_file.exists():
            self.instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
            key_file.touch(mode=0o600)
            key_file.write_text(make())
        return key_file.read_text().strip()
