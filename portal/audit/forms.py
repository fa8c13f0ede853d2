"""Audit log filters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    actor = StringField(_l("Utilisateur"), validators=[Optional(), Length(max=254)])
    action = SelectField(_l("Action"), choices=[], default="")
    since = DateField(_l("Du"), validators=[Optional()])
    until = DateField(_l("Au"), validators=[Optional()])
    page = IntegerField(validators=[Optional(), NumberRange(min=1)], default=1)
