"""The annuaire's search form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SearchField, SelectChoice, SelectField
from wtforms.validators import Length, NumberRange, Optional, Regexp

# Codes of the TRE_G15 and TRE_R94 tables an ESSMS writes to most.
PROFESSIONS = [
    ("10", _l("Médecin")), ("21", _l("Pharmacien")), ("40", _l("Chirurgien-dentiste")), ("50", _l("Sage-femme")),
    ("60", _l("Infirmier")), ("70", _l("Masseur-kinésithérapeute")), ("91", _l("Orthophoniste")),
    ("93", _l("Psychologue")), ("94", _l("Ergothérapeute")), ("96", _l("Psychomotricien")),
    ("41", _l("Assistant de service social")), ("47", _l("Aide médico-psychologique")),
    ("48", _l("Moniteur éducateur")), ("51", _l("Éducateur spécialisé")), ("53", _l("Accompagnant éducatif et social")),
]  # fmt: skip


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = SearchField(_l("Rechercher"), validators=[Optional(), Length(max=200)])
    bal_type = SelectField(
        _l("Type de boîte"),
        choices=[SelectChoice("", _l("Toutes")), SelectChoice("PER", _l("Nominative")), SelectChoice("ORG", _l("Organisationnelle"))],
        default="",
    )
    profession = SelectField(_l("Profession"), choices=[SelectChoice("", _l("Toutes")), *(SelectChoice(code, label) for code, label in PROFESSIONS)], default="")
    department = SearchField(_l("Département"), validators=[Optional(), Regexp(r"^(\d{2,3}|2[abAB])$")])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=50)], default=1)
