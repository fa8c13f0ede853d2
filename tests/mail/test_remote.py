"""The remote-image proxy fetches public images only, from the address it checked."""

import http.server
import threading

import pytest

from mail.remote import RemoteRefused, fetch_image

PNG = b"\\x89PNG\\r\\n\\x1a\\n" + b"\\x00" * 64


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        routes = {
            "/image.png": (200, "image/png", PNG),
            "/page": (200, "text/html", b"<script>alert(1)</script>"),
            "/svg": (200, "image/svg+xml", b"<svg onload=alert(1)>"),
            "/big.png": (200, "image/png", PNG * 1000),
            "/moved": (302, "text/plain", b""),
        }
        status, content_type, body = routes.get(self.path, (404, "text/plain", b""))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status == 302:
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def anywhere(_address):
    return True


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://localhost/x.png",
        "http://10.0.0.5/x.png",
        "http://192.168.1.1/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.png",
        "http://0.0.0.0/x.png",
    ],
)
def test_private_loopback_and_metadata_addresses_are_refused(url):
    with pytest.raises(RemoteRefused):
        fetch_image(url)


@pytest.mark.parametrize("url", ["ftp://example.org/x.png", "file:///etc/passwd", "http://user:pw@example.org/x.png", "//x"])
def test_only_plain_http_urls_are_fetched(url):
    with pytest.raises(RemoteRefused):
        fetch_image(url)


def test_a_raster_image_comes_back_from_a_permitted_server(server):
    image = fetch_image(f"{server}/image.png", allowed=anywhere)
    assert (image.content_type, image.data) == ("image/png", PNG)


@pytest.mark.parametrize("path", ["/page", "/svg", "/moved", "/missing"])
def test_anything_but_a_raster_image_is_refused(server, path):
    with pytest.raises(RemoteRefused):
        fetch_image(f"{server}{path}", allowed=anywhere)


def test_a_too_large_image_is_refused(server):
    with pytest.raises(RemoteRefused, match="too large"):
        fetch_image(f"{server}/big.png", allowed=anywhere, max_bytes=10_000)


def test_the_default_policy_refuses_the_permitted_test_server(server):
    with pytest.raises(RemoteRefused, match="not a public address"):
        fetch_image(f"{server}/image.png")
