"""The one TLS client context of the portal's IMAP and SMTP connections."""

from __future__ import annotations

import ssl


def verified_tls_context(ca_file: str | None) -> ssl.SSLContext:
    """TLS 1.2 or newer, certificate and host name always checked."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context
