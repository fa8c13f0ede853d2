"""Login by default: who is logged in, idle lock, Pro Santé Connect's hold on a session, and the end of a session."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, logout_user

from portal import database
from portal.auth import psc
from portal.auth.service import record_logout
from portal.database import utcnow
from portal.models import User

log = logging.getLogger(__name__)
login_manager = LoginManager()

# PSC's access tokens live about five minutes. They are renewed this long before they lapse; each
# renewal is also PSC telling whether the professional's PSC session is still open.
PSC_RENEWAL_MARGIN_SECONDS = 30
# What a user who must first replace an administrator's password may reach.
OWN_PASSWORD_ENDPOINTS = {"auth.password", "auth.logout", "static"}


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = None  # the session id is rotated at login and held server-side
    login_manager.user_loader(_load_user)
    app.before_request(_lock_idle_session)
    app.before_request(_require_login)
    app.before_request(_require_own_password)
    app.before_request(_renew_psc_tokens)


def _load_user(user_id: str) -> User | None:
    user = database.session().get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.is_active:
        # A deactivated account loses its open sessions for good, even if reactivated later.
        session.clear()
        return None
    return user


def _lock_idle_session() -> Response | None:
    if not current_user.is_authenticated:
        return None
    now = utcnow().timestamp()
    idle = current_app.permanent_session_lifetime.total_seconds()
    last_seen = session.get("last_seen", now)
    if now - last_seen > idle:
        record_logout(database.session(), current_user._get_current_object(), "idle_timeout")
        end_session()
        flash(_("Votre session a été verrouillée après une période d'inactivité. Reconnectez-vous."), "info")
        return _to_login()
    session["last_seen"] = now
    return None


def _require_login() -> Response | None:
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or request.endpoint == "static" or getattr(view, "is_public", False):
        return None
    if current_user.is_authenticated:
        return None
    return _to_login()


def _require_own_password() -> Response | None:
    """A password issued by an administrator opens the password page only, until the user has chosen their own.

    Not in a Pro Santé Connect session: its user did not log in with that password, and may not know it.
    """
    if not (current_user.is_authenticated and current_user.password_change_required) or session.get("psc"):
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or request.endpoint in OWN_PASSWORD_ENDPOINTS or getattr(view, "is_public", False):
        return None
    return _to(url_for("auth.password"))


def _renew_psc_tokens() -> Response | None:
    tokens = session.get("psc")
    if not (tokens and tokens.get("refresh_token") and current_user.is_authenticated and psc.enabled()):
        return None
    if request.endpoint == "static" or tokens["expires_at"] - PSC_RENEWAL_MARGIN_SECONDS > utcnow().timestamp():
        return None
    try:
        session["psc"] = psc.client().refresh(tokens)
    except psc.PscUnavailable as error:
        # PSC said nothing either way: the session goes on and the next request asks again.
        log.warning("Pro Santé Connect token renewal failed: %s", error)
    except psc.PscRefused as refused:
        user = current_user._get_current_object()
        record_logout(database.session(), user, "psc_refresh_refused", {"reason": refused.reason})
        end_session()
        flash(_("Pro Santé Connect a mis fin à votre session. Reconnectez-vous."), "info")
        return _to_login()
    return None


def _to_login() -> Response:
    return _to(url_for("auth.login"))


def _to(target: str) -> Response:
    if request.headers.get("HX-Request") == "true":
        # htmx would swap the login page into a fragment: send the whole page there instead.
        response = Response(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def end_session() -> None:
    logout_user()
    session.clear()


