"""Sanitised mail loaded in Chromium with scripts enabled and no CSP: nothing runs, nothing is fetched.

The portal's frame also has a sandbox and a CSP; this test leaves both out on purpose, so that
it proves the sanitiser alone.
"""

from urllib.parse import quote

import pytest

from mail.sanitize import frame_document, render_html, render_text
from tests.mail.xss_vectors import TEXT_VECTORS, XSS_VECTORS

PROXY = "https://portal.test/mail/proxy?url="
# Runs before any content: whatever a vector manages to execute reports here.
TRAP = """
window.__ran = [];
for (const name of ["alert", "confirm", "prompt", "print", "open", "fetch"]) {
  window[name] = function () { window.__ran.push(name); };
}
"""


FRAME_URL = "https://frame.test/message"


@pytest.fixture(scope="module")
def chromium_page(browser):
    context = browser.new_context(java_script_enabled=True)
    context.add_init_script(TRAP)
    page = context.new_page()
    served = {"document": ""}
    requests: list[str] = []
    dialogs: list[str] = []

    def route(route):
        # The document under test is served as the page; every other request is recorded and refused.
        if route.request.url == FRAME_URL:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=served["document"])
        else:
            requests.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page, served, requests, dialogs
    context.close()


def load(chromium_page, document: str) -> tuple[list[str], list[str], list[str]]:
    page, served, requests, dialogs = chromium_page
    served["document"] = document
    requests.clear()
    dialogs.clear()
    page.goto(FRAME_URL, wait_until="load")
    page.wait_for_timeout(30)  # let onerror/onbegin handlers and animations fire
    ran = page.evaluate("window.__ran || []")
    scripts = page.evaluate("document.scripts.length")
    return list(requests), list(dialogs), ran + (["<script> element"] if scripts else [])


@pytest.mark.parametrize("vector", XSS_VECTORS, ids=[v.label for v in XSS_VECTORS])
def test_html_vector_neither_runs_nor_loads_anything(chromium_page, vector):
    requests, dialogs, ran = load(chromium_page, frame_document(render_html(vector.html)))
    assert (requests, dialogs, ran) == ([], [], [])


@pytest.mark.parametrize("vector", XSS_VECTORS, ids=[v.label for v in XSS_VECTORS])
def test_with_remote_content_allowed_only_the_proxy_is_asked(chromium_page, vector):
    proxy = lambda url: PROXY + quote(url, safe="")  # noqa: E731
    requests, dialogs, ran = load(chromium_page, frame_document(render_html(vector.html, allow_remote=True, proxy_url=proxy)))
    assert (dialogs, ran) == ([], [])
    assert all(url.startswith(PROXY) for url in requests), requests


@pytest.mark.parametrize("vector", TEXT_VECTORS, ids=[v.label for v in TEXT_VECTORS])
def test_plain_text_vector_neither_runs_nor_loads_anything(chromium_page, vector):
    requests, dialogs, ran = load(chromium_page, frame_document(render_text(vector.html)))
    assert (requests, dialogs, ran) == ([], [], [])


def test_the_trap_catches_a_script_that_does_run(chromium_page):
    # Proof that the checks above can fail.
    requests, dialogs, ran = load(chromium_page, '<img src="https://evil.test/x.png" onerror="alert(1)">')
    assert requests == ["https://evil.test/x.png"] and ran == ["alert"]
