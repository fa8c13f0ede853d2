"""Reception pages: the usagers of the user's establishments, their registration and their notice plan."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice

from notices import service
from notices.forms import MAX_REPRESENTATIVES, SearchForm, UsagerForm
from notices.models import Usager
from portal import database
from portal.access import PermissionDenied
from portal.htmx import render_page_or_fragment
from portal.models import User

bp = Blueprint("notices", __name__, url_prefix="/usagers")

VARIANT_LABELS = {
    "usager": _l("Notice pour l'usager"),
    "facile_a_lire": _l("Version facile à lire et à comprendre (FALC)"),
    "representant": _l("Notice pour le représentant légal d'un majeur"),
    "parents": _l("Notice pour les parents d'un mineur"),
}
CHANNEL_LABELS = {
    "mssante": _l("messagerie de Mon espace santé"),
    "email": _l("e-mail"),
    "courrier": _l("courrier"),
    "remise_en_main_propre": _l("remise en main propre"),
}


@bp.app_template_filter()
def variant_label(variant: str) -> str:
    return str(VARIANT_LABELS[variant])


@bp.app_template_filter()
def channel_label(channel: str) -> str:
    return str(CHANNEL_LABELS[channel])


def _actor() -> User:
    return current_user._get_current_object()


@bp.get("")
def usagers():
    form = SearchForm(request.args)
    text, number = (form.q.data or "", form.page.data or 1) if form.validate() else ("", 1)
    page = service.search_usagers(database.session(), _actor(), text, number)
    return render_page_or_fragment(
        "notices/usagers.html",
        "notices/partials/usager_results.html",
        form=form,
        page=page,
        may_register=bool(service.registration_establishments(_actor())),
        health_data=True,
    )


@bp.route("/new", methods=["GET", "POST"])
def usager_new():
    establishments = service.registration_establishments(_actor())
    if not establishments:
        raise PermissionDenied("notices.create_usager")
    form = UsagerForm()
    form.establishment_id.choices = [SelectChoice(e.id, e.name) for e in establishments]
    saved = _save(
        form, lambda data: service.create_usager(database.session(), _actor(), form.establishment_id.data, data)
    )
    if saved:
        return _saved_redirect(saved)
    return render_template("notices/usager_new.html", form=form, health_data=True)


@bp.get("/<int:usager_id>")
def usager(usager_id: int):
    target = _usager_or_404(usager_id)
    return render_template(
        "notices/usager.html",
        usager=target,
        plan=service.plan_for(target),
        may_edit=service.may_edit(_actor(), target),
        health_data=True,
    )


@bp.route("/<int:usager_id>/edit", methods=["GET", "POST"])
def usager_edit(usager_id: int):
    target = _usager_or_404(usager_id)
    if not service.may_edit(_actor(), target):
        raise PermissionDenied("notices.update_usager")
    form = UsagerForm(obj=None if request.method == "POST" else target)
    del form.establishment_id  # a usager does not move between establishments

    def save(data: service.UsagerData) -> Usager:
        service.update_usager(database.session(), _actor(), target, data)
        return target

    if _save(form, save):
        return _saved_redirect(target)
    return render_template("notices/usager_edit.html", form=form, usager=target, health_data=True)


def _usager_or_404(usager_id: int) -> Usager:
    return service.get_usager(database.session(), _actor(), usager_id) or abort(404)


def _save(form: UsagerForm, save) -> Usager | None:
    """The saved usager, or None: the form is shown again (with one more empty row if asked)."""
    if form.add_representative.data:
        # Not a save: no validation messages on a form the user has not finished.
        if len(form.representatives) < MAX_REPRESENTATIVES:
            form.representatives.append_entry()
        return None
    if not form.validate_on_submit():
        return None
    try:
        return save(form.usager_data())
    except service.Duplicate as duplicate:
        messages = {
            "local_id": _("Un usager de l'établissement a déjà cet identifiant de dossier."),
            "ins": _("Un usager de l'établissement a déjà ce matricule INS."),
        }
        form[duplicate.field].errors = [*form[duplicate.field].errors, messages[duplicate.field]]
        return None


def _saved_redirect(usager: Usager):
    flash(_("Le dossier de %(name)s est enregistré.", name=usager.display_name), "success")
    return redirect(url_for("notices.usager", usager_id=usager.id))
