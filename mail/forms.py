"""Webmail forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, SearchField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from mail.models import KIND_LABELS, MailboxKind


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
