"""Opposition link tokens: random, typeable (four groups of four base32 characters), stored only as SHA-256."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

# 80 bits: 16 base32 characters, printed as XXXX-XXXX-XXXX-XXXX.
TOKEN_BYTES = 10
# Wrong birth dates accepted on one link before it closes: the date has about 36,500 values.
MAX_FAILED_CHECKS = 10
# What people mistype when copying from paper: digits that look like letters, dashes and spaces.
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})
_SHAPE = re.compile(r"^[A-Z2-7]{16}$")


def new_token() -> str:
    raw = base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode("ascii")
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalised(token: str) -> str | None:
    """The canonical form of a typed token (upper case, no separators), or None if it cannot be one."""
    compact = re.sub(r"[\s\-.]", "", token).upper().translate(_LOOKALIKES)
    return compact if _SHAPE.match(compact) else None


def token_hash(token: str) -> str | None:
    compact = normalised(token)
    return hashlib.sha256(compact.encode("ascii")).hexdigest() if compact else None


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/o/{token}"
