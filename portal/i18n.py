"""The interface language: French by default, English on request."""

from __future__ import annotations

from flask import Blueprint, current_app, has_request_context, redirect, request, session, url_for

from portal.security import public

bp = Blueprint("i18n", __name__)

LOCALES = ("fr", "en")


def select_locale() -> str:
    chosen = session.get("locale") if has_request_context() else None
    return chosen if chosen in LOCALES else current_app.config["PORTAL_SETTINGS"].default_locale


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
