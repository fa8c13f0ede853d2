"""Administration forms: search, user, establishment, and the confirmations of state changes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SearchField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.models import ROLE_LABELS, Role


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _upper(value: str | None) -> str | None:
    return value.upper() if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class AtLeastOne:
    """DataRequired would put `required` on every checkbox of the group, demanding all of them."""

    def __init__(self, message: str):
        self.message = message

    def __call__(self, _form, field) -> None:
        if not field.data:
            raise ValidationError(self.message)


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = SearchField(_l("Rechercher"), validators=[Optional(), Length(max=200)], filters=[_strip])
    status = SelectField(
        _l("État"),
        choices=[
            SelectChoice("", _l("Tous")),
            SelectChoice("active", _l("Actifs")),
            SelectChoice("inactive", _l("Désactivés")),
        ],
        default="",
    )
    page = IntegerField(validators=[Optional(), NumberRange(min=1)], default=1)


class UserForm(FlaskForm):
    email = EmailField(
        _l("Adresse e-mail"),
        validators=[
            DataRequired(_l("Saisissez l'adresse e-mail.")),
            Length(max=254, message=_l("254 caractères au plus.")),
            Email(_l("Cette adresse e-mail n'est pas valide.")),
        ],
        filters=[_strip],
    )
    first_name = StringField(
        _l("Prénom"),
        validators=[DataRequired(_l("Saisissez le prénom.")), Length(max=100, message=_l("100 caractères au plus."))],
        filters=[_strip],
    )
    last_name = StringField(
        _l("Nom"),
        validators=[DataRequired(_l("Saisissez le nom.")), Length(max=100, message=_l("100 caractères au plus."))],
        filters=[_strip],
    )
    # "8" + the 11 digits of the RPPS, or "0" + the 9 digits of the ADELI number.
    national_id = StringField(
        _l("Identifiant national (RPPS / ADELI)"),
        validators=[
            Optional(),
            Regexp(
                r"^(8\d{11}|0\d{9})$",
                message=_l("Saisissez 8 suivi des 11 chiffres du RPPS, ou 0 suivi des 9 chiffres ADELI."),
            ),
        ],
        filters=[_strip],
    )
    profession_code = StringField(
        _l("Code profession"),
        validators=[Optional(), Regexp(r"^\d{1,4}$", message=_l("De 1 à 4 chiffres."))],
        filters=[_strip],
    )
    roles = MultiCheckboxField(
        _l("Rôles"),
        choices=[SelectChoice(role.value, ROLE_LABELS[role]) for role in Role],  # lazy: translated when shown
        validators=[AtLeastOne(_l("Choisissez au moins un rôle."))],
    )
    # Choices are the establishments of the database, set by the view.
    establishments = MultiCheckboxField(
        _l("Établissements"), coerce=int, validators=[AtLeastOne(_l("Choisissez au moins un établissement."))]
    )
    # Ticked: the account's password is refused; an unticked box (or an older form without it) keeps local login.
    psc_only = BooleanField(_l("Connexion avec Pro Santé Connect uniquement"))


class EstablishmentForm(FlaskForm):
    finess = StringField(
        _l("Numéro FINESS"),
        validators=[
            DataRequired(_l("Saisissez le numéro FINESS.")),
            # Nine characters; Corsican departments begin with 2A or 2B.
            Regexp(r"^(\d{9}|2[AB]\d{7})$", message=_l("Le numéro FINESS compte 9 chiffres (2A ou 2B en Corse).")),
        ],
        filters=[_strip, _upper],
    )
    name = StringField(
        _l("Nom"),
        validators=[DataRequired(_l("Saisissez le nom.")), Length(max=200, message=_l("200 caractères au plus."))],
        filters=[_strip],
    )
    address = StringField(
        _l("Adresse"), validators=[Length(max=300, message=_l("300 caractères au plus."))], filters=[_strip]
    )
    postal_code = StringField(
        _l("Code postal"),
        validators=[Optional(), Regexp(r"^\d{5}$", message=_l("Le code postal compte 5 chiffres."))],
        filters=[_strip],
    )
    city = StringField(
        _l("Ville"), validators=[Length(max=100, message=_l("100 caractères au plus."))], filters=[_strip]
    )
    phone = StringField(
        _l("Téléphone de contact"),
        validators=[
            Optional(),
            Regexp(
                r"^\+?[0-9][0-9 .]{3,28}$",
                message=_l("Saisissez un numéro de téléphone : chiffres, espaces ou points, + pour l'international."),
            ),
        ],
        filters=[_strip],
    )
    email = EmailField(
        _l("Adresse e-mail de contact"),
        validators=[
            Optional(),
            Length(max=254, message=_l("254 caractères au plus.")),
            Email(_l("Cette adresse e-mail n'est pas valide.")),
        ],
        filters=[_strip],
    )


class ConfirmForm(FlaskForm):
    """A state change the administrator must confirm by ticking a box, which works without JavaScript."""

    confirm = BooleanField(_l("Je confirme"), validators=[DataRequired(_l("Cochez la case pour confirmer."))])
