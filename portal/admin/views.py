"""Administration pages: users and establishments."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from portal import database
from portal.access import require_role
from portal.admin import service
from portal.admin.forms import ConfirmForm, EstablishmentForm, SearchForm, UserForm
from portal.auth import psc
from portal.htmx import render_page_or_fragment
from portal.models import Establishment, Role, User
from portal.pagination import Page

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _administrators_only() -> None:
    # Every page, forms included, is refused before any work; the services check again.
    require_role(current_user, Role.ADMINISTRATOR, request.endpoint)


def _actor() -> User:
    return current_user._get_current_object()


def _search() -> tuple[SearchForm, service.Search, int]:
    form = SearchForm(request.args)
    if not form.validate():
        return form, service.Search(), 1
    return form, service.Search(text=form.q.data or "", status=form.status.data), form.page.data or 1


def _list(template: str, partial: str, form: SearchForm, page: Page):
    return render_page_or_fragment(template, partial, form=form, page=page)


def _duplicate_error(form, duplicate: service.Duplicate) -> None:
    messages = {
        "email": _("Un utilisateur a déjà cette adresse e-mail."),
        "national_id": _("Un utilisateur a déjà cet identifiant national."),
        "finess": _("Un établissement a déjà ce numéro FINESS."),
    }
    form[duplicate.field].errors.append(messages[duplicate.field])


def _confirmed() -> bool:
    if ConfirmForm().validate_on_submit():
        return True
    flash(_("Action non effectuée : cochez la case de confirmation."), "error")
    return False


# Users


@bp.get("/users")
def users():
    form, search, number = _search()
    page = service.search_users(database.session(), _actor(), search, number)
    return _list("admin/users.html", "admin/partials/user_results.html", form, page)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    db = database.session()
    form = _user_form(UserForm())
    if form.validate_on_submit() and _can_log_in(form):
        try:
            user, password = service.create_user(db, _actor(), _user_data(form))
        except service.Duplicate as duplicate:
            _duplicate_error(form, duplicate)
        else:
            # Shown in this response only: never flashed, since flashes are stored in the session.
            return render_template("admin/user_password.html", user=user, password=password, created=True)
    return render_template("admin/user_new.html", form=form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int):
    db = database.session()
    target = _user_or_404(user_id)
    form = _user_form(
        UserForm(
            data={
                "email": target.email,
                "first_name": target.first_name,
                "last_name": target.last_name,
                "national_id": target.national_id,
                "profession_code": target.profession_code,
                "roles": [role.value for role in target.roles],
                "establishments": [e.id for e in target.establishments],
                "psc_only": not target.local_login_allowed,
            }
        )
    )
    if form.validate_on_submit() and _can_log_in(form):
        try:
            service.update_user(db, _actor(), target, _user_data(form))
        except service.Duplicate as duplicate:
            _duplicate_error(form, duplicate)
        except service.SelfLockout:
            form.roles.errors.append(_("Vous ne pouvez pas retirer votre propre rôle d'administrateur."))
        else:
            flash(_("Le compte de %(name)s est enregistré.", name=target.full_name), "success")
            return redirect(url_for("admin.user", user_id=target.id))
    return render_template("admin/user.html", form=form, user=target, confirm_form=ConfirmForm())


@bp.post("/users/<int:user_id>/deactivate")
def user_deactivate(user_id: int):
    target = _user_or_404(user_id)
    if _confirmed():
        try:
            service.deactivate_user(database.session(), _actor(), target)
        except service.SelfLockout:
            flash(_("Vous ne pouvez pas désactiver votre propre compte."), "error")
        else:
            flash(_("Le compte de %(name)s est désactivé.", name=target.full_name), "success")
    return redirect(url_for("admin.user", user_id=target.id))


@bp.post("/users/<int:user_id>/reactivate")
def user_reactivate(user_id: int):
    target = _user_or_404(user_id)
    approving = target.approval_pending
    service.reactivate_user(database.session(), _actor(), target)
    if approving:
        flash(_("Le compte de %(name)s est validé.", name=target.full_name), "success")
    else:
        flash(_("Le compte de %(name)s est réactivé.", name=target.full_name), "success")
    return redirect(url_for("admin.user", user_id=target.id))


@bp.post("/users/<int:user_id>/reset-totp")
def user_reset_totp(user_id: int):
    target = _user_or_404(user_id)
    if _confirmed():
        service.reset_totp(database.session(), _actor(), target)
        message = _(
            "%(name)s configurera de nouveau son application d'authentification à sa prochaine connexion.",
            name=target.full_name,
        )
        flash(message, "success")
    return redirect(url_for("admin.user", user_id=target.id))


@bp.post("/users/<int:user_id>/reset-password")
def user_reset_password(user_id: int):
    target = _user_or_404(user_id)
    if not _confirmed():
        return redirect(url_for("admin.user", user_id=target.id))
    password = service.reset_password(database.session(), _actor(), target)
    return render_template("admin/user_password.html", user=target, password=password, created=False)


def _user_or_404(user_id: int) -> User:
    return service.get_user(database.session(), _actor(), user_id) or abort(404)


def _user_form(form: UserForm) -> UserForm:
    establishments = service.establishment_choices(database.session(), _actor())
    form.establishments.choices = [
        SelectChoice(e.id, e.name if e.is_active else _("%(name)s (désactivé)", name=e.name)) for e in establishments
    ]
    return form


def _can_log_in(form: UserForm) -> bool:
    # Without Pro Santé Connect on this portal, an account without local login could never log in.
    if not form.psc_only.data or psc.enabled():
        return True
    form.psc_only.errors.append(
        _("Pro Santé Connect n'est pas configuré sur ce portail : la connexion par mot de passe doit rester autorisée.")
    )
    return False


def _user_data(form: UserForm) -> service.UserData:
    return service.UserData(
        email=form.email.data,
        first_name=form.first_name.data,
        last_name=form.last_name.data,
        national_id=form.national_id.data,
        profession_code=form.profession_code.data,
        roles=frozenset(Role(value) for value in form.roles.data),
        establishment_ids=frozenset(form.establishments.data),
        local_login_allowed=not form.psc_only.data,
    )


# Establishments


@bp.get("/establishments")
def establishments():
    form, search, number = _search()
    page = service.search_establishments(database.session(), _actor(), search, number)
    return _list("admin/establishments.html", "admin/partials/establishment_results.html", form, page)


@bp.route("/establishments/new", methods=["GET", "POST"])
def establishment_new():
    form = EstablishmentForm()
    if form.validate_on_submit():
        try:
            created = service.create_establishment(database.session(), _actor(), _establishment_data(form))
        except service.Duplicate as duplicate:
            _duplicate_error(form, duplicate)
        else:
            flash(_("L'établissement %(name)s est créé.", name=created.name), "success")
            return redirect(url_for("admin.establishment", establishment_id=created.id))
    return render_template("admin/establishment_new.html", form=form)


@bp.route("/establishments/<int:establishment_id>", methods=["GET", "POST"])
def establishment(establishment_id: int):
    db = database.session()
    target = _establishment_or_404(establishment_id)
    form = EstablishmentForm(obj=target)
    if form.validate_on_submit():
        try:
            service.update_establishment(db, _actor(), target, _establishment_data(form))
        except service.Duplicate as duplicate:
            _duplicate_error(form, duplicate)
        else:
            flash(_("L'établissement %(name)s est enregistré.", name=target.name), "success")
            return redirect(url_for("admin.establishment", establishment_id=target.id))
    return render_template("admin/establishment.html", form=form, establishment=target, confirm_form=ConfirmForm())


@bp.post("/establishments/<int:establishment_id>/deactivate")
def establishment_deactivate(establishment_id: int):
    target = _establishment_or_404(establishment_id)
    if _confirmed():
        service.deactivate_establishment(database.session(), _actor(), target)
        flash(_("L'établissement %(name)s est désactivé.", name=target.name), "success")
    return redirect(url_for("admin.establishment", establishment_id=target.id))


@bp.post("/establishments/<int:establishment_id>/reactivate")
def establishment_reactivate(establishment_id: int):
    target = _establishment_or_404(establishment_id)
    service.reactivate_establishment(database.session(), _actor(), target)
    flash(_("L'établissement %(name)s est réactivé.", name=target.name), "success")
    return redirect(url_for("admin.establishment", establishment_id=target.id))


def _establishment_or_404(establishment_id: int) -> Establishment:
    return service.get_establishment(database.session(), _actor(), establishment_id) or abort(404)


def _establishment_data(form: EstablishmentForm) -> service.EstablishmentData:
    return service.EstablishmentData(
        finess=form.finess.data,
        name=form.name.data,
        address=form.address.data or "",
        postal_code=form.postal_code.data or "",
        city=form.city.data or "",
        phone=form.phone.data or "",
        email=form.email.data or "",
    )
