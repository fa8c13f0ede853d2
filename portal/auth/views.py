"""Login (local or Pro Santé Connect), second factor, enrolment and logout pages."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_user

from portal import database
from portal.auth import psc, service, totp
from portal.auth.forms import CodeForm, LoginForm, PasswordChangeForm
from portal.auth.guard import end_session
from portal.database import utcnow
from portal.models import User
from portal.security import limiter, public

bp = Blueprint("auth", __name__)

# The password step is valid this long while the user types the code.
PENDING_SECONDS = 300
# HTTP status of the page explaining why a PSC login opened no session; other reasons (checks failed): 400.
PSC_REFUSAL_STATUS = {
    "requested": 200,
    "cancelled": 200,
    "unknown": 403,
    "pending": 403,
    "inactive": 403,
    "unavailable": 503,
}


def _login_limit() -> str:
    return current_app.config["PORTAL_SETTINGS"].login_rate_limit


def _policy() -> service.LockoutPolicy:
    settings = current_app.config["PORTAL_SETTINGS"]
    return service.LockoutPolicy(settings.lockout_threshold, timedelta(minutes=settings.lockout_minutes))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = service.check_password(database.session(), _policy(), form.email.data, form.password.data)
        except service.LoginRefused as refused:
            _flash_refusal(refused)
        else:
            pending = {"user_id": user.id, "at": utcnow().timestamp()}
            if user.totp_secret is None:
                pending["enrol_secret"] = totp.new_secret()
            session["pending"] = pending
            return redirect(url_for("auth.enrol" if user.totp_secret is None else "auth.code"))
    return render_template("auth/login.html", form=form, psc_enabled=psc.enabled())


# A link, not a form: a form's redirects are held to the CSP's form-action ('self'), and PSC is elsewhere.
# Starting a login changes nothing but the state kept for PSC's answer.
@bp.get("/login/psc")
@limiter.limit(_login_limit)
@public
def psc_login():
    if not psc.enabled():
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    try:
        return psc.client().authorize_redirect(url_for("auth.psc_callback", _external=True))
    except psc.PscUnavailable:
        service.record_psc_failure(database.session(), "unavailable")
        return _psc_refused("unavailable")


@bp.get("/login/psc/callback")
@limiter.limit(_login_limit)
@public
def psc_callback():
    if not psc.enabled():
        abort(404)
    db = database.session()
    try:
        identity, tokens = psc.client().authorize()
    except psc.PscUnavailable:
        service.record_psc_failure(db, "unavailable")
        return _psc_refused("unavailable")
    except psc.PscRefused as refused:
        service.record_psc_failure(db, refused.reason)
        return _psc_refused(refused.reason)
    try:
        user = service.login_with_psc(db, identity, current_app.config["PORTAL_SETTINGS"].psc_unknown_user)
    except service.LoginRefused as refused:
        return _psc_refused(refused.reason, identity.national_id)
    response = _start_session(user)
    # Kept in the server-side session only: the cookie carries the session id, never a token.
    session["psc"] = tokens
    return response


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def code():
    user = _pending_user()
    if user.totp_secret is None:
        return redirect(url_for("auth.enrol"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            service.check_code(database.session(), _policy(), user, form.code.data)
        except service.LoginRefused as refused:
            _flash_refusal(refused)
        else:
            return _start_session(user)
    return render_template("auth/code.html", form=form, user=user)


@bp.route("/login/enrol", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def enrol():
    user = _pending_user()
    secret = session["pending"].get("enrol_secret")
    if user.totp_secret is not None or secret is None:
        return redirect(url_for("auth.code"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            service.confirm_enrolment(database.session(), _policy(), user, secret, form.code.data)
        except service.LoginRefused as refused:
            _flash_refusal(refused)
        else:
            return _start_session(user)
    uri = totp.provisioning_uri(secret, user.email, current_app.config["PORTAL_SETTINGS"].totp_issuer)
    return render_template("auth/enrol.html", form=form, user=user, qr_svg=totp.qr_svg(uri), secret=secret)


@bp.post("/logout")
def logout():
    tokens = session.get("psc")
    detail = {"method": "psc"} if tokens else None
    service.record_logout(database.session(), current_user._get_current_object(), "logout", detail)
    end_session()
    flash(_("Vous êtes déconnecté."), "info")
    if tokens and psc.enabled():
        # PSC ends its own session too, then sends the browser back to the login page. Not by redirect:
        # the browser holds a form's redirects to the CSP's form-action ('self'); this page hands it over.
        end_session_url = psc.client().logout_url(tokens, url_for("auth.login", _external=True))
        if end_session_url:
            return render_template("auth/logout.html", end_session_url=end_session_url)
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            service.change_password(database.session(), _policy(), user, form.current.data, form.new.data)
        except service.LoginRefused as refused:
            if refused.reason == "locked":
                _flash_refusal(refused)
                end_session()
                return redirect(url_for("auth.login"))
            form.current.errors.append(_("Mot de passe actuel incorrect."))
        else:
            flash(_("Votre mot de passe a été changé."), "success")
            return redirect(url_for("home.home"))
    return render_template("auth/password.html", form=form)


def _pending_user() -> User:
    pending = session.get("pending")
    if not pending or utcnow().timestamp() - pending["at"] > PENDING_SECONDS:
        session.pop("pending", None)
        flash(_("Saisissez à nouveau votre mot de passe."), "info")
        abort(redirect(url_for("auth.login")))
    user = database.session().get(User, pending["user_id"])
    if user is None or not user.is_active:
        abort(redirect(url_for("auth.login")))
    return user


def _start_session(user: User) -> object:
    # A fresh session id at login: an id planted before login is worth nothing after it.
    current_app.session_interface.regenerate(session)
    session.clear()
    login_user(user)
    session["last_seen"] = utcnow().timestamp()
    return redirect(url_for("home.home"))


def _psc_refused(reason: str, national_id: str | None = None):
    page = render_template("auth/psc_refused.html", reason=reason, national_id=national_id)
    return page, PSC_REFUSAL_STATUS.get(reason, 400)


def _flash_refusal(refused: service.LoginRefused) -> None:
    if refused.reason == "psc_only":
        flash(_("Ce compte se connecte uniquement avec Pro Santé Connect."), "error")
    elif refused.reason == "locked":
        flash(
            _(
                "Trop d'essais infructueux : le compte est verrouillé jusqu'à %(time)s.",
                time=format_datetime(refused.locked_until, "HH:mm"),
            ),
            "error",
        )
    else:
        flash(_("Identifiants ou code incorrects."), "error")
