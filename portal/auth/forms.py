"""Login forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from portal.auth.passwords import MIN_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code à 6 chiffres"),
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Saisissez les 6 chiffres affichés."))],
    )


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Mot de passe actuel"), validators=[DataRequired(), Length(max=1024)])
    new = PasswordField(
        _l("Nouveau mot de passe"),
        validators=[
            DataRequired(),
            Length(min=MIN_LENGTH, max=1024, message=_l("Au moins %(min)d caractères.", min=MIN_LENGTH)),
        ],
    )
    confirm = PasswordField(
        _l("Nouveau mot de passe, une seconde fois"),
        validators=[DataRequired(), EqualTo("new", message=_l("Les deux saisies sont différentes."))],
    )
