"""Administrators' page of the DUIs allowed to ask the DMP status API; on the notices blueprint."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from notices import dui_clients as registry
from notices.forms import DuiClientForm
from notices.views import bp
from portal import database
from portal.models import User


def _actor() -> User:
    return current_user._get_current_object()


@bp.route("/acces-dui", methods=["GET", "POST"])
def dui_clients():
    db = database.session()
    form = DuiClientForm()
    form.establishment_id.choices = [SelectChoice(e.id, e.name) for e in registry.establishments(_actor())]
    if form.validate_on_submit():
        client, token = registry.create(db, _actor(), form.establishment_id.data, form.name.data)
        # Shown in this response only: never flashed, since flashes are stored in the session.
        return render_template("notices/dui_client_token.html", client=client, token=token)
    return render_template("notices/dui_clients.html", form=form, clients=registry.clients_of(db, _actor()))


@bp.post("/acces-dui/<int:client_id>/revoke")
def dui_client_revoke(client_id: int):
    db = database.session()
    client = registry.get(db, _actor(), client_id) or abort(404)
    registry.revoke(db, _actor(), client)
    flash(_("L'accès de %(name)s est révoqué : son jeton ne sert plus.", name=client.name), "success")
    return redirect(url_for("notices.dui_clients"))
