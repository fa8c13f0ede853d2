"""Demo usagers for the embedded mode: the residents the demo mail speaks of, and one more, each in a situation
the information plan treats differently (no measure, tutelle, curatelle, no address but the establishment's).

Called inside the portal's demo seed transaction (app.extensions["demo_seeders"]), which commits once.
Everything is fictitious: the identities are the demo's residents (portal.demo), with valid INS keys.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from notices.models import IdentityStatus, Protection, Representative, RepresentativeRole, Sex, Usager
from portal.database import utcnow
from portal.demo import JEANNE, MARCEL, ROBERT
from portal.models import Establishment


def seed_usagers(db: Session, establishment: Establishment) -> None:
    admitted = utcnow().date() - timedelta(days=10)
    at_home = {
        "address_line1": establishment.address,
        "postal_code": establishment.postal_code,
        "city": establishment.city,
    }

    def resident(local_id: str, patient, identity_status: IdentityStatus, **fields) -> Usager:
        return Usager(
            establishment=establishment,
            local_id=local_id,
            ins=patient.ins,
            identity_status=identity_status,
            birth_name=patient.family.upper(),
            birth_first_names=patient.given,
            birth_date=patient.birth_date,
            sex=Sex(patient.sex),
            admission_date=admitted,
            **{**at_home, **fields},
        )

    # No measure and a qualified identity: informed through her Mon espace santé messaging.
    jeanne = resident("DUI-0412", JEANNE, IdentityStatus.QUALIFIEE)
    # Under tutelle (representation of the person): the guardian acts; he gets the easy-read version.
    robert = resident("DUI-0923", ROBERT, IdentityStatus.VALIDEE, protection=Protection.REPRESENTATION_PERSONNE)
    robert.representatives = [
        Representative(
            position=0,
            role=RepresentativeRole.TUTEUR,
            last_name="UDAF de la Sarthe",
            first_names="Service des majeurs protégés",
            address_line1="3 rue Paul Beldant",
            postal_code="72000",
            city="Le Mans",
            email="mjpm@udaf72.example.org",
            judgment_type="Tutelle",
            judgment_scope="personne et biens",
            judgment_reference="Tribunal judiciaire du Mans, RG 24/01234",
            judgment_date=date(2024, 3, 15),
        )
    ]
    # Under curatelle: he decides; his daughter, his curator, gets a copy for information.
    marcel = resident("DUI-0207", MARCEL, IdentityStatus.PROVISOIRE, protection=Protection.CURATELLE,
                      email="marcel.hamon@example.org")  # fmt: skip
    marcel.representatives = [
        Representative(
            position=0,
            role=RepresentativeRole.CURATEUR,
            last_name="HAMON",
            first_names="Sylvie",
            address_line1="8 allée des Acacias",
            postal_code="72100",
            city="Le Mans",
            email="sylvie.hamon@example.org",
            judgment_type="Curatelle renforcée",
            judgment_reference="Tribunal judiciaire du Mans, RG 23/00871",
            judgment_date=date(2023, 11, 6),
        )
    ]
    # No INS yet, no e-mail: a letter at the establishment, or a notice handed over.
    henriette = Usager(
        establishment=establishment,
        local_id="DUI-1130",
        identity_status=IdentityStatus.PROVISOIRE,
        birth_name="PETIT",
        birth_first_names="Henriette Marie",
        birth_date=date(1932, 11, 30),
        sex=Sex.F,
        admission_date=admitted,
        **at_home,
    )
    db.add_all([jeanne, robert, marcel, henriette])
