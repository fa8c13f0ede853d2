"""Fetch a remote image of a message for the user who asked to see remote content, and nothing else.

The portal fetches in the user's stead so that the sender learns neither the user's address nor
their browser; it refuses every address that is not on the public internet (the portal's own
network, loopback, link-local cloud metadata...), checking the address it actually connects to.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mail.mime import RASTER_IMAGES

MAX_BYTES = 5 * 1024 * 1024
TIMEOUT_SECONDS = 5.0

AddressPolicy = Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool]


class RemoteRefused(Exception):
    """The URL, its address or its answer is not something the portal will pass on."""


@dataclass(frozen=True)
class RemoteImage:
    content_type: str
    data: bytes


def public_only(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_global and not address.is_multicast


def fetch_image(
    url: str, *, allowed: AddressPolicy = public_only, timeout: float = TIMEOUT_SECONDS, max_bytes: int = MAX_BYTES
) -> RemoteImage:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise RemoteRefused("only plain http(s) URLs")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _checked_address(parts.hostname, port, allowed)
    connection = _connection(parts.scheme, parts.hostname, port, address, timeout)
    try:
        path = parts.path or "/"
        connection.request("GET", f"{path}?{parts.query}" if parts.query else path, headers={
            "Accept": ", ".join(sorted(RASTER_IMAGES)),
            "User-Agent": "Portail-MSSante-image-proxy",
        })
        response = connection.getresponse()
        # Redirects are not followed: each hop would need the same checks, and trackers love them.
        if response.status != 200:
            raise RemoteRefused(f"answer {response.status}")
        content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in RASTER_IMAGES:
            raise RemoteRefused(f"not a raster image: {content_type!r}")
        data = response.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise RemoteRefused("image too large")
        return RemoteImage(content_type, data)
    except (OSError, http.client.HTTPException) as error:
        raise RemoteRefused(str(error)) from error
    finally:
        connection.close()


def _checked_address(host: str, port: int, allowed: AddressPolicy) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise RemoteRefused(f"cannot resolve {host}") from error
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    # Every answer must be acceptable, or a resolver could slip a private one in beside a public one.
    if not addresses or not all(allowed(a) for a in addresses):
        raise RemoteRefused(f"{host} is not a public address")
    return str(addresses[0])


def _connection(scheme: str, host: str, port: int, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to the checked address, still speaking to `host` (Host header, TLS name)."""
    if scheme == "https":
        return _PinnedHTTPS(host, port, address=address, timeout=timeout, context=ssl.create_default_context())
    return _PinnedHTTP(host, port, address=address, timeout=timeout)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, **options):
        super().__init__(host, port, **options)
        self._address = address

    def connect(self) -> None:
        # Connect to the address that was checked, never resolve the name a second time.
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, **options):
        super().__init__(host, port, **options)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
