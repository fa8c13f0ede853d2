"""Reception pages (usagers, their registration, notice plan and issued notices) and the notice texts editor."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms import SelectChoice

from notices import issuing, oppositions, rendering, service, templating, texts
from notices.forms import MAX_REPRESENTATIVES, TEXT_ERRORS, NoticeTextForm, SearchForm, UsagerForm
from notices.models import NoticeStatus, Usager
from portal import database
from portal.access import PermissionDenied
from portal.htmx import render_page_or_fragment
from portal.models import User

bp = Blueprint("notices", __name__, url_prefix="/usagers")
# The variants in the URL of the texts editor; any other answers 404.
VARIANT_PATH = "<any(usager, facile_a_lire, representant, parents):variant>"

VARIANT_LABELS = {
    "usager": _l("Notice pour l'usager"),
    "facile_a_lire": _l("Version facile à lire et à comprendre (FALC)"),
    "representant": _l("Notice pour le représentant légal d'un majeur"),
    "parents": _l("Notice pour les parents d'un mineur"),
}
# What the editor says of each field a text may use (notices.templating.FIELDS).
FIELD_LABELS = {
    "etablissement": _l("le nom de l'établissement"),
    "usager": _l("le nom de l'usager (l'enfant, ou la personne représentée, dans les notices aux représentants)"),
    "lien": _l("le lien personnel du destinataire, pour lire l'information et s'opposer (obligatoire)"),
    "telephone": _l("le téléphone de contact de l'établissement (vide s'il n'est pas renseigné)"),
    "courriel": _l("l'adresse e-mail de contact de l'établissement (vide si elle n'est pas renseignée)"),
    "peut_agir": _l(
        "vrai si le destinataire peut s'opposer ; faux pour un curateur, qui reçoit une copie pour information"
    ),
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
        alerts=oppositions.unacknowledged(database.session(), _actor()),
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
    plan = service.plan_for(target)
    db = database.session()
    notices = issuing.notices_of(db, target)
    return render_template(
        "notices/usager.html",
        usager=target,
        plan=plan,
        choices=issuing.plan_choices(target, plan),
        notices=notices,
        information=issuing.information_status(target, plan, notices),
        oppositions=oppositions.oppositions_of(db, target),
        feeding=oppositions.feeding_status(db, target),
        may_edit=service.may_edit(_actor(), target),
        health_data=True,
    )


@bp.post("/<int:usager_id>/notices")
def notice_issue(usager_id: int):
    """Issue the chosen notices; without `confirm`, the page that asks to confirm them."""
    target = _usager_or_404(usager_id)
    if not service.may_edit(_actor(), target):
        raise PermissionDenied("notices.issue")
    plan = service.plan_for(target)
    allowed = issuing.plan_choices(target, plan)
    values = request.form.getlist("choice")
    choices = [_choice(value) for value in values]
    if not choices or any(choice not in allowed for choice in choices):
        flash(_("Choisissez au moins un destinataire et un moyen prévus par le plan d'information."), "error")
        return redirect(url_for("notices.usager", usager_id=target.id))
    if not request.form.get("confirm"):
        return render_template(
            "notices/notice_issue.html",
            usager=target,
            choices=choices,
            allowed=allowed,
            values=values,
            health_data=True,
        )
    settings = current_app.config["PORTAL_SETTINGS"]
    db = database.session()
    notices = issuing.issue(db, _actor(), target, choices, base_url=request.host_url, settings=settings)
    for notice in notices:
        issuing.send_email(db, notice, settings)
    flash(ngettext("%(num)d notice émise : suivez son état ci-dessous.",
                   "%(num)d notices émises : suivez leur état ci-dessous.", len(notices)), "success")
    return redirect(url_for("notices.usager", usager_id=target.id, _anchor="notices"))


@bp.get("/notices/<int:notice_id>/document")
def notice_document(notice_id: int):
    notice = _notice_or_404(notice_id)
    return Response(
        notice.content,
        mimetype=notice.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{notice.file_name}"',
            "Content-Security-Policy": "default-src 'none'",
        },
    )


@bp.post("/notices/<int:notice_id>/mark")
def notice_mark(notice_id: int):
    notice = _notice_or_404(notice_id)
    try:
        issuing.mark(database.session(), _actor(), notice, NoticeStatus(request.form.get("status", "")))
    except (ValueError, issuing.NotAllowed):
        flash(_("Cet état ne peut pas être donné à cette notice."), "error")
    else:
        flash(
            _("Notice %(reference)s : %(status)s.", reference=notice.reference, status=notice.status.label), "success"
        )
    return redirect(url_for("notices.usager", usager_id=notice.usager_id, _anchor="notices"))


@bp.post("/notices/<int:notice_id>/retry")
def notice_retry(notice_id: int):
    notice = _notice_or_404(notice_id)
    try:
        issuing.retry(database.session(), _actor(), notice, current_app.config["PORTAL_SETTINGS"])
    except issuing.NotAllowed:
        flash(_("Seule une notice en échec peut être renvoyée."), "error")
    else:
        if notice.status == NoticeStatus.FAILED:
            flash(_("L'envoi a encore échoué : %(reason)s", reason=notice.failure_reason), "error")
        else:
            flash(_("Notice %(reference)s envoyée.", reference=notice.reference), "success")
    return redirect(url_for("notices.usager", usager_id=notice.usager_id, _anchor="notices"))


@bp.post("/notices/<int:notice_id>/revoke")
def notice_revoke(notice_id: int):
    notice = _notice_or_404(notice_id)
    oppositions.revoke(database.session(), _actor(), notice)
    flash(_("Le lien de la notice %(reference)s est désactivé.", reference=notice.reference), "success")
    return redirect(url_for("notices.usager", usager_id=notice.usager_id, _anchor="notices"))


@bp.post("/<int:usager_id>/oppositions")
def opposition_record(usager_id: int):
    """An opposition expressed to the staff, recorded for the usager."""
    target = _usager_or_404(usager_id)
    opposed_by, reason = request.form.get("opposed_by", "").strip(), request.form.get("reason", "").strip()
    if not opposed_by or not reason:
        flash(_("Indiquez qui s'oppose et la raison donnée, avec ses mots."), "error")
    else:
        oppositions.record_for(database.session(), _actor(), target, opposed_by[:300], reason[:4000])
        flash(_("L'opposition est enregistrée : le DMP n'est plus alimenté pour cet usager."), "success")
    return redirect(url_for("notices.usager", usager_id=target.id, _anchor="feeding"))


@bp.post("/oppositions/<int:opposition_id>/acknowledge")
def opposition_acknowledge(opposition_id: int):
    opposition = oppositions.get_opposition(database.session(), _actor(), opposition_id) or abort(404)
    oppositions.acknowledge(database.session(), _actor(), opposition)
    return redirect(url_for("notices.usagers"))


def _choice(value: str) -> issuing.Choice | None:
    """ "usager:email" or "<representative id>:courrier" as a Choice; None for anything else."""
    who, _sep, channel = value.partition(":")
    if who == "usager":
        return issuing.Choice(None, channel)
    return issuing.Choice(int(who), channel) if who.isdigit() else None


def _notice_or_404(notice_id: int):
    return issuing.get_notice(database.session(), _actor(), notice_id) or abort(404)


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


# Notice texts (administrators)


@bp.get("/notice-texts")
def notice_texts():
    establishments = texts.editable_establishments(_actor())
    if not establishments:
        raise PermissionDenied("notices.get_texts")
    db = database.session()
    current = {(e.id, v): texts.latest(db, e.id, v) for e in establishments for v in VARIANT_LABELS}
    return render_template("notices/notice_texts.html", establishments=establishments, current=current)


@bp.route(f"/notice-texts/<int:establishment_id>/{VARIANT_PATH}", methods=["GET", "POST"])
def notice_text(establishment_id: int, variant: str):
    db = database.session()
    establishment = _text_establishment_or_404(establishment_id)
    form = NoticeTextForm(data={"body": texts.current_body(db, establishment, variant)})
    if form.validate_on_submit():
        try:
            version = texts.save_text(db, _actor(), establishment, variant, form.body.data)
        except templating.TextError as error:
            form.body.errors.append(_text_error(error))
        except texts.Conflict:
            form.body.errors.append(
                _(
                    "Une autre version de ce texte vient d'être enregistrée. Votre texte est conservé ci-dessous : "
                    "relisez la liste des versions, puis enregistrez de nouveau."
                )
            )
        else:
            if version is None:
                flash(_("Le texte n'a pas changé : aucune nouvelle version."), "info")
            else:
                flash(_("Version %(number)s du texte enregistrée.", number=version.number), "success")
            return redirect(url_for("notices.notice_text", establishment_id=establishment.id, variant=variant))
    return _editor_page(establishment, variant, form)


@bp.post(f"/notice-texts/<int:establishment_id>/{VARIANT_PATH}/preview")
def notice_text_preview(establishment_id: int, variant: str):
    establishment = _text_establishment_or_404(establishment_id)
    form = NoticeTextForm()
    form.validate()  # CSRF checked by the app; an empty text previews as nothing
    return _editor_page(establishment, variant, form, fragment=True)


@bp.get(f"/notice-texts/<int:establishment_id>/{VARIANT_PATH}/versions/<int:number>")
def notice_text_version(establishment_id: int, variant: str, number: int):
    establishment = _text_establishment_or_404(establishment_id)
    version = next(
        (v for v in texts.versions(database.session(), _actor(), establishment, variant) if v.number == number), None
    )
    if version is None:
        abort(404)
    return render_template(
        "notices/notice_text_version.html",
        establishment=establishment,
        variant=variant,
        version=version,
        preview=_preview(establishment, variant, version.body, may_oppose=True),
    )


@bp.post(f"/notice-texts/<int:establishment_id>/{VARIANT_PATH}/versions/<int:number>/restore")
def notice_text_restore(establishment_id: int, variant: str, number: int):
    establishment = _text_establishment_or_404(establishment_id)
    try:
        version = texts.restore(database.session(), _actor(), establishment, variant, number)
    except LookupError:
        abort(404)
    except texts.Conflict:
        flash(_("Une autre version vient d'être enregistrée : rien n'a été restauré. Recommencez."), "error")
    except templating.TextError:
        # A version saved under older rules: shown, but not brought back as it is.
        flash(_("Cette version ne respecte plus les règles des textes : copiez-la et corrigez-la."), "error")
    else:
        if version is None:
            flash(_("Cette version est déjà le texte en vigueur."), "info")
        else:
            flash(
                _("Version %(old)s restaurée : c'est la version %(number)s.", old=number, number=version.number),
                "success",
            )
    return redirect(url_for("notices.notice_text", establishment_id=establishment.id, variant=variant))


def _text_establishment_or_404(establishment_id: int):
    return texts.get_establishment(database.session(), _actor(), establishment_id) or abort(404)


def _editor_page(establishment, variant: str, form: NoticeTextForm, *, fragment: bool = False):
    """The editor with the preview of the form's text; the preview fragment alone for htmx."""
    body = form.body.data or ""
    context = {
        "establishment": establishment,
        "variant": variant,
        "form": form,
        "versions": texts.versions(database.session(), _actor(), establishment, variant),
        "fields": FIELD_LABELS,
        "preview": _preview(establishment, variant, body, may_oppose=not form.preview_curator.data),
    }
    if fragment:
        return render_page_or_fragment(
            "notices/notice_text.html", "notices/partials/notice_text_preview.html", **context
        )
    return render_template("notices/notice_text.html", **context)


def _preview(establishment, variant: str, body: str, *, may_oppose: bool) -> dict:
    """{"html": the text rendered with sample data} or {"error": why it cannot be}."""
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    content = texts.sample_content(
        establishment, variant, body, base_url=request.host_url, may_oppose=may_oppose, today=today
    )
    try:
        return {"html": rendering.render_html(content)}
    except templating.TextError as error:
        return {"error": _text_error(error)}


def _text_error(error: templating.TextError) -> str:
    return str(TEXT_ERRORS[error.reason] % {"line": error.line, "name": error.name, "detail": error.detail})
