"""Reception pages of notice batches: selection and preview, launch, live progress, the print file; on the
notices blueprint."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from notices import batches, service
from notices.forms import BatchForm, offer_establishments
from notices.views import bp
from portal import database
from portal.access import PermissionDenied
from portal.htmx import render_page_or_fragment
from portal.models import User

ID_FILE_ERRORS = {
    "encoding": _l("La liste d'identifiants doit être un fichier texte en UTF-8."),
    "too_many": _l("La liste dépasse %(count)d identifiants."),
    # An empty list would otherwise select every usager of the establishment.
    "empty": _l("Le fichier ne contient aucun identifiant."),
}


def _actor() -> User:
    return current_user._get_current_object()


@bp.get("/batches")
def batches_list():
    if not service.registration_establishments(_actor()):
        raise PermissionDenied("notices.batches")
    db = database.session()
    found = batches.batches_of(db, _actor())
    return render_template(
        "notices/batches_list.html", batches=[(b, batches.progress(db, b)) for b in found], health_data=True
    )


@bp.route("/batches/new", methods=["GET", "POST"])
def batch_new():
    """GET: the selection form. POST: the preview of the plan; with `confirm`, the launch."""
    establishments = service.registration_establishments(_actor())
    if not establishments:
        raise PermissionDenied("notices.batch_new")
    form = BatchForm()
    offer_establishments(form, establishments)
    plan = None
    if form.validate_on_submit():
        selection = _selection(form, establishments[0].id)
        if selection is not None and form.confirm.data:
            batch = batches.launch(database.session(), _actor(), selection, base_url=request.host_url)
            flash(_("Envoi groupé lancé : suivez son avancement ci-dessous."), "success")
            return redirect(url_for("notices.batch", batch_id=batch.id))
        if selection is not None:
            plan = batches.plan_batch(database.session(), _actor(), selection)
            form.local_ids.data = "\n".join(selection.local_ids)
    return render_template("notices/batch_new.html", form=form, plan=plan, health_data=True)


@bp.get("/batches/<int:batch_id>")
def batch(batch_id: int):
    """The batch's progress; its fragment alone for htmx polling, until the batch is done."""
    db = database.session()
    found = _batch_or_404(batch_id)
    progress = batches.progress(db, found)
    return render_page_or_fragment(
        "notices/batch.html",
        "notices/partials/batch_progress.html",
        batch=found,
        progress=progress,
        failures=batches.failures(db, found),
        health_data=True,
    )


@bp.get("/batches/<int:batch_id>/letters.pdf")
def batch_letters(batch_id: int):
    found = _batch_or_404(batch_id)
    pdf = batches.letters_pdf(database.session(), _actor(), found)
    if pdf is None:
        flash(_("Aucune lettre n'est encore prête dans cet envoi."), "info")
        return redirect(url_for("notices.batch", batch_id=found.id))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="envoi-{found.id}-lettres.pdf"',
            "Content-Security-Policy": "default-src 'none'",
        },
    )


def _batch_or_404(batch_id: int):
    return batches.get_batch(database.session(), _actor(), batch_id) or abort(404)


def _selection(form: BatchForm, only_establishment_id: int) -> batches.Selection | None:
    """The form's selection; None, with the error on the form, when the ids file cannot be read."""
    upload = form.ids_file.data
    try:
        if upload and upload.filename:
            local_ids = batches.read_ids(upload.read(batches.MAX_IDS_BYTES + 1))
            if not local_ids:
                raise batches.BadIdsFile("empty")
        else:
            local_ids = batches.read_ids((form.local_ids.data or "").encode())
    except batches.BadIdsFile as bad:
        form.ids_file.errors = [str(ID_FILE_ERRORS[bad.reason] % {"count": batches.MAX_IDS})]
        return None
    return batches.Selection(
        establishment_id=form.establishment_id.data if form.establishment_id else only_establishment_id,
        not_informed=form.not_informed.data,
        admitted_from=form.admitted_from.data,
        admitted_to=form.admitted_to.data,
        local_ids=local_ids,
    )
