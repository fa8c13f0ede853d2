"""Webmail pages, and the administration of mailboxes and delegations."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from mail import mailboxes
from mail.forms import DelegateForm, MailboxForm, MailboxSettingsForm
from mail.models import MailboxKind
from portal import database

bp = Blueprint("mail", __name__)


# Administration


@bp.get("/admin/mailboxes")
def mailboxes_admin():
    text = request.args.get("q", "").strip()
    page = mailboxes.search(database.session(), current_user, text, request.args.get("page", 1, type=int))
    return render_template("mail/mailboxes_admin.html", page=page, q=text)


@bp.route("/admin/mailboxes/new", methods=["GET", "POST"])
def mailbox_new():
    db = database.session()
    form = MailboxForm()
    _fill_choices(db, form)
    if form.validate_on_submit():
        data = mailboxes.MailboxData(
            form.address.data, form.kind.data, form.display_name.data, form.establishment_id.data, form.owner_id.data
        )
        try:
            mailbox = mailboxes.create(db, current_user, data)
        except mailboxes.Duplicate:
            form.address.errors.append(_("Cette adresse est déjà enregistrée."))
        except mailboxes.InvalidMailbox as invalid:
            form.owner_id.errors.append(str(invalid))
        else:
            flash(_("Boîte %(address)s enregistrée.", address=mailbox.address), "success")
            return redirect(url_for("mail.mailbox_settings", mailbox_id=mailbox.id))
    return render_template("mail/mailbox_new.html", form=form)


@bp.route("/admin/mailboxes/<int:mailbox_id>", methods=["GET", "POST"])
def mailbox_settings(mailbox_id: int):
    db = database.session()
    mailbox = mailboxes.get(db, current_user, mailbox_id) or abort(404)
    form = MailboxSettingsForm(obj=mailbox)
    people = mailboxes.people(db, current_user)
    form.owner_id.choices = _people_choices(people, optional=mailbox.kind is MailboxKind.APP)
    delegate_form = DelegateForm(formdata=None)
    delegated = {d.user_id for d in mailbox.delegations}
    delegate_form.user_id.choices = [SelectChoice(p.id, f"{p.full_name} ({p.email})") for p in people if p.id not in delegated]
    if form.validate_on_submit():
        try:
            mailboxes.update(db, current_user, mailbox, form.display_name.data, form.owner_id.data)
        except mailboxes.InvalidMailbox as invalid:
            form.owner_id.errors.append(str(invalid))
        else:
            flash(_("Boîte mise à jour."), "success")
            return redirect(url_for("mail.mailbox_settings", mailbox_id=mailbox.id))
    return render_template("mail/mailbox_settings.html", mailbox=mailbox, form=form, delegate_form=delegate_form)


@bp.post("/admin/mailboxes/<int:mailbox_id>/delegates")
def mailbox_delegate_add(mailbox_id: int):
    db = database.session()
    mailbox = mailboxes.get(db, current_user, mailbox_id) or abort(404)
    form = DelegateForm()
    form.user_id.choices = [SelectChoice(p.id) for p in mailboxes.people(db, current_user)]
    if form.validate_on_submit():
        try:
            mailboxes.add_delegate(db, current_user, mailbox, form.user_id.data)
        except mailboxes.InvalidMailbox as invalid:
            flash(str(invalid), "error")
        else:
            flash(_("Délégation accordée."), "success")
    return redirect(url_for("mail.mailbox_settings", mailbox_id=mailbox.id))


@bp.post("/admin/mailboxes/<int:mailbox_id>/delegates/<int:user_id>/remove")
def mailbox_delegate_remove(mailbox_id: int, user_id: int):
    db = database.session()
    mailbox = mailboxes.get(db, current_user, mailbox_id) or abort(404)
    mailboxes.remove_delegate(db, current_user, mailbox, user_id)
    flash(_("Délégation retirée."), "success")
    return redirect(url_for("mail.mailbox_settings", mailbox_id=mailbox.id))


@bp.post("/admin/mailboxes/<int:mailbox_id>/active")
def mailbox_set_active(mailbox_id: int):
    db = database.session()
    mailbox = mailboxes.get(db, current_user, mailbox_id) or abort(404)
    active = request.form.get("active") == "1"
    mailboxes.set_active(db, current_user, mailbox, active)
    flash(_("Boîte réactivée.") if active else _("Boîte désactivée : plus personne ne l'ouvre dans le portail."), "success")
    return redirect(url_for("mail.mailbox_settings", mailbox_id=mailbox.id))


def _fill_choices(db, form: MailboxForm) -> None:
    form.establishment_id.choices = [
        SelectChoice(e.id, f"{e.name} ({e.finess})") for e in mailboxes.establishments(db, current_user)
    ]
    form.owner_id.choices = _people_choices(mailboxes.people(db, current_user), optional=True)


def _people_choices(people, optional: bool) -> list[tuple]:
    choices = [SelectChoice(p.id, f"{p.full_name} ({p.email})") for p in people]
    return ([SelectChoice("", _("— aucun —"))] if optional else []) + choices
