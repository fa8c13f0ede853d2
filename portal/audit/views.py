"""The audit log viewer, for administrators."""

from __future__ import annotations

from flask import Blueprint, request
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from portal import database
from portal.audit import service
from portal.audit.forms import AuditFilterForm
from portal.htmx import render_page_or_fragment

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@bp.get("/")
def events():
    db = database.session()
    form = AuditFilterForm(request.args)
    form.action.choices = [SelectChoice("", _("Toutes"))] + [
        SelectChoice(a, service.action_label(a)) for a in service.actions(db, current_user)
    ]
    filters = service.AuditFilter()
    if form.validate():
        filters = service.AuditFilter(
            actor=(form.actor.data or "").strip(), action=form.action.data, since=form.since.data, until=form.until.data
        )
    page = service.search(db, current_user, filters, form.page.data or 1)
    return render_page_or_fragment(
        "audit/events.html", "audit/partials/results.html", form=form, page=page, action_label=service.action_label
    )
