"""The INS matricule (NIR or NIA): format, control key and kind, with French error messages (shared by the annuaire and the notices)."""

from __future__ import annotations

import enum
import re

# Sex digit (1), year (2), month (2), department (2, or 2A / 2B in Corsica), commune (3), order (3), key (2).
MATRICULE_RE = re.compile(r"^\d{5}(?:\d{2}|2[AB])\d{8}$")
# Corsica's departments are letters in the matricule but numbers for the key.
CORSICA_FOR_KEY = {"2A": "19", "2B": "18"}


class Kind(enum.StrEnum):
    NIR = "NIR"  # numéro d'inscription au répertoire (RNIPP), the usual case
    NIA = "NIA"  # numéro d'identification d'attente, while the NIR is being assigned


class InvalidMatricule(ValueError):
    """The matricule is not a well-formed INS; the message is meant for the person typing it.

    `reason` ("length", "characters", "kind" or "key") lets a translated interface say the same.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def normalise(text: str) -> str:
    """Spaces, dots and dashes are often typed as separators; 2a is 2A."""
    return re.sub(r"[\s.\-]", "", text).upper()


def control_key(first_13: str) -> int:
    """97 - (the 13 characters as a number, Corsica counted as 19 / 18, mod 97)."""
    digits = first_13[:5] + CORSICA_FOR_KEY.get(first_13[5:7], first_13[5:7]) + first_13[7:]
    return 97 - int(digits) % 97


def validate(text: str) -> tuple[str, Kind]:
    """The normalised matricule and its kind, or InvalidMatricule saying what is wrong."""
    matricule = normalise(text)
    if len(matricule) != 15:
        raise InvalidMatricule(
            "length",
            f"Le matricule INS compte 15 caractères (13 chiffres et une clé de 2 chiffres) ; {len(matricule)} saisis.",
        )
    if not MATRICULE_RE.match(matricule):
        raise InvalidMatricule(
            "characters", "Le matricule INS ne contient que des chiffres, sauf 2A ou 2B (Corse) en 6e et 7e positions."
        )
    kind = {"1": Kind.NIR, "2": Kind.NIR, "7": Kind.NIA, "8": Kind.NIA}.get(matricule[0])
    if kind is None:
        raise InvalidMatricule(
            "kind", "Le matricule INS commence par 1 ou 2 (NIR) ou par 7 ou 8 (NIA, numéro d'attente)."
        )
    if int(matricule[13:]) != control_key(matricule[:13]):
        raise InvalidMatricule("key", "La clé du matricule INS ne correspond pas : vérifiez les 15 caractères saisis.")
    return matricule, kind
