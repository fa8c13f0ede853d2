"""The interface language: French by default, English on request."""

from __future__ import annotations

from babel.units import format_unit
from flask import Blueprint, current_app, has_request_context, redirect, request, session, url_for
from flask_babel import get_locale

from portal.security import public

bp = Blueprint("i18n", __name__)

LOCALES = ("fr", "en")


def select_locale() -> str:
    chosen = session.get("locale") if has_request_context() else None
    return chosen if chosen in LOCALES else current_app.config["PORTAL_SETTINGS"].default_locale


def file_size(size: int) -> str:
    """A size as the reader's language writes it: 628 o, 2,2 ko, 1,5 Mo in French; 2.2 kB, 1.5 MB in English."""
    for unit, scale in (("digital-megabyte", 1_000_000), ("digital-kilobyte", 1_000)):
        if size >= scale:
            return format_unit(round(size / scale, 1), unit, length="short", locale=get_locale())
    return format_unit(size, "digital-byte", length="short", locale=get_locale())


@bp.post("/locale")
@public
def set_locale():
    locale = request.form.get("locale", "")
    if locale in LOCALES:
        session["locale"] = locale
    # Back to the page the user was on, never to another site.
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = url_for("home.home")
    return redirect(target)
