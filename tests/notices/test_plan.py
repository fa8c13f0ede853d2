"""The notice plan: one test per row of DOMAIN's table, and its edge cases."""

from datetime import date

import pytest

from notices.plan import Addressee, Facts, InvalidFacts, RepresentativeFacts, facts_from_json, plan

TODAY = date(2025, 3, 15)
ADULT = date(1950, 6, 1)
CHILD = date(2012, 9, 1)
HAND = "remise_en_main_propre"


def facts(**overrides) -> Facts:
    values = {"birth_date": ADULT, "today": TODAY, "ins_status": "qualifiee", "email": True, "postal": True}
    return Facts(**{**values, **overrides})


def rep(role: str, email: bool = True, postal: bool = True) -> RepresentativeFacts:
    return RepresentativeFacts(role=role, email=email, postal=postal)


def usager(variant: str, may_oppose: bool, channels=("mssante", "email", "courrier", HAND)) -> Addressee:
    return Addressee("usager", None, variant, tuple(channels), may_oppose)


def representative(index: int, variant: str, may_oppose: bool, channels=("email", "courrier", HAND)) -> Addressee:
    return Addressee("representative", index, variant, tuple(channels), may_oppose)


def test_adult_without_protection_is_informed_and_may_oppose():
    assert plan(facts()) == [usager("usager", True)]


def test_adult_under_curatelle_may_oppose_and_the_curator_gets_a_copy_for_information():
    assert plan(facts(protection="curatelle", representatives=(rep("curateur"),))) == [
        usager("usager", True),
        representative(0, "representant", False),
    ]


def test_family_member_authorised_to_assist_gets_the_curators_copy():
    result = plan(facts(protection="curatelle", representatives=(rep("habilite"),)))
    assert result[1] == representative(0, "representant", False)


def test_adult_under_representation_for_property_only_acts_alone():
    assert plan(facts(protection="representation_biens", representatives=(rep("tuteur"),))) == [usager("usager", True)]


@pytest.mark.parametrize("role", ["tuteur", "habilite"])
def test_representative_of_the_person_acts_and_the_usager_gets_easy_read(role):
    assert plan(facts(protection="representation_personne", representatives=(rep(role),))) == [
        usager("facile_a_lire", False),
        representative(0, "representant", True),
    ]


def test_minor_with_two_parents_each_parent_is_informed_and_may_oppose():
    result = plan(facts(birth_date=CHILD, representatives=(rep("parent"), rep("parent", email=False))))
    assert result == [
        usager("facile_a_lire", False),
        representative(0, "parents", True),
        representative(1, "parents", True, channels=("courrier", HAND)),
    ]


def test_guardian_of_a_minor_gets_the_parents_notice():
    result = plan(facts(birth_date=CHILD, representatives=(rep("tuteur"),)))
    assert result[1] == representative(0, "parents", True)


def test_minor_keeps_their_own_mon_espace_sante_address():
    assert "mssante" in plan(facts(birth_date=CHILD, representatives=(rep("parent"),)))[0].channels


def test_mssante_only_with_a_qualified_ins():
    for status in ("provisoire", "recuperee", "validee"):
        assert plan(facts(ins_status=status)) == [usager("usager", True, ("email", "courrier", HAND))]


def test_mssante_never_to_a_representative():
    result = plan(facts(protection="representation_personne", representatives=(rep("tuteur"),)))
    assert "mssante" not in result[1].channels


def test_no_contact_at_all_leaves_hand_delivery():
    result = plan(
        facts(
            ins_status="provisoire",
            email=False,
            postal=False,
            protection="representation_personne",
            representatives=(rep("tuteur", email=False, postal=False),),
        )
    )
    assert [a.channels for a in result] == [(HAND,), (HAND,)]


def test_eighteenth_birthday_today_is_an_adult():
    birthday = date(TODAY.year - 18, TODAY.month, TODAY.day)
    assert plan(facts(birth_date=birthday, representatives=(rep("parent"),))) == [usager("usager", True)]


def test_day_before_the_eighteenth_birthday_is_a_minor():
    birthday = date(TODAY.year - 18, TODAY.month, TODAY.day + 1)
    assert plan(facts(birth_date=birthday, representatives=(rep("parent"),)))[1].variant == "parents"


def test_measure_for_an_adult_does_not_apply_before_majority():
    result = plan(
        facts(birth_date=CHILD, protection="representation_personne", representatives=(rep("parent"), rep("tuteur")))
    )
    assert [(a.index, a.variant, a.may_oppose) for a in result] == [
        (None, "facile_a_lire", False),
        (0, "parents", True),
        (1, "parents", True),
    ]


def test_representatives_without_standing_are_not_addressees():
    # A parent of an adult, a curator of a minor: recorded, but not addressees.
    assert plan(facts(representatives=(rep("parent"),))) == [usager("usager", True)]
    assert [a.index for a in plan(facts(birth_date=CHILD, representatives=(rep("curateur"),)))] == [None]


def test_no_representative_recorded_leaves_nobody_who_may_oppose():
    assert not any(a.may_oppose for a in plan(facts(protection="representation_personne")))
    assert not any(a.may_oppose for a in plan(facts(birth_date=CHILD)))


def test_json_input_names_the_faulty_field():
    with pytest.raises(InvalidFacts) as raised:
        facts_from_json(
            {"birth_date": "2000-01-01", "protection": "none", "ins_status": "qualifiee", "email": True,
             "postal": True, "representatives": [{"role": "grand-parent", "email": True, "postal": True}]},
            TODAY,
        )  # fmt: skip
    assert raised.value.field == "representatives[0].role"


def test_birth_after_today_is_refused():
    with pytest.raises(InvalidFacts) as raised:
        facts_from_json(
            {
                "birth_date": "2030-01-01",
                "protection": "none",
                "ins_status": "qualifiee",
                "email": True,
                "postal": True,
            },
            TODAY,
        )
    assert raised.value.field == "birth_date"
