"""Secrets the database keeps sealed, so that a copy of it (a backup, a dump) does not give them away.

Fernet (AES-128-CBC with an HMAC-SHA256) under the portal's data keys, which live outside the
database (PORTAL_DATA_KEYS). The first key seals; every key opens, so that a new key can be put
first and `portal keys reseal` then seals everything anew under it before the old one goes.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask
from sqlalchemy import Dialect, String
from sqlalchemy.types import TypeDecorator

from portal.settings import Settings, SettingsError


class SealError(RuntimeError):
    """A sealed value that none of the data keys opens: PORTAL_DATA_KEYS lost the key that sealed it."""


# The keys of each database, by its engine's dialect: what a column type is given. Sealed columns then
# work wherever the app's engine is used (requests, workers, tests' sessions), in an app context or not.
_DATABASE_KEYS: WeakKeyDictionary[Dialect, MultiFernet] = WeakKeyDictionary()


def init_app(app: Flask, settings: Settings) -> None:
    """After the database: its sealed columns use the settings' keys."""
    try:
        sealer = keys(settings.resolved_data_keys())
    except ValueError as error:
        raise SettingsError(f"PORTAL_DATA_KEYS: {error}") from None
    _DATABASE_KEYS[app.extensions["database"].engine.dialect] = sealer


def keys_of(dialect: Dialect) -> MultiFernet | None:
    """The keys of the app whose database this dialect is of; None for an engine no app set up."""
    return _DATABASE_KEYS.get(dialect)


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def keys(encoded: list[str]) -> MultiFernet:
    """The keys, newest first; ValueError says which one is not a Fernet key."""
    if not encoded:
        raise ValueError("no key")
    fernets = []
    for position, key in enumerate(encoded, 1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            raise ValueError(f"key {position} is not a Fernet key (32 bytes in url-safe base64)") from None
    return MultiFernet(fernets)


def seal(sealer: MultiFernet, value: str) -> str:
    return sealer.encrypt(value.encode()).decode("ascii")


def open_sealed(sealer: MultiFernet, token: str) -> str:
    try:
        return sealer.decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise SealError("a sealed value opens with none of PORTAL_DATA_KEYS: the key that sealed it is gone") from None


class Sealed(TypeDecorator):
    """A string column stored sealed under the application's data keys; Python code sees the secret.

    A sealed value differs at each sealing: such a column can be tested for NULL, never compared.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else seal(_DATABASE_KEYS[dialect], value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else open_sealed(_DATABASE_KEYS[dialect], value)
