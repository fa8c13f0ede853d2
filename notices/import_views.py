"""Reception pages importing usagers from the DUI: upload, dry-run report, import; on the notices blueprint."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from notices import import_drafts, import_service, importer, service
from notices.forms import ImportForm, offer_establishments
from notices.views import bp
from portal import database
from portal.access import PermissionDenied
from portal.models import Establishment, User

MEGABYTE = 1024 * 1024
# The file plus the few form fields around it.
UPLOAD_LIMIT = importer.MAX_BYTES + 64 * 1024


def _actor() -> User:
    return current_user._get_current_object()


@bp.url_value_preprocessor
def _limit_upload(endpoint: str | None, _values: dict | None) -> None:
    # This hook runs before any before_request, so before the CSRF check reads (and spools) the body.
    if endpoint == "notices.usager_import":
        request.max_content_length = UPLOAD_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):
    # Raised while the CSRF check reads the body, before the login guard: the user may be anyone.
    establishments = service.registration_establishments(_actor()) if current_user.is_authenticated else []
    if not establishments:
        return error
    form = ImportForm(formdata=None)
    offer_establishments(form, establishments)
    form.file.errors = [_("Le fichier dépasse %(size)d Mo.", size=importer.MAX_BYTES // MEGABYTE)]
    return _form_page(form), 413


@bp.route("/import", methods=["GET", "POST"])
def usager_import():
    establishments = service.registration_establishments(_actor())
    if not establishments:
        raise PermissionDenied("notices.usager_import")
    form = ImportForm()
    offer_establishments(form, establishments)
    if form.validate_on_submit():
        establishment_id = form.establishment_id.data if len(establishments) > 1 else establishments[0].id
        upload = form.file.data
        data = upload.read(importer.MAX_BYTES + 1)
        try:
            importer.read(data)  # an unreadable file is refused here, with the form still on screen
        except importer.UnreadableFile as unreadable:
            form.file.errors = [str(unreadable)]
        else:
            filename = (upload.filename or "")[-200:]
            import_drafts.keep(import_drafts.Draft(_actor().id, establishment_id, filename, data))
            return redirect(url_for("notices.usager_import_report"))
    return _form_page(form)


@bp.route("/import/report", methods=["GET", "POST"])
def usager_import_report():
    """GET: the dry run of the uploaded file. POST: the import itself, then its report."""
    draft = import_drafts.current(_actor().id)
    if draft is None:
        flash(
            _("Aucun fichier en attente : l'import a déjà été fait, ou le fichier a expiré. Choisissez-le à nouveau.")
        )
        return redirect(url_for("notices.usager_import"))
    db = database.session()
    run = import_service.apply if request.method == "POST" else import_service.preview
    try:
        report = run(db, _actor(), draft.establishment_id, draft.data)
    except import_service.ImportFailed as failed:
        flash(str(failed), "error")
        # After a failed import, its dry run again; after a failed dry run, the form (not the same page again).
        return redirect(
            url_for("notices.usager_import_report" if request.method == "POST" else "notices.usager_import")
        )
    if report.applied:
        import_drafts.discard()
    return render_template(
        "notices/usager_import_report.html",
        report=report,
        draft=draft,
        establishment=db.get(Establishment, draft.establishment_id),
        encoding_label=importer.ENCODING_LABELS[report.encoding],
        delimiter_label=importer.DELIMITER_LABELS.get(report.delimiter),
        health_data=True,
    )


@bp.get("/import/modele.csv")
def usager_import_template():
    if not service.registration_establishments(_actor()):
        raise PermissionDenied("notices.usager_import")
    # A BOM, so that Excel opens the accented headers of a UTF-8 file correctly.
    return Response(
        "\ufeff" + importer.csv_template(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="usagers-modele.csv"'},
    )


def _form_page(form: ImportForm) -> str:
    return render_template(
        "notices/usager_import.html",
        form=form,
        max_megabytes=importer.MAX_BYTES // MEGABYTE,
        max_rows=importer.MAX_ROWS,
        health_data=True,
    )
