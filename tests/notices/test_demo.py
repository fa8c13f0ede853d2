"""The demo's usagers: the residents of the demo mail, each in a situation the plan treats differently."""

from sqlalchemy import select

from notices import service
from notices.models import Usager
from portal import demo


def test_the_demo_seed_gives_reception_residents_whose_plans_differ(app, db):
    with app.app_context():
        demo.seed(db)
    plans = {
        usager.birth_name: [(a.who, a.variant, a.channels, a.may_oppose) for a in service.plan_for(usager)]
        for usager in db.scalars(select(Usager))
    }

    assert plans == {
        # No measure, a qualified INS: her Mon espace santé messaging.
        "LEFÈVRE": [("usager", "usager", ("mssante", "courrier", "remise_en_main_propre"), True)],
        # Tutelle: the guardian acts, the resident gets the easy-read version.
        "GARNIER": [
            ("usager", "facile_a_lire", ("courrier", "remise_en_main_propre"), False),
            ("representative", "representant", ("email", "courrier", "remise_en_main_propre"), True),
        ],
        # Curatelle: he decides; his curator gets a copy for information.
        "HAMON": [
            ("usager", "usager", ("email", "courrier", "remise_en_main_propre"), True),
            ("representative", "representant", ("email", "courrier", "remise_en_main_propre"), False),
        ],
        "PETIT": [("usager", "usager", ("courrier", "remise_en_main_propre"), True)],
    }
