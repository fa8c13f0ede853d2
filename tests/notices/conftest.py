"""Fixtures of the notices tests: usagers on record, and reception staff of another establishment."""

from datetime import date

import pytest

from notices import import_service
from notices.models import IdentityStatus, Protection, Representative, RepresentativeRole, Sex, Usager
from portal.models import Establishment, Role

# A NIR whose key is right (see test_ins.py).
NIR = "255081416802538"


@pytest.fixture()
def make_usager(db, establishment):
    def make(local_id: str = "DUI-0001", **fields) -> Usager:
        values = {
            "establishment": establishment,
            "local_id": local_id,
            "ins": None,
            "identity_status": IdentityStatus.PROVISOIRE,
            "birth_name": "Martin",
            "birth_first_names": "Louise Marie",
            "birth_date": date(1940, 8, 14),
            "sex": Sex.F,
        }
        usager = Usager(**{**values, **fields})
        db.add(usager)
        db.commit()
        return usager

    return make


@pytest.fixture()
def usager_under_guardianship(make_usager) -> Usager:
    guardian = Representative(
        position=0, role=RepresentativeRole.TUTEUR, last_name="Bernard", first_names="Paul",
        address_line1="3 rue Haute", postal_code="72000", city="Le Mans", email="paul.bernard@example.org",
        judgment_type="tutelle", judgment_scope="à la personne et aux biens", judgment_reference="TJ Le Mans 24/123",
    )  # fmt: skip
    return make_usager(
        ins=NIR,
        identity_status=IdentityStatus.QUALIFIEE,
        birth_place_code="14168",
        protection=Protection.REPRESENTATION_PERSONNE,
        address_line1="1 rue des Lilas",
        postal_code="72000",
        city="Le Mans",
        representatives=[guardian],
    )


@pytest.fixture()
def other_reception(make_user, db):
    elsewhere = Establishment(finess="690000003", name="MAS Les Cèdres", city="Lyon", postal_code="69002")
    db.add(elsewhere)
    return make_user("accueil@cedres.test.mssante.fr", Role.RECEPTION, establishments=[elsewhere])


@pytest.fixture()
def import_dui(app, db, reception, establishment):
    """Import (or preview) a DUI file as the establishment's reception officer.

    Inside an app context: the service checks rows with the usager form, which reads the
    application's settings and language.
    """

    def run(data: bytes, *, apply: bool = True):
        action = import_service.apply if apply else import_service.preview
        with app.app_context():
            return action(db, reception, establishment.id, data)

    return run
