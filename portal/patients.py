"""The patients a user may write to or about: an interface that the notices feature fills in.

The webmail builds patient MSSanté addresses and attaches patient documents, but must not import
notices (DESIGN rule 1): notices registers a `PatientDirectory` in create_app, and the webmail asks
this module. Without one registered, no patient is known and none can be written to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from flask import Flask, current_app
from sqlalchemy.orm import Session

from portal.annuaire.service import PATIENT_DOMAIN
from portal.models import User


@dataclass(frozen=True, slots=True)
class PatientIdentity:
    """A usager's INS identity: the matricule and the traits that go with it."""

    ins: str  # matricule INS, 15 characters with its key
    birth_name: str
    first_names: str  # all birth first names, separated by spaces
    birth_date: date
    sex: str  # "F" or "M"
    qualified: bool  # the identity status is "qualifiée": only then may the INS be used to exchange data

    @property
    def display_name(self) -> str:
        return f"{self.birth_name.upper()} {self.first_names}"

    @property
    def address(self) -> str:
        """The usager's Mon espace santé messaging address (only ever used when qualified)."""
        return f"{self.ins}@{PATIENT_DOMAIN}"


class PatientDirectory(Protocol):
    def search(self, db: Session, user: User, text: str) -> list[PatientIdentity]: ...

    def get(self, db: Session, user: User, ins: str) -> PatientIdentity | None: ...


def register(app: Flask, directory: PatientDirectory) -> None:
    """notices.init_app registers its usagers here."""
    app.extensions["patients"] = directory


def search(db: Session, user: User, text: str) -> list[PatientIdentity]:
    """The usagers holding an INS that `user` may see whose name or INS matches every word of `text`."""
    directory = current_app.extensions.get("patients")
    return directory.search(db, user, text) if directory else []


def get(db: Session, user: User, ins: str) -> PatientIdentity | None:
    """The usager with this INS if `user` may see them; None otherwise (or when nobody registered)."""
    directory = current_app.extensions.get("patients")
    return directory.get(db, user, ins) if directory else None
