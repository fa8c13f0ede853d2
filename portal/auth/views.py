"""Login, second factor, enrolment and logout pages."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_user

from portal import database
from portal.auth import service, totp
from portal.auth.forms import CodeForm, LoginForm, PasswordChangeForm
from portal.auth.guard import end_session
from portal.database import utcnow
from portal.models import User
from portal.security import limiter, public

bp = Blueprint("auth", __name__)

# The password step is valid this long while the user types the code.
PENDING_SECONDS = 300


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
    return render_template("auth/login.html", form=form)


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
    service.record_logout(database.session(), current_user._get_current_object(), "logout")
    end_session()
    flash(_("Vous êtes déconnecté."), "info")
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


def _flash_refusal(refused: service.LoginRefused) -> None:
    if refused.reason == "locked":
        flash(
            _(
                "Trop d'essais infructueux : le compte est verrouillé jusqu'à %(time)s.",
                time=format_datetime(refused.locked_until, "HH:mm"),
            ),
            "error",
        )
    else:
        flash(_("Identifiants ou code incorrects."), "error")
