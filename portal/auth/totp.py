"""Time-based one-time passwords (RFC 6238) with replay protection."""

from __future__ import annotations

import time

import pyotp
import segno

# One step of clock drift either way, as RFC 6238 section 5.2 recommends at most.
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def accepted_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step the code belongs to, or None if it is wrong or already used."""
    code = code.replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now) // totp.interval
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if (last_step is None or step > last_step) and totp.verify(code, for_time=step * totp.interval):
            return step
    return None


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """An inline SVG of the QR code: no image request, no inline style, CSP-safe."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, title="Code QR d'enrôlement")
