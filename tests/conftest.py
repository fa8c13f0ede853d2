"""Shared fixtures: the app on a migrated database, per-test isolation, and a cast of users."""

from __future__ import annotations

import html
import os
import re
import time
import uuid
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import text as sql
from sqlalchemy.orm import Session, sessionmaker

from portal import create_app, migrate
from portal.auth import passwords
from portal.database import make_engine
from portal.models import Establishment, Role, User
from portal.security import limiter
from portal.settings import Settings
from tests.auth.oidc_provider import Provider

PASSWORD = "correct horse battery staple"
PASSWORD_HASH = passwords.hash_password(PASSWORD)  # argon2 is slow on purpose: hash once for the cast
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def database_url(tmp_path: Path, name: str) -> str:
    """SQLite by default; PostgreSQL when PORTAL_TEST_DATABASE_URL is set, in a schema of our own."""
    server = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not server:
        return f"sqlite:///{tmp_path / name}.sqlite3"
    schema = f"{name}_{uuid.uuid4().hex[:8]}"
    engine = make_engine(server)
    with engine.begin() as connection:
        connection.execute(sql(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options=-csearch_path%3D{schema}"


def drop_database(url: str) -> None:
    if "search_path" in url:
        schema = url.rsplit("%3D", 1)[1]
        engine = make_engine(url.split("?")[0])
        with engine.begin() as connection:
            connection.execute(sql(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(scope="session")
def oidc_provider():
    """The stand-in for Pro Santé Connect on loopback (tests/auth/oidc_provider.py)."""
    provider = Provider()
    provider.start()
    yield provider
    provider.stop()


def psc_settings(provider: Provider) -> dict:
    """The settings that point a portal at the test provider."""
    return {
        "psc_issuer": provider.issuer,
        "psc_client_id": provider.client.client_id,
        "psc_client_secret": provider.client.client_secret,
    }


@pytest.fixture(scope="session")
def settings(tmp_path_factory, oidc_provider) -> Settings:
    instance = tmp_path_factory.mktemp("instance")
    return Settings(
        env="test", instance_path=instance, database_url=database_url(instance, "portal"), **psc_settings(oidc_provider)
    )


@pytest.fixture(scope="session")
def app(settings):
    app = create_app(settings)
    engine = app.extensions["database"].engine
    migrate.run(engine, "upgrade", "heads")
    yield app
    engine.dispose()
    drop_database(settings.database_url)


@pytest.fixture()
def db(app) -> Session:
    """A session inside a transaction rolled back after the test; the app's requests share it."""
    database = app.extensions["database"]
    connection = database.engine.connect()
    transaction = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    original = database.sessionmaker
    database.sessionmaker = factory
    limiter.reset()
    session = factory()
    yield session
    session.close()
    database.sessionmaker = original
    transaction.rollback()
    connection.close()


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def establishment(db) -> Establishment:
    home = Establishment(finess="720000001", name="EHPAD Les Tilleuls", address="1 rue des Lilas", postal_code="72000", city="Le Mans")
    db.add(home)
    db.flush()
    return home


@pytest.fixture()
def make_user(db, establishment):
    def make(email: str, *roles: Role, enrolled: bool = True, **fields) -> User:
        user = User(
            email=email,
            first_name=fields.pop("first_name", email.split("@")[0].capitalize()),
            last_name=fields.pop("last_name", "Test"),
            password_hash=PASSWORD_HASH,
            totp_secret=pyotp.random_base32() if enrolled else None,
            establishments=fields.pop("establishments", [establishment]),
            **fields,
        )
        user.roles = set(roles)
        db.add(user)
        db.commit()
        return user

    return make


# The cast, by access level.
@pytest.fixture()
def administrator(make_user) -> User:
    return make_user("admin@tilleuls.test.mssante.fr", Role.ADMINISTRATOR)


@pytest.fixture()
def reception(make_user) -> User:
    return make_user("accueil@tilleuls.test.mssante.fr", Role.RECEPTION)


@pytest.fixture()
def professional(make_user) -> User:
    return make_user("infirmiere@tilleuls.test.mssante.fr", Role.PROFESSIONAL, national_id="810000000017", profession_code="60")


@pytest.fixture()
def stranger(make_user, db) -> User:
    elsewhere = Establishment(finess="690000002", name="IME Les Sources", city="Lyon", postal_code="69001")
    db.add(elsewhere)
    return make_user("inconnu@sources.test.mssante.fr", Role.PROFESSIONAL, establishments=[elsewhere])


def text(response) -> str:
    """The page as a reader sees its characters (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def csrf_token(client, path: str) -> str:
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def current_code(user: User, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(user.totp_secret).at(time.time() + 30 * steps_ahead)


def login(client, user: User, db: Session):
    """The whole local login, password then TOTP; returns the last response."""
    user.totp_last_step = None  # each test may log the same account in within one TOTP step
    db.commit()
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client, "/login")}
    )
    assert response.status_code == 302 and response.location.endswith("/login/code"), response.get_data(as_text=True)
    return client.post(
        "/login/code", data={"code": current_code(user), "csrf_token": csrf_token(client, "/login/code")}
    )


@pytest.fixture()
def logged_in(client, db):
    """Log a member of the cast in: `logged_in(administrator)` returns the client."""

    def log(user: User):
        response = login(client, user, db)
        assert response.status_code == 302 and response.location.endswith("/"), response.status_code
        return client

    return log
