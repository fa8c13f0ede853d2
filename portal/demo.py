"""Demo data for the embedded mode: one establishment and a cast of users."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.service import SUCCESS, record
from portal.auth import passwords, totp
from portal.ins import control_key
from portal.models import Establishment, Role, User

DEMO_FINESS = "750000001"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str
    totp_secret: str
    totp_uri: str


CAST = (
    ("admin@ehpad-tilleuls.demo.mssante.fr", "Anne", "Martin", None, None, {Role.ADMINISTRATOR}),
    ("claire.durand@ehpad-tilleuls.demo.mssante.fr", "Claire", "Durand", "810000000017", "60", {Role.PROFESSIONAL}),
    ("paul.bernard@ehpad-tilleuls.demo.mssante.fr", "Paul", "Bernard", "810000000025", "10", {Role.PROFESSIONAL}),
    ("accueil@ehpad-tilleuls.demo.mssante.fr", "Sophie", "Petit", None, None, {Role.RECEPTION}),
)


@dataclass(frozen=True)
class Resident:
    """A resident of the demo establishment: the demo mail speaks of them, reception finds them as usagers.

    Fictitious, with a valid INS key; `qualified` and the names below are the traits a patient's
    identity carries in an MSSanté package (mail.xdm.PatientIdentity).
    """

    family: str
    given: str
    birth: str  # YYYYMMDD
    sex: str  # F / M
    nir13: str  # the 13 digits of a fictitious NIR
    qualified = True

    @property
    def ins(self) -> str:
        return f"{self.nir13}{control_key(self.nir13):02d}"

    @property
    def birth_name(self) -> str:
        return self.family

    @property
    def first_names(self) -> str:
        return self.given

    @property
    def birth_date(self) -> date:
        return datetime.strptime(self.birth, "%Y%m%d").date()

    @property
    def label(self) -> str:
        return f"{'Mme' if self.sex == 'F' else 'M.'} {self.given} {self.family.upper()}"


JEANNE = Resident("Lefèvre", "Jeanne", "19380412", "F", "2380472181042")
ROBERT = Resident("Garnier", "Robert", "19350923", "M", "1350972181117")
MARCEL = Resident("Hamon", "Marcel", "19410207", "M", "1410272003058")


@dataclass(frozen=True)
class Correspondent:
    """A correspondent of the demo establishment outside it: writes in the demo mail, listed in the demo annuaire.

    Fictitious; .demo.mssante.fr addresses never resolve to anyone.
    """

    name: str  # as the mail shows it
    address: str
    bal_type: str  # PER (a person) or ORG (a service)
    structure: str
    service: str = ""
    last_name: str = ""
    first_name: str = ""
    profession: tuple[str, str] = ("", "")  # code and label of the RPPS
    specialty: str = ""
    national_id: str = ""
    street: str = "194 avenue Rubillard"
    postal_code: str = "72037"
    city: str = "Le Mans"

    @property
    def mailbox(self) -> str:
        return f"{self.name} <{self.address}>"


_CH = "Centre hospitalier du Mans (démo)"
DOCTOR = ("10", "Médecin")  # code and label of the RPPS
URGENCES = Correspondent(
    "Service des urgences - CH du Mans (démo)", "urgences@ch-lemans.demo.mssante.fr", "ORG", _CH,
    service="Service des urgences",
)
SOCIAL = Correspondent(
    "Service social - CH du Mans (démo)", "service.social@ch-lemans.demo.mssante.fr", "ORG", _CH,
    service="Service social",
)
GERIATRIE = Correspondent(
    "Dr Hélène Moreau", "helene.moreau@ch-lemans.demo.mssante.fr", "PER", _CH, service="Médecine gériatrique",
    last_name="Moreau", first_name="Hélène", profession=DOCTOR, specialty="Gériatrie", national_id="810000001019",
)
GENERALISTE = Correspondent(
    "Dr Marc Lefort", "marc.lefort@medecin.demo.mssante.fr", "PER", "Cabinet médical du Vieux Mans (démo)",
    last_name="Lefort", first_name="Marc", profession=DOCTOR, specialty="Médecine générale",
    national_id="810000001027", street="8 rue de la Reine Bérengère", postal_code="72000",
)
CARDIO = Correspondent(
    "Dr Nadia Benali", "nadia.benali@clinique-pontlieue.demo.mssante.fr", "PER", "Clinique de Pontlieue (démo)",
    service="Cardiologie", last_name="Benali", first_name="Nadia", profession=DOCTOR,
    specialty="Cardiologie et maladies vasculaires", national_id="810000001035", street="2 rue Chanzy",
    postal_code="72100",
)
KINE = Correspondent(
    "Julien Roussel, kinésithérapeute", "julien.roussel@kine.demo.mssante.fr", "PER",
    "Cabinet de kinésithérapie des Jacobins (démo)", last_name="Roussel", first_name="Julien",
    profession=("70", "Masseur-Kinésithérapeute"), national_id="810000001043", street="5 place des Jacobins",
    postal_code="72000",
)
LABO = Correspondent(
    "Laboratoire Biosarthe (démo)", "resultats@biosarthe.demo.mssante.fr", "ORG", "Laboratoire Biosarthe (démo)",
    service="Résultats", street="31 avenue Bollée", postal_code="72000",
)
PHARMACIE = Correspondent(
    "Pharmacie des Jacobins (démo)", "officine@pharmacie-jacobins.demo.mssante.fr", "ORG",
    "Pharmacie des Jacobins (démo)", service="Officine", street="1 place des Jacobins", postal_code="72000",
)
HAD = Correspondent(
    "HAD Sarthe (démo)", "coordination@had72.demo.mssante.fr", "ORG", "HAD Sarthe (démo)", service="Coordination",
    street="10 rue Barbier", postal_code="72000",
)
CPIAS = Correspondent(
    "CPias Pays de la Loire (démo)", "contact@cpias.demo.mssante.fr", "ORG", "CPias Pays de la Loire (démo)",
    service="Secrétariat", street="5 allée de l'Île Gloriette", postal_code="44093", city="Nantes",
)
OPERATEUR = Correspondent(
    "Opérateur MSSanté (démo)", "support@operateur.demo.mssante.fr", "ORG", "Opérateur MSSanté (démo)",
    service="Support", street="1 rue de la Santé", postal_code="75013", city="Paris",
)
CORRESPONDENTS = (URGENCES, SOCIAL, GERIATRIE, GENERALISTE, CARDIO, KINE, LABO, PHARMACIE, HAD, CPIAS, OPERATEUR)


def seed(db: Session) -> list[DemoAccount]:
    """Create the demo data unless it exists; the returned credentials exist nowhere else."""
    if db.scalar(select(Establishment).where(Establishment.finess == DEMO_FINESS)):
        return []
    establishment = Establishment(
        finess=DEMO_FINESS,
        name="EHPAD Les Tilleuls",
        address="12 rue des Tilleuls",
        postal_code="72000",
        city="Le Mans",
        phone="02 43 00 00 00",
        email="accueil@ehpad-tilleuls.demo.mssante.fr",
    )
    db.add(establishment)
    issuer = current_app.config["PORTAL_SETTINGS"].totp_issuer
    accounts = []
    for email, first, last, national_id, profession, roles in CAST:
        password = secrets.token_urlsafe(12)
        secret = totp.new_secret()
        user = User(
            email=email,
            first_name=first,
            last_name=last,
            national_id=national_id,
            profession_code=profession,
            password_hash=passwords.hash_password(password),
            totp_secret=secret,
            establishments=[establishment],
        )
        user.roles = roles
        db.add(user)
        role_label = " + ".join(sorted(str(role.label) for role in roles))
        accounts.append(DemoAccount(role_label, email, password, secret, totp.provisioning_uri(secret, email, issuer)))
    db.flush()
    for contribute in current_app.extensions.get("demo_seeders", ()):  # e.g. the mail feature's mailboxes
        contribute(db, establishment)
    record(db, "demo.seeded", outcome=SUCCESS, actor_label="portal demo-seed", target=establishment.finess)
    db.commit()
    return accounts


def current_code(db: Session, email: str) -> str:
    user = db.scalar(select(User).where(User.email == email.lower()))
    if user is None or user.totp_secret is None:
        raise LookupError(f"no enrolled account {email}")
    return totp.current_code(user.totp_secret)
