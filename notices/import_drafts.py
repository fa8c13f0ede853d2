"""DUI files waiting between their preview and their import, kept on the server for an hour.

The key is a random token held in the user's server-side session: the file never travels again,
and its key never appears in a URL or a page. With PORTAL_REDIS_URL the files live in Redis,
shared by every process of the portal as sessions are; otherwise in the instance directory,
readable by the portal's user only.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass

from cachelib import BaseCache, FileSystemCache, RedisCache
from flask import Flask, current_app, session

TTL_SECONDS = 3600
SESSION_KEY = "usager_import"


@dataclass(frozen=True)
class Draft:
    user_id: int
    establishment_id: int
    filename: str
    data: bytes


def init_app(app: Flask) -> None:
    settings = app.config["PORTAL_SETTINGS"]
    if settings.redis_url:
        import redis

        store: BaseCache = RedisCache(
            redis.Redis.from_url(settings.redis_url), key_prefix="portal:usager-import:", default_timeout=TTL_SECONDS
        )
    else:
        store = FileSystemCache(
            str(settings.instance_path / "usager-imports"), threshold=200, default_timeout=TTL_SECONDS, mode=0o600
        )
    app.extensions["usager_import_drafts"] = store


def keep(draft: Draft) -> None:
    """Keep the user's file, in place of the one they uploaded before, if any."""
    discard()
    token = secrets.token_urlsafe(32)
    _store().set(token, asdict(draft))
    session[SESSION_KEY] = token


def current(user_id: int) -> Draft | None:
    """The file this session uploaded, if it has not expired; never another user's."""
    token = session.get(SESSION_KEY)
    value = _store().get(token) if token else None
    if value is None or value["user_id"] != user_id:
        return None
    return Draft(**value)


def discard() -> None:
    token = session.pop(SESSION_KEY, None)
    if token:
        _store().delete(token)


def _store() -> BaseCache:
    return current_app.extensions["usager_import_drafts"]
