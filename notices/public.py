"""The public page of an opposition link (`/o/<token>`): no account, rate-limited, the token kept out of logs."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from notices import oppositions, rendering, texts
from notices.models import OppositionLink
from portal import database
from portal.redaction import redact_request_logs
from portal.security import limiter, public

bp = Blueprint("notices_public", __name__, url_prefix="/o")
RATE_LIMIT = "30/minute"
# The session remembers which link was opened and whether its birth date was typed right, so the
# token appears in one URL only, which redirects at once: not in the history of the next pages.
LINK_KEY, CHECKED_KEY = "opposition_link", "opposition_link_checked"
# The token is the key to the link: request logs show /o/… instead.
redact_request_logs(r"/o/[^\s/?\"]+", "/o/…")


@bp.get("/<token>")
@public
@limiter.limit(RATE_LIMIT)
def follow(token: str):
    return _open(token)


@bp.route("", methods=["GET", "POST"])
@public
@limiter.limit(RATE_LIMIT)
def link():
    """The code form, then the birth-date check, then the information and the opposition form."""
    db = database.session()
    if request.method == "POST" and "code" in request.form:
        return _open(request.form["code"])
    link_id = session.get(LINK_KEY)
    current = db.get(OppositionLink, link_id) if link_id else None
    if current is None:
        return render_template("notices/public_code.html", error=None)
    try:
        oppositions.usable(current)
    except oppositions.LinkGone as gone:
        return _gone(gone.link, gone.why)
    if session.get(CHECKED_KEY) != current.id:
        return _birth_date_check(db, current)
    return _information(db, current)


@bp.post("/opposition")
@public
@limiter.limit(RATE_LIMIT)
def oppose():
    db = database.session()
    current = _checked_link(db)
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _information(db, current, error=_("Indiquez la raison de votre opposition, avec vos mots."))
    oppositions.oppose(db, current, reason[:4000])
    return redirect(url_for("notices_public.link"))


@bp.post("/withdrawal")
@public
@limiter.limit(RATE_LIMIT)
def withdraw():
    db = database.session()
    oppositions.withdraw(db, _checked_link(db))
    return redirect(url_for("notices_public.link"))


def _open(token: str):
    found = oppositions.find_link(database.session(), token)
    if found is None:
        return render_template("notices/public_code.html", error=_("Ce code ne correspond à aucune notice.")), 404
    session[LINK_KEY] = found.id
    session.pop(CHECKED_KEY, None)
    return redirect(url_for("notices_public.link"), 303)


def _birth_date_check(db, current: OppositionLink):
    error = None
    if request.method == "POST":
        if oppositions.check_birth_date(db, current, _parse_date(request.form.get("birth_date", ""))):
            session[CHECKED_KEY] = current.id
            return redirect(url_for("notices_public.link"), 303)
        try:
            oppositions.usable(current)
        except oppositions.LinkGone as gone:
            return _gone(gone.link, gone.why)
        # Neutral: says nothing of whether the date is close, or of whom the notice is about.
        error = _("Cette date ne permet pas d'ouvrir l'information. Vérifiez-la et recommencez.")
    return render_template("notices/public_check.html", error=error)


def _information(db, current: OppositionLink, error: str | None = None):
    notice = current.notice
    usager = notice.usager
    content = rendering.NoticeContent(
        sender=texts.sender(usager.establishment),
        recipient=rendering.Recipient(name=notice.addressee_name),
        variant=notice.variant,
        usager_name=usager.display_name,
        body=notice.text.body,
        link=url_for("notices_public.link", _external=True),
        reference=notice.reference,
        issued_on=notice.created_at.date(),
        may_oppose=notice.may_oppose,
    )
    return render_template(
        "notices/public_link.html",
        notice=notice,
        establishment=usager.establishment,
        body=rendering.render_html(content),
        opposition=oppositions.active_opposition(db, usager.id),
        error=error,
    )


def _checked_link(db) -> OppositionLink:
    link_id = session.get(LINK_KEY)
    if not link_id or session.get(CHECKED_KEY) != link_id:
        abort(403)
    current = db.get(OppositionLink, link_id)
    try:
        return oppositions.usable(current)
    except oppositions.LinkGone:
        abort(410)


def _gone(current: OppositionLink, why: str):
    return render_template("notices/public_gone.html", why=why, establishment=current.notice.usager.establishment), 410


def _parse_date(value: str) -> date | None:
    """A date as a date field sends it (2024-03-14) or as people type it (14/03/2024)."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    return None
