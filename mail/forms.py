"""Webmail forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SearchField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from mail.models import KIND_LABELS, MailboxKind
from mail.xdm import DOCUMENT_TYPES


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class MailboxForm(FlaskForm):
    address = EmailField(_l("Adresse MSSanté"), validators=[DataRequired(), Email(), Length(max=254)])
    kind = SelectField(
        _l("Type de boîte"),
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        coerce=MailboxKind,
    )
    display_name = StringField(_l("Nom affiché"), validators=[DataRequired(), Length(max=200)])
    establishment_id = SelectField(_l("Établissement"), coerce=int, choices=[])
    owner_id = SelectField(
        _l("Titulaire (boîte nominative) ou responsable (boîte organisationnelle)"), coerce=_optional_int, choices=[]
    )


class MailboxSettingsForm(FlaskForm):
    display_name = StringField(_l("Nom affiché"), validators=[DataRequired(), Length(max=200)])
    owner_id = SelectField(_l("Titulaire ou responsable"), coerce=_optional_int, choices=[])


class DelegateForm(FlaskForm):
    user_id = SelectField(_l("Professionnel à déléguer"), coerce=int, choices=[])


class SearchForm(FlaskForm):
    q = SearchField(_l("Rechercher dans ce dossier"), validators=[DataRequired(), Length(max=200)])
    page = IntegerField(validators=[Optional(), NumberRange(min=1)])


class ComposeForm(FlaskForm):
    """A message being written; without JavaScript, To and Cc take addresses separated by commas."""

    mailbox_id = SelectField(_l("De"), coerce=int, choices=[])
    to = StringField(_l("À"), validators=[Length(max=10_000)])
    cc = StringField(_l("Cc"), validators=[Length(max=10_000)])
    subject = StringField(_l("Objet"), validators=[Length(max=998)])
    body = TextAreaField(_l("Message"), validators=[Length(max=400_000)])
    html = BooleanField(_l("Texte en HTML (mise en forme simple : gras, italique, listes, liens)"))
    read_receipt = BooleanField(_l("Demander un accusé de lecture"))
    closed_to_replies = BooleanField(_l("L'usager ne pourra pas répondre (messages vers Mon espace santé)"))
    files = MultipleFileField(_l("Joindre des fichiers"))
    # The files the saved draft already carries, by position: unticking one removes it.
    keep = SelectMultipleField(
        _l("Pièces jointes"), coerce=int, choices=[], widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    # The saved version this one replaces (in Drafts): threading headers and kept files come from it.
    draft_uid = HiddenField()


class PatientDocumentForm(FlaskForm):
    """A usager's PDF to send as MSSanté expects (IHE_XDM.ZIP); the usager is found by name or INS first."""

    q = SearchField(_l("Rechercher l'usager"), validators=[Optional(), Length(max=100)])
    ins = RadioField(_l("Usager"), choices=[], validate_choice=True)
    type_code = SelectField(_l("Type de document"), choices=[SelectChoice(code, label) for code, label in DOCUMENT_TYPES.items()])
    title = StringField(_l("Titre du document"), validators=[Optional(), Length(max=200)])
    file = FileField(_l("Document PDF"), validators=[FileRequired(_l("Choisissez le document PDF."))])
