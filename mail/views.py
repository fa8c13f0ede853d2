"""Webmail pages, and the administration of mailboxes and delegations."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from htmx_flask import request as htmx_request
from itsdangerous import BadData, URLSafeTimedSerializer
from wtforms import SelectChoice

from mail import mailboxes, receipts
from mail.access import sending_mailboxes
from mail.compose import Draft, Part, addresses
from mail.forms import ComposeForm, DelegateForm, MailboxForm, MailboxSettingsForm, PatientDocumentForm, SearchForm
from mail.imap import SortKey
from mail.mime import parse_message
from mail.models import DeliveryStatus, MailboxKind, SentRecipient
from mail.remote import RemoteRefused, fetch_image
from mail.render import FrameCache, inline_images, render_body
from mail.sanitize import frame_document
from mail.service import INBOX, DocumentRefused, MailUnavailable, NotSent, Opened, Saved, Webmail
from portal import database
from portal.htmx import render_page_or_fragment
from portal.security import limiter, public
from portal.smtp import SendFailed

bp = Blueprint("mail", __name__)

SORTS = {"date": SortKey.DATE, "from": SortKey.FROM, "subject": SortKey.SUBJECT}
# The message frame: its own document, no script at all, images only from the message itself.
FRAME_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)
# A proxy link outlives the page only briefly: long enough to load, too short to share.
REMOTE_LINK_SECONDS = 15 * 60
# Types a browser may show in place; everything else downloads (never HTML, SVG or XML inline).
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})


FOLDER_LABELS = {
    "\\Sent": _l("Envoyés"),
    "\\Drafts": _l("Brouillons"),
    "\\Trash": _l("Corbeille"),
    "\\Junk": _l("Indésirables"),
    "\\Archive": _l("Archives"),
}
DELIVERY_LABELS = {
    "delivered": _l("remis"),
    "relayed": _l("transmis"),
    "expanded": _l("redistribué"),
    "delayed": _l("retardé"),
    "failed": _l("échec"),
}
DISPOSITION_LABELS = {
    "displayed": _l("affiché"),
    "deleted": _l("supprimé sans être lu"),
    "dispatched": _l("transmis"),
    "processed": _l("traité"),
}


@bp.app_template_global()
def folder_label(folder) -> str:
    if folder is None:
        return ""
    if folder.name.upper() == INBOX:
        return _("Boîte de réception")
    return str(FOLDER_LABELS.get(folder.special_use, folder.leaf_name))


@bp.app_template_global()
def delivery_label(action: str) -> str:
    return str(DELIVERY_LABELS.get(action, action))


@bp.app_template_global()
def disposition_label(disposition: str) -> str:
    return str(DISPOSITION_LABELS.get(disposition, disposition))


@bp.app_template_global()
def receipt_label(recipient: SentRecipient) -> str:
    if recipient.status is DeliveryStatus.FAILED:
        return _("Échec : %(reason)s", reason=recipient.reason or _("raison non indiquée"))
    return recipient.status.label


bp.add_app_template_global(receipts.overall, "receipt_overall")


@bp.context_processor
def _inline_types() -> dict:
    return {"inline_types": INLINE_TYPES}


def _webmail() -> Webmail:
    store = current_app.extensions.get("mail.store")
    if store is None:
        abort(503)
    settings = current_app.config["PORTAL_SETTINGS"]
    return Webmail(database.session(), store, current_user._get_current_object(), settings)


def _opened(webmail: Webmail, mailbox_id: int, folder: str) -> Opened:
    try:
        return webmail.open(mailbox_id, folder)
    except LookupError:
        abort(404)


@bp.errorhandler(MailUnavailable)
def _unavailable(_error: MailUnavailable):
    return render_template("mail/unavailable.html"), 503


# Reading


@bp.get("/mail/")
def index():
    summaries = _webmail().switcher()
    if summaries:
        return redirect(url_for("mail.folder", mailbox_id=summaries[0].mailbox.id, folder=INBOX))
    return render_template("mail/index.html")


@bp.get("/mail/<int:mailbox_id>/folder/<path:folder>")
def folder(mailbox_id: int, folder: str):
    webmail = _webmail()
    opened = _opened(webmail, mailbox_id, folder)
    sort = request.args.get("sort", "date")
    reverse = request.args.get("order", "desc") != "asc"
    page = webmail.list(opened, request.args.get("page", 1, type=int), SORTS.get(sort, SortKey.DATE), reverse)
    return render_page_or_fragment(
        "mail/folder.html", "mail/partials/message_list.html",
        opened=opened, switcher=webmail.switcher(), page=page, sort=sort, order="desc" if reverse else "asc",
        search_form=SearchForm(), searching=False, tracked=webmail.tracked(opened, page), health_data=True,
    )


@bp.route("/mail/<int:mailbox_id>/search/<path:folder>", methods=("GET", "POST"))
def search(mailbox_id: int, folder: str):
    # A POST: the words searched for may name a patient and must not sit in URLs and logs. A GET (the
    # results page reloaded or bookmarked) has no words: back to the folder rather than an error page.
    webmail = _webmail()
    opened = _opened(webmail, mailbox_id, folder)
    form = SearchForm()
    if not form.validate_on_submit():
        return redirect(url_for("mail.folder", mailbox_id=mailbox_id, folder=folder))
    found = webmail.search(opened, form.q.data, form.page.data or 1)
    return render_page_or_fragment(
        "mail/folder.html", "mail/partials/message_list.html",
        opened=opened, switcher=webmail.switcher(), page=found.page, sort="date", order="desc",
        search_form=form, searching=True, index_pending=found.index_pending,
        tracked=webmail.tracked(opened, found.page), health_data=True,
    )


@bp.get("/mail/<int:mailbox_id>/message/<int:uid>/<path:folder>")
def message(mailbox_id: int, folder: str, uid: int):
    webmail = _webmail()
    opened = _opened(webmail, mailbox_id, folder)
    try:
        reading = webmail.read(opened, uid)
    except LookupError:
        abort(404)
    remote = request.args.get("remote") == "1"
    remote_blocked = not remote and _frames().frame(reading.raw, reading.message).remote_blocked
    return render_template(
        "mail/message.html", opened=opened, reading=reading, remote=remote, remote_blocked=remote_blocked, health_data=True
    )


@bp.get("/mail/<int:mailbox_id>/body/<int:uid>/<path:folder>")
def message_body(mailbox_id: int, folder: str, uid: int):
    webmail = _webmail()
    try:
        mailbox, raw = webmail.body(mailbox_id, folder, uid)
    except LookupError:
        abort(404)
    if request.args.get("remote") == "1":
        message = parse_message(raw)
        webmail.allow_remote_content(mailbox, folder, uid, message)
        # cid: images travel inside the frame document, and remote images come through signed proxy
        # links: the sandboxed frame has an opaque origin and sends no session cookie.
        body = render_body(message, allow_remote=True, proxy_url=_proxy_url, cid_url=inline_images(message))
        document = frame_document(body.fragment)
    else:
        document = _frames().frame(raw).document
    response = Response(document, mimetype="text/html")
    response.headers["Content-Security-Policy"] = FRAME_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _frames() -> FrameCache:
    return current_app.extensions["mail.frames"]


@bp.get("/mail/remote/<token>")
@limiter.limit("300 per minute")
@public
def remote_image(token: str):
    """A remote image of a message the user chose to see; the signed link is the authorisation."""
    try:
        url = _remote_signer().loads(token, max_age=REMOTE_LINK_SECONDS)
        image = fetch_image(url)
    except (BadData, RemoteRefused):
        abort(404)
    response = Response(image.data, mimetype=image.content_type)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=600"
    return response


def _remote_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="mail-remote-image")


def _proxy_url(original: str) -> str:
    return url_for("mail.remote_image", token=_remote_signer().dumps(original))


@bp.get("/mail/<int:mailbox_id>/attachment/<int:uid>/<int:index>/<path:folder>")
def attachment(mailbox_id: int, folder: str, uid: int, index: int):
    webmail = _webmail()
    opened = _opened(webmail, mailbox_id, folder)
    try:
        part = webmail.attachment(opened, uid, index)
    except LookupError:
        abort(404)
    inline = request.args.get("inline") == "1" and part.content_type in INLINE_TYPES
    response = Response(part.data, mimetype=part.content_type if inline else "application/octet-stream")
    response.headers.set("Content-Disposition", "inline" if inline else "attachment", filename=part.filename)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/mail/<int:mailbox_id>/flags/<int:uid>/<path:folder>")
def message_flags(mailbox_id: int, folder: str, uid: int):
    webmail = _webmail()
    opened = _opened(webmail, mailbox_id, folder)
    flag, on = request.form.get("flag"), request.form.get("on") == "1"
    if flag not in ("seen", "flagged"):
        abort(400)
    webmail.set_flag(opened, [uid], flag, on)
    if flag == "seen" and not on:
        flash(_("Message marqué comme non lu."), "success")
        return redirect(url_for("mail.folder", mailbox_id=mailbox_id, folder=folder))
    return redirect(url_for("mail.message", mailbox_id=mailbox_id, folder=folder, uid=uid))


@bp.post("/mail/<int:mailbox_id>/read-receipt/<int:uid>/<path:folder>")
def read_receipt(mailbox_id: int, folder: str, uid: int):
    webmail = _webmail()
    opened = _opened(webmail, mailbox_id, folder)
    send = request.form.get("send") == "1"
    try:
        webmail.answer_read_receipt(opened, uid, send)
    except LookupError:
        abort(404)
    except SendFailed as error:
        flash(_("L'accusé de lecture n'a pas pu être envoyé : %(reason)s", reason=str(error)), "error")
    else:
        flash(_("Accusé de lecture envoyé.") if send else _("Aucun accusé de lecture ne sera envoyé."), "success")
    return redirect(url_for("mail.message", mailbox_id=mailbox_id, folder=folder, uid=uid))


@bp.post("/mail/<int:mailbox_id>/move/<int:uid>/<path:folder>")
def message_move(mailbox_id: int, folder: str, uid: int):
    webmail = _webmail()
    opened = _opened(webmail, mailbox_id, folder)
    target = request.form.get("target", "")
    try:
        webmail.move(opened, [uid], target)
    except LookupError:
        abort(400)
    flash(_("Message déplacé dans « %(folder)s ».", folder=target), "success")
    return redirect(url_for("mail.folder", mailbox_id=mailbox_id, folder=folder))


@bp.post("/mail/<int:mailbox_id>/delete/<int:uid>/<path:folder>")
def message_delete(mailbox_id: int, folder: str, uid: int):
    webmail = _webmail()
    webmail.delete(_opened(webmail, mailbox_id, folder), [uid])
    flash(_("Message supprimé."), "success")
    return redirect(url_for("mail.folder", mailbox_id=mailbox_id, folder=folder))


@bp.post("/mail/<int:mailbox_id>/empty-trash")
def trash_empty(mailbox_id: int):
    removed = _webmail().empty_trash(mailbox_id)
    flash(ngettext("Corbeille vidée : %(num)d message supprimé définitivement.",
                   "Corbeille vidée : %(num)d messages supprimés définitivement.", removed), "success")
    return redirect(url_for("mail.folder", mailbox_id=mailbox_id, folder=INBOX))


# Writing


@bp.get("/mail/<int:mailbox_id>/compose")
def compose(mailbox_id: int):
    webmail = _webmail()
    return _editor(webmail, webmail.sender(mailbox_id), Draft(), None)


@bp.get("/mail/<int:mailbox_id>/draft/<int:uid>")
def draft(mailbox_id: int, uid: int):
    webmail = _webmail()
    mailbox = webmail.sender(mailbox_id)
    try:
        saved = webmail.open_draft(mailbox, uid)
    except LookupError:
        abort(404)
    return _editor(webmail, mailbox, saved, uid)


@bp.post("/mail/<int:mailbox_id>/compose")
def compose_save(mailbox_id: int):
    """Save (the button, or the editor's autosave through htmx) or send; a failed send keeps the draft."""
    webmail = _webmail()
    # Where the saved version is: the sender chosen at the last save, which the editor may have changed since.
    origin = webmail.sender(request.form.get("draft_mailbox_id", mailbox_id, type=int))
    form = ComposeForm()
    previous_uid = int(form.draft_uid.data) if (form.draft_uid.data or "").isdigit() else None
    try:
        previous = webmail.open_draft(origin, previous_uid) if previous_uid else Draft()
    except LookupError:  # sent or deleted from another window meanwhile: this version starts afresh
        previous, previous_uid = Draft(), None
    _fill_compose_choices(webmail, form, previous)
    if not form.validate_on_submit():
        return _editor(webmail, origin, previous, previous_uid, form=form), 400
    mailbox = webmail.sender(form.mailbox_id.data)
    written = Draft(
        to=addresses(form.to.data or ""),
        cc=addresses(form.cc.data or ""),
        subject=form.subject.data or "",
        body=form.body.data or "",
        html=form.html.data,
        attachments=tuple(previous.attachments[i] for i in form.keep.data or () if i < len(previous.attachments))
        + tuple(Part(f.filename or "piece-jointe", f.mimetype or "application/octet-stream", f.read())
                for f in form.files.data or () if f.filename),
        in_reply_to=previous.in_reply_to,
        references=previous.references,
        read_receipt=form.read_receipt.data,
        closed_to_replies=form.closed_to_replies.data,
        message_id=previous.message_id,
    )  # fmt: skip
    replaces = Saved(origin, previous_uid) if previous_uid else None
    if request.form.get("action") == "send":
        try:
            webmail.send(mailbox, written, replaces)
        except NotSent as failure:
            return _editor(webmail, mailbox, written, failure.draft_uid, form=form, failure=failure), 422
        flash(_("Message envoyé."), "success")
        return redirect(url_for("mail.folder", mailbox_id=mailbox.id, folder=INBOX))
    saved, uid = webmail.save_draft(mailbox, written, replaces)
    if htmx_request.htmx:
        return _editor(webmail, mailbox, saved, uid, form=form, fragment=True)
    flash(_("Brouillon enregistré dans « Brouillons »."), "success")
    return redirect(url_for("mail.draft", mailbox_id=mailbox.id, uid=uid)) if uid else redirect(url_for("mail.index"))


@bp.route("/mail/<int:mailbox_id>/patient-document", methods=["GET", "POST"])
def patient_document(mailbox_id: int):
    """Find the usager (the words are posted, never in the URL), then turn their PDF into a draft to address."""
    webmail = _webmail()
    mailbox = webmail.sender(mailbox_id)
    form = PatientDocumentForm()
    found = webmail.patients(form.q.data or "") if request.method == "POST" else []
    chosen = webmail.patient(form.ins.data) if form.ins.data else None  # the choice survives a new search
    candidates = {p.ins: p for p in ([chosen] if chosen else []) + found}.values()
    form.ins.choices = [SelectChoice(p.ins, p.display_name) for p in candidates if p.qualified]
    unqualified = [p for p in found if not p.qualified]
    failure = None
    if request.form.get("action") == "prepare" and form.validate_on_submit():
        upload = form.file.data
        pdf = Part(upload.filename or "document.pdf", "application/pdf", upload.read())
        try:
            _draft, uid = webmail.patient_document(mailbox, form.ins.data, form.type_code.data, form.title.data or "", pdf)
        except DocumentRefused as refused:
            failure = str(refused)
        else:
            flash(_("Le document est joint : ajoutez les destinataires puis envoyez."), "success")
            return redirect(url_for("mail.draft", mailbox_id=mailbox.id, uid=uid)) if uid else redirect(
                url_for("mail.folder", mailbox_id=mailbox.id, folder="Drafts")
            )
    status = 422 if failure or (request.form.get("action") == "prepare" and form.errors) else 200
    return render_template(
        "mail/patient_document.html", mailbox=mailbox, form=form, unqualified=unqualified, failure=failure,
        searched=request.method == "POST", health_data=True,
    ), status  # fmt: skip


RESPONSES = {
    "reply": lambda webmail, opened, uid: webmail.reply(opened, uid, everyone=False),
    "reply_all": lambda webmail, opened, uid: webmail.reply(opened, uid, everyone=True),
    "forward": lambda webmail, opened, uid: webmail.forward(opened, uid, as_attachment=False),
    "forward_attachment": lambda webmail, opened, uid: webmail.forward(opened, uid, as_attachment=True),
}


@bp.post("/mail/<int:mailbox_id>/respond/<int:uid>/<path:folder>")
def respond(mailbox_id: int, folder: str, uid: int):
    """Reply or forward: the answer starts as a draft of the same mailbox, opened in the editor."""
    webmail = _webmail()
    opened = _opened(webmail, mailbox_id, folder)
    mailbox = webmail.sender(mailbox_id)
    how = RESPONSES.get(request.form.get("how", "")) or abort(400)
    try:
        written = how(webmail, opened, uid)
    except LookupError:
        abort(404)
    _saved, draft_uid = webmail.save_draft(mailbox, written)
    if draft_uid is None:  # a server without UIDPLUS: the draft is in Drafts, to be opened from there
        return redirect(url_for("mail.folder", mailbox_id=mailbox.id, folder="Drafts"))
    return redirect(url_for("mail.draft", mailbox_id=mailbox.id, uid=draft_uid))


def _fill_compose_choices(webmail: Webmail, form: ComposeForm, draft: Draft) -> None:
    form.mailbox_id.choices = [
        SelectChoice(m.id, f"{m.display_name} <{m.address}>") for m in sending_mailboxes(webmail.db, webmail.actor)
    ]
    form.keep.choices = [SelectChoice(i, part.filename) for i, part in enumerate(draft.attachments)]


def _editor(webmail: Webmail, mailbox, written: Draft, draft_uid: int | None, *, form: ComposeForm | None = None,
            failure: NotSent | None = None, fragment: bool = False):  # fmt: skip
    """The editor on `written`, saved as `draft_uid`; a posted form keeps what the user typed."""
    if form is None:
        form = ComposeForm(formdata=None, mailbox_id=mailbox.id, to=", ".join(written.to), cc=", ".join(written.cc),
                           subject=written.subject, body=written.body, html=written.html,
                           read_receipt=written.read_receipt, closed_to_replies=written.closed_to_replies)  # fmt: skip
    _fill_compose_choices(webmail, form, written)
    form.mailbox_id.data = mailbox.id
    form.keep.data = list(range(len(written.attachments)))
    form.draft_uid.data = str(draft_uid) if draft_uid else ""
    context = {
        "mailbox": mailbox, "form": form, "attachments": written.attachments, "failure": failure, "health_data": True,
        "max_bytes": webmail.settings.mail_max_message_bytes,
    }  # fmt: skip
    return render_template("mail/partials/draft_state.html" if fragment else "mail/compose.html", **context)


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
