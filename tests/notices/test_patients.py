"""The usagers the webmail may write to or about, through portal.patients: INS holders of the user's establishments."""

from datetime import date

from notices.models import IdentityStatus
from portal import patients
from tests.notices.conftest import NIR

# Another well-formed NIR (key 97 - n mod 97).
OTHER_NIR = "1840775056123" + f"{97 - 1840775056123 % 97:02d}"


def test_professional_finds_usagers_holding_an_ins_by_name_with_their_traits(app, db, professional, make_usager):
    make_usager("DUI-1", ins=NIR, identity_status=IdentityStatus.QUALIFIEE, birth_name="Durand", birth_first_names="Marie Anne")
    make_usager("DUI-2", ins=OTHER_NIR, identity_status=IdentityStatus.RECUPEREE, birth_name="Durand", birth_first_names="Paul")
    make_usager("DUI-3", birth_name="Durand", birth_first_names="Sans INS")

    with app.test_request_context():
        found = patients.search(db, professional, "durand")

    assert [(p.first_names, p.qualified) for p in found] == [("Marie Anne", True), ("Paul", False)]
    marie = found[0]
    assert (marie.ins, marie.birth_date, marie.sex) == (NIR, date(1940, 8, 14), "F")
    assert marie.address == f"{NIR}@patient.mssante.fr" and marie.display_name == "DURAND Marie Anne"


def test_get_answers_a_usager_by_ins_only_within_the_users_establishments(app, db, professional, stranger, make_usager):
    make_usager(ins=NIR, identity_status=IdentityStatus.QUALIFIEE)

    with app.test_request_context():
        assert patients.get(db, professional, NIR).qualified
        assert patients.get(db, stranger, NIR) is None
        assert patients.search(db, stranger, "martin") == []
        assert patients.get(db, professional, OTHER_NIR) is None
