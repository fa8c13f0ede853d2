"""A live portal on loopback and headless Chromium (Debian's) driving it."""

from __future__ import annotations

import shutil
import threading

import pyotp
import pytest
from werkzeug.serving import make_server

from portal import create_app, migrate
from portal.settings import Settings
from tests.conftest import PASSWORD, database_url, drop_database, psc_settings

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory, oidc_provider):
    """Its own database: the live server runs in another thread than the test's transaction."""
    instance = tmp_path_factory.mktemp("live")
    settings = Settings(
        env="test", instance_path=instance, database_url=database_url(instance, "live"), **psc_settings(oidc_provider)
    )
    app = create_app(settings)
    migrate.run(app.extensions["database"].engine, "upgrade", "heads")
    yield app
    app.extensions["database"].engine.dispose()
    drop_database(settings.database_url)


@pytest.fixture(scope="session")
def live_url(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: `make test` installs it (scripts/test-services)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def is_harness_noise(message: str) -> bool:
    # Playwright's own probes into a mail's sandboxed frame are refused by Chromium, which says so:
    # that is the sandbox working, not an error of the page.
    return message.startswith("Blocked script execution in") and "frame is sandboxed" in message


@pytest.fixture()
def page(browser):
    """A fresh browser context; fails the test on any console error (a CSP violation is one)."""
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    errors = []
    page.on(
        "console",
        lambda message: errors.append(message.text)
        if message.type == "error" and not is_harness_noise(message.text)
        else None,
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def log_in(page, live_url: str, email: str, secret: str) -> None:
    page.goto(f"{live_url}/login")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("Code à 6 chiffres").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Se connecter").click()
