"""The INS matricule: control key, Corsica, NIR and NIA, and what the person typing is told."""

import pytest

from portal import ins

# Keys computed by hand: 97 - (13 digits mod 97), 2A counted as 19 and 2B as 18.
NIR = "255081416802538"
NIA = "790129912345659"
CORSE_DU_SUD = "185052A12345633"
HAUTE_CORSE = "185052B12345660"


def test_valid_nir_is_accepted_as_a_nir():
    assert ins.validate(NIR) == (NIR, ins.Kind.NIR)


def test_valid_nia_is_accepted_as_a_nia():
    assert ins.validate(NIA) == (NIA, ins.Kind.NIA)


@pytest.mark.parametrize("matricule", [CORSE_DU_SUD, HAUTE_CORSE])
def test_corsican_departments_count_as_19_and_18_for_the_key(matricule):
    assert ins.validate(matricule) == (matricule, ins.Kind.NIR)


def test_corsican_keys_are_not_interchangeable():
    with pytest.raises(ins.InvalidMatricule) as raised:
        ins.validate(CORSE_DU_SUD[:13] + HAUTE_CORSE[13:])
    assert raised.value.reason == "key"


def test_separators_and_lower_case_are_normalised():
    assert ins.validate("1 85 05 2a 123 456 33")[0] == CORSE_DU_SUD


def test_wrong_key_is_refused_with_a_french_message():
    with pytest.raises(ins.InvalidMatricule) as raised:
        ins.validate(NIR[:13] + "39")
    assert raised.value.reason == "key"
    assert "clé" in str(raised.value)


@pytest.mark.parametrize("matricule", [NIR[:14], NIR + "0", ""])
def test_wrong_length_is_refused(matricule):
    with pytest.raises(ins.InvalidMatricule) as raised:
        ins.validate(matricule)
    assert raised.value.reason == "length"
    assert "15 caractères" in str(raised.value)


def test_letters_outside_the_corsican_department_are_refused():
    with pytest.raises(ins.InvalidMatricule) as raised:
        ins.validate("2550814X6802538")
    assert raised.value.reason == "characters"


def test_first_digit_other_than_nir_or_nia_is_refused():
    matricule = "5" + NIR[1:13]
    with pytest.raises(ins.InvalidMatricule) as raised:
        ins.validate(matricule + f"{ins.control_key(matricule):02d}")
    assert raised.value.reason == "kind"
