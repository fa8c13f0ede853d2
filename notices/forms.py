"""Forms of the usager pages (search, a usager with their representatives, the import of a DUI file), of the
notice texts editor and of the DUIs' access to the API."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp, ValidationError

from notices.models import (
    IDENTITY_STATUS_LABELS,
    PROTECTION_LABELS,
    ROLE_LABELS,
    SEX_LABELS,
    IdentityStatus,
    Protection,
    RepresentativeRole,
    Sex,
)
from notices.service import RepresentativeData, UsagerData
from portal import ins
from portal.models import Establishment

# Statuses reached by querying the INSi teleservice, which returns the matricule.
STATUSES_WITH_INS = (IdentityStatus.RECUPEREE, IdentityStatus.QUALIFIEE)
MAX_REPRESENTATIVES = 10
USAGER_TEXT_FIELDS = (
    "local_id", "birth_name", "birth_first_names", "birth_place_code",
    "address_line1", "address_line2", "postal_code", "city", "email",
)  # fmt: skip
REPRESENTATIVE_TEXT_FIELDS = (
    "last_name", "first_names", "address_line1", "address_line2", "postal_code", "city", "email",
    "judgment_type", "judgment_scope", "judgment_reference",
)  # fmt: skip
INS_ERRORS = {
    "length": _l("Le matricule INS compte 15 caractères : 13 chiffres et une clé de 2 chiffres."),
    "characters": _l("Le matricule INS ne contient que des chiffres, sauf 2A ou 2B (Corse) en 6e et 7e positions."),
    "kind": _l("Le matricule INS commence par 1 ou 2 (NIR), ou par 7 ou 8 (NIA, numéro d'attente)."),
    "key": _l("La clé du matricule INS ne correspond pas : vérifiez les 15 caractères saisis."),
}


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _optional_int(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("%(max)d caractères au plus.", max=maximum))


POSTAL_CODE = Regexp(r"^\d{5}$", message=_l("Le code postal compte 5 chiffres."))
EMAIL = Email(_l("Cette adresse e-mail n'est pas valide."))


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = SearchField(_l("Rechercher"), validators=[Optional(), Length(max=200)], filters=[_strip])
    page = IntegerField(validators=[Optional(), NumberRange(min=1)], default=1)


class RepresentativeForm(Form):
    """One row of the representatives sub-form; a plain Form: the usager form carries the CSRF token."""

    id = HiddenField(filters=[_optional_int])
    role = SelectField(
        _l("Qualité"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        coerce=RepresentativeRole,
    )
    last_name = StringField(
        _l("Nom"), validators=[DataRequired(_l("Saisissez le nom.")), _length(100)], filters=[_strip]
    )
    first_names = StringField(_l("Prénoms"), validators=[_length(200)], filters=[_strip])
    address_line1 = StringField(_l("Adresse"), validators=[_length(200)], filters=[_strip])
    address_line2 = StringField(_l("Complément d'adresse"), validators=[_length(200)], filters=[_strip])
    postal_code = StringField(_l("Code postal"), validators=[Optional(), POSTAL_CODE], filters=[_strip])
    city = StringField(_l("Ville"), validators=[_length(100)], filters=[_strip])
    email = EmailField(_l("Adresse e-mail"), validators=[Optional(), _length(254), EMAIL], filters=[_strip])
    judgment_type = StringField(_l("Type de mesure"), validators=[_length(100)], filters=[_strip])
    judgment_scope = StringField(_l("Étendue de la mesure"), validators=[_length(200)], filters=[_strip])
    judgment_reference = StringField(_l("Référence du jugement"), validators=[_length(200)], filters=[_strip])
    judgment_date = DateField(_l("Date du jugement"), validators=[Optional()])
    measure_end_date = DateField(_l("Fin ou révision de la mesure"), validators=[Optional()])
    remove = BooleanField(_l("Retirer ce représentant"))

    def is_dropped(self) -> bool:
        """Ticked for removal, or a new row left blank: such a row is neither validated nor saved."""
        blank = not any(self[name].data for name in REPRESENTATIVE_TEXT_FIELDS)
        return bool(self.remove.data) or (blank and self.id.data is None)

    def validate(self, extra_validators=None) -> bool:
        return True if self.is_dropped() else super().validate(extra_validators)


class UsagerForm(FlaskForm):
    # Choices are the actor's establishments, set by the view; creation only.
    establishment_id = SelectField(_l("Établissement"), coerce=int, choices=[])
    local_id = StringField(
        _l("Identifiant dans le dossier usager (DUI)"),
        validators=[DataRequired(_l("Saisissez l'identifiant du dossier usager.")), _length(64)],
        filters=[_strip],
    )
    identity_status = SelectField(
        _l("Statut de l'identité"),
        choices=[SelectChoice(status.value, label) for status, label in IDENTITY_STATUS_LABELS.items()],
        coerce=IdentityStatus,
    )
    ins = StringField(_l("Matricule INS"), filters=[_strip])
    birth_name = StringField(
        _l("Nom de naissance"),
        validators=[DataRequired(_l("Saisissez le nom de naissance.")), _length(100)],
        filters=[_strip],
    )
    birth_first_names = StringField(
        _l("Prénoms de naissance"),
        validators=[DataRequired(_l("Saisissez les prénoms de naissance.")), _length(200)],
        filters=[_strip],
    )
    birth_date = DateField(
        _l("Date de naissance"), validators=[DataRequired(_l("Saisissez la date de naissance (JJ/MM/AAAA)."))]
    )
    # No sex chosen in advance: an identity trait is entered, never left as it came.
    sex = SelectField(
        _l("Sexe"),
        choices=[SelectChoice("", _l("— à choisir —"))]
        + [SelectChoice(sex.value, label) for sex, label in SEX_LABELS.items()],
        coerce=lambda value: Sex(value) if value else None,
        validators=[DataRequired(_l("Choisissez le sexe : c'est un trait de l'identité."))],
    )
    birth_place_code = StringField(
        _l("Code INSEE du lieu de naissance"),
        validators=[
            Optional(),
            Regexp(
                r"^(\d{5}|2[AB]\d{3})$",
                message=_l("Le code INSEE compte 5 caractères : chiffres, ou 2A / 2B suivi de 3 chiffres en Corse."),
            ),
        ],
        filters=[_strip, lambda v: v.upper() if isinstance(v, str) else v],
    )
    admission_date = DateField(_l("Date d'admission"), validators=[Optional()])
    address_line1 = StringField(_l("Adresse"), validators=[_length(200)], filters=[_strip])
    address_line2 = StringField(_l("Complément d'adresse"), validators=[_length(200)], filters=[_strip])
    postal_code = StringField(_l("Code postal"), validators=[Optional(), POSTAL_CODE], filters=[_strip])
    city = StringField(_l("Ville"), validators=[_length(100)], filters=[_strip])
    email = EmailField(_l("Adresse e-mail"), validators=[Optional(), _length(254), EMAIL], filters=[_strip])
    protection = SelectField(
        _l("Mesure de protection juridique"),
        choices=[SelectChoice(p.value, label) for p, label in PROTECTION_LABELS.items()],
        coerce=Protection,
    )
    representatives = FieldList(FormField(RepresentativeForm), max_entries=MAX_REPRESENTATIVES)
    # Adds an empty row and shows the form again, without saving: works without JavaScript.
    add_representative = SubmitField(_l("Ajouter un représentant"))

    def validate_ins(self, field) -> None:
        if not field.data:
            if self.identity_status.data in STATUSES_WITH_INS:
                raise ValidationError(_l("Une identité récupérée ou qualifiée a un matricule INS."))
            field.data = None
            return
        try:
            field.data, _kind = ins.validate(field.data)
        except ins.InvalidMatricule as invalid:
            raise ValidationError(INS_ERRORS[invalid.reason]) from None

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Not a validate_birth_place_code: Optional() ends the field's chain when it is empty.
        if self.identity_status.data in STATUSES_WITH_INS and not self.birth_place_code.data:
            self.birth_place_code.errors.append(_l("Le lieu de naissance est un trait INS : saisissez son code INSEE."))
            return False
        return valid

    def usager_data(self) -> UsagerData:
        """The validated form as the service takes it; rows left blank or ticked for removal are left out."""
        representatives = tuple(
            RepresentativeData(
                **{name: row.form[name].data or "" for name in REPRESENTATIVE_TEXT_FIELDS},
                id=row.form.id.data,
                role=row.form.role.data,
                judgment_date=row.form.judgment_date.data,
                measure_end_date=row.form.measure_end_date.data,
            )
            for row in self.representatives
            if not row.form.is_dropped()
        )
        return UsagerData(
            **{name: self[name].data or "" for name in USAGER_TEXT_FIELDS},
            ins=self.ins.data or None,
            identity_status=self.identity_status.data,
            birth_date=self.birth_date.data,
            sex=self.sex.data,
            admission_date=self.admission_date.data,
            protection=self.protection.data,
            representatives=representatives,
        )


class ImportForm(FlaskForm):
    # Choices are the actor's establishments, set by the view, which drops the field when there is only one.
    establishment_id = SelectField(_l("Établissement"), coerce=int, choices=[])
    file = FileField(
        _l("Fichier exporté du dossier usager (CSV ou JSON FHIR)"),
        validators=[FileRequired(_l("Choisissez le fichier à importer."))],
    )


# What the editor says of each error of notices.templating.TextError, by reason.
TEXT_ERRORS = {
    "too_long": _l("Le texte est trop long : %(detail)s caractères au plus."),
    "html": _l(
        "Ligne %(line)s : le texte ne peut pas contenir de balises HTML (< >). Utilisez la mise en forme simple : "
        "paragraphes, titres « ## », listes « - », gras « **…** »."
    ),
    "syntax": _l(
        "Ligne %(line)s : un champ {{ … }} ou une condition {%% … %%} est mal écrit (accolade ou « endif » manquant ?)."
    ),
    "construct": _l(
        "Ligne %(line)s : seuls les champs {{ nom }} et les conditions {%% if nom %%} … {%% else %%} … {%% endif %%} "
        "sont permis (pas de filtre « | », de point, d'appel ni de boucle)."
    ),
    "unknown_field": _l("Ligne %(line)s : le champ « %(name)s » n'existe pas. Utilisez un des champs listés."),
    "missing_field": _l("Le texte doit contenir le champ {{ %(name)s }} : le destinataire doit recevoir son lien."),
}


class NoticeTextForm(FlaskForm):
    body = TextAreaField(_l("Texte de la notice"), validators=[DataRequired(_l("Saisissez le texte."))])
    # Preview only: shows the text as a curator (who gets a copy for information) reads it.
    preview_curator = BooleanField(_l("Aperçu pour un curateur (copie pour information, sans droit d'agir)"))


class DuiClientForm(FlaskForm):
    # Choices are the actor's establishments, set by the view.
    establishment_id = SelectField(_l("Établissement"), coerce=int, choices=[])
    name = StringField(
        _l("Nom du DUI (il signe ses appels dans le journal d'audit)"),
        validators=[DataRequired(_l("Nommez ce DUI.")), Length(max=100)],
    )


class BatchForm(FlaskForm):
    """The selection of a batch; the preview carries it back in hidden fields, the ids file as `local_ids`."""

    # Choices are the actor's establishments, set by the view, which drops the field when there is only one.
    establishment_id = SelectField(_l("Établissement"), coerce=int, choices=[])
    not_informed = BooleanField(_l("Seulement les destinataires pas encore informés pendant le suivi actuel"))
    admitted_from = DateField(_l("Admis à partir du"), validators=[Optional()])
    admitted_to = DateField(_l("Admis jusqu'au"), validators=[Optional()])
    ids_file = FileField(_l("Liste d'identifiants de dossier (CSV, première colonne)"))
    local_ids = HiddenField()
    confirm = HiddenField()

    def validate_admitted_to(self, field) -> None:
        if field.data and self.admitted_from.data and field.data < self.admitted_from.data:
            raise ValidationError(_l("La fin de la période précède son début."))


def offer_establishments(form: ImportForm | BatchForm, establishments: list[Establishment]) -> None:
    """The choice of establishment is shown only to someone who registers usagers in several."""
    if len(establishments) > 1:
        form.establishment_id.choices = [SelectChoice(e.id, e.name) for e in establishments]
    else:
        del form.establishment_id
