"""Who receives the DMP information notice, in which variant, by which channels, and who may oppose.

A pure function of a usager's facts (DOMAIN.md § The DMP information notice), shared by the
reception pages and `portal notices plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

PROTECTIONS = ("none", "curatelle", "representation_biens", "representation_personne")
INS_STATUSES = ("provisoire", "recuperee", "validee", "qualifiee")
ROLES = ("parent", "tuteur", "curateur", "habilite")
CHANNELS = ("mssante", "email", "courrier", "remise_en_main_propre")
VARIANTS = ("usager", "facile_a_lire", "representant", "parents")
MAJORITY = 18


@dataclass(frozen=True)
class RepresentativeFacts:
    role: str
    email: bool = False
    postal: bool = False


@dataclass(frozen=True)
class Facts:
    birth_date: date
    today: date
    protection: str = "none"
    ins_status: str = "provisoire"
    email: bool = False
    postal: bool = False
    representatives: tuple[RepresentativeFacts, ...] = ()


@dataclass(frozen=True)
class Addressee:
    who: str  # "usager" or "representative"
    index: int | None  # the representative's position in Facts.representatives
    variant: str  # "usager", "facile_a_lire", "representant" or "parents"
    channels: tuple[str, ...]
    may_oppose: bool

    def as_json(self) -> dict:
        return {
            "who": self.who,
            "index": self.index,
            "variant": self.variant,
            "channels": list(self.channels),
            "may_oppose": self.may_oppose,
        }


class InvalidFacts(ValueError):
    """Input the plan cannot use; `field` names it (e.g. `representatives[1].role`)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name} : {message}")
        self.field = field_name


def age(birth_date: date, today: date) -> int:
    """Age in whole years: one is a year older on the birthday itself."""
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def is_minor(facts: Facts) -> bool:
    return age(facts.birth_date, facts.today) < MAJORITY


def plan(facts: Facts) -> list[Addressee]:
    """The usager first, then the representatives who are addressees, in their recorded order."""
    representatives = list(enumerate(facts.representatives))
    if is_minor(facts):
        # Parental authority until the 18th birthday: a measure for an adult, which a judge may
        # order in the last year of minority, takes effect only at majority (art. 429 Code civil).
        usager = _usager(facts, "facile_a_lire", may_oppose=False)
        others = [_representative(i, r, "parents", True) for i, r in representatives if r.role in ("parent", "tuteur")]
    elif facts.protection == "representation_personne":
        # The representative acts, taking the usager's opinion into account; the usager is informed in easy-read.
        usager = _usager(facts, "facile_a_lire", may_oppose=False)
        others = [
            _representative(i, r, "representant", True) for i, r in representatives if r.role in ("tuteur", "habilite")
        ]
    elif facts.protection == "curatelle":
        # The usager acts alone; the person assisting them (curator, or family member authorised
        # to assist) may get a copy for information only.
        usager = _usager(facts, "usager", may_oppose=True)
        others = [
            _representative(i, r, "representant", False)
            for i, r in representatives
            if r.role in ("curateur", "habilite")
        ]
    else:
        # No measure, or one for property only: health decisions stay with the usager.
        usager = _usager(facts, "usager", may_oppose=True)
        others = []
    return [usager, *others]


def _usager(facts: Facts, variant: str, *, may_oppose: bool) -> Addressee:
    # The citizen address <INS>@patient.mssante.fr is the usager's own, a minor's included,
    # and may be built only from a qualified INS.
    channels = _channels(mssante=facts.ins_status == "qualifiee", email=facts.email, postal=facts.postal)
    return Addressee("usager", None, variant, channels, may_oppose)


def _representative(index: int, facts: RepresentativeFacts, variant: str, may_oppose: bool) -> Addressee:
    channels = _channels(mssante=False, email=facts.email, postal=facts.postal)
    return Addressee("representative", index, variant, channels, may_oppose)


def _channels(*, mssante: bool, email: bool, postal: bool) -> tuple[str, ...]:
    possible = {"mssante": mssante, "email": email, "courrier": postal, "remise_en_main_propre": True}
    return tuple(channel for channel in CHANNELS if possible[channel])


# The JSON form of `portal notices plan`.

FIELDS = {"birth_date", "today", "protection", "ins_status", "email", "postal", "representatives"}
REPRESENTATIVE_FIELDS = {"role", "email", "postal"}


def facts_from_json(data: object, today: date, prefix: str = "") -> Facts:
    """Facts from one decoded JSON object; `today` is used when the object gives none."""
    _check_object(data, prefix, FIELDS)
    birth_date = _date(data, "birth_date", prefix)
    today = _date(data, "today", prefix) if "today" in data else today
    if birth_date > today:
        raise InvalidFacts(f"{prefix}birth_date", "la date de naissance est postérieure à la date du jour (today).")
    representatives = data.get("representatives", [])
    if not isinstance(representatives, list):
        raise InvalidFacts(f"{prefix}representatives", "une liste d'objets est attendue.")
    return Facts(
        birth_date=birth_date,
        today=today,
        protection=_choice(data, "protection", PROTECTIONS, prefix),
        ins_status=_choice(data, "ins_status", INS_STATUSES, prefix),
        email=_bool(data, "email", prefix),
        postal=_bool(data, "postal", prefix),
        representatives=tuple(
            _representative_facts(item, f"{prefix}representatives[{i}].") for i, item in enumerate(representatives)
        ),
    )


def _representative_facts(data: object, prefix: str) -> RepresentativeFacts:
    _check_object(data, prefix, REPRESENTATIVE_FIELDS)
    return RepresentativeFacts(
        role=_choice(data, "role", ROLES, prefix),
        email=_bool(data, "email", prefix),
        postal=_bool(data, "postal", prefix),
    )


def _check_object(data: object, prefix: str, allowed: set[str]) -> None:
    if not isinstance(data, dict):
        raise InvalidFacts(prefix.rstrip(".") or "entrée", "un objet JSON est attendu.")
    # A misspelt field would otherwise be ignored silently and change the plan.
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidFacts(f"{prefix}{unknown[0]}", "champ inconnu.")


def _required(data: dict, name: str, prefix: str) -> object:
    if name not in data:
        raise InvalidFacts(f"{prefix}{name}", "champ obligatoire manquant.")
    return data[name]


def _date(data: dict, name: str, prefix: str) -> date:
    value = _required(data, name, prefix)
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidFacts(f"{prefix}{name}", "une date AAAA-MM-JJ est attendue.") from None


def _choice(data: dict, name: str, allowed: tuple[str, ...], prefix: str) -> str:
    value = _required(data, name, prefix)
    if value not in allowed:
        raise InvalidFacts(f"{prefix}{name}", f"valeur attendue parmi {', '.join(allowed)}.")
    return value


def _bool(data: dict, name: str, prefix: str) -> bool:
    value = _required(data, name, prefix)
    if not isinstance(value, bool):
        raise InvalidFacts(f"{prefix}{name}", "true ou false est attendu.")
    return value
