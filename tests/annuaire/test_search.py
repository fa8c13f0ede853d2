"""Searching the annuaire: free text, folding, prefixes, one typo, ranking, filters, the same on both databases."""

import pytest

from portal.annuaire import service
from portal.annuaire.service import Filters


def found(db, query, **filters) -> list[str]:
    return [entry.address for entry in service.find(db, query, Filters(**filters))]


def test_exact_surname_comes_first_then_prefix_then_typo_then_other_words(annuaire):
    assert found(annuaire, "dupont") == [
        "jean.dupont@medecin.mssante.fr",  # DUPONT Jean
        "marie.dupont@infirmier.mssante.fr",  # DUPONT Marie
        "paul.dupontel@medecin.mssante.fr",  # prefix of DUPONTEL
        "luc.dupond@medecin.mssante.fr",  # one typo: DUPOND
        "jean.martin@rue-dupont.mssante.fr",  # rue Dupont
    ]


def test_free_text_combines_name_specialty_and_town(annuaire):
    assert found(annuaire, "dupont cardio lyon") == ["jean.dupont@medecin.mssante.fr"]
    assert found(annuaire, "ehpad tilleuls secretariat") == ["secretariat.tilleuls@ehpad.mssante.fr"]
    assert found(annuaire, "infirmier 72") == ["marie.dupont@infirmier.mssante.fr", "jean.martin@rue-dupont.mssante.fr"]
    assert found(annuaire, "rue des lilas") == ["secretariat.tilleuls@ehpad.mssante.fr"]
    assert found(annuaire, "60") == []  # the infirmiers' profession code is a filter, no search word


def test_accents_and_case_do_not_matter(annuaire):
    assert found(annuaire, "LEFÈVRE hélène") == found(annuaire, "lefevre HELENE") == ["helene.lefevre@ch-lemans.mssante.fr"]
    assert found(annuaire, "Secrétariat") == ["secretariat.tilleuls@ehpad.mssante.fr"]


def test_prefixes_match_while_typing(annuaire):
    assert found(annuaire, "d")[:3] == ["luc.dupond@medecin.mssante.fr", "jean.dupont@medecin.mssante.fr", "marie.dupont@infirmier.mssante.fr"]
    assert found(annuaire, "lef") == ["helene.lefevre@ch-lemans.mssante.fr"]


@pytest.mark.parametrize("typo", ["lefevr", "lefebre", "elfevre", "lefevvre"])
def test_one_typo_in_a_name_is_forgiven(annuaire, typo):
    assert found(annuaire, typo) == ["helene.lefevre@ch-lemans.mssante.fr"]


def test_two_typos_are_not(annuaire):
    assert found(annuaire, "lefabra") == []


def test_rpps_words_are_searchable(annuaire):
    assert found(annuaire, "vasculaires") == ["helene.lefevre@ch-lemans.mssante.fr"]


def test_filters_narrow_the_results(annuaire):
    assert found(annuaire, "dupont", bal_type="ORG") == []
    assert found(annuaire, "dupont", department="72") == ["marie.dupont@infirmier.mssante.fr", "jean.martin@rue-dupont.mssante.fr"]
    assert found(annuaire, "le mans", profession="10") == ["helene.lefevre@ch-lemans.mssante.fr"]  # from the RPPS
    assert found(annuaire, "", bal_type="ORG") == ["secretariat.tilleuls@ehpad.mssante.fr"]


def test_results_are_paged(annuaire):
    everything = found(annuaire, "mssante")
    assert len(everything) == 0  # the trust-space suffix is no search word
    everything = [e.address for e in service.find(annuaire, "le mans")]
    pages = [e.address for e in service.find(annuaire, "le mans", limit=2)] + [
        e.address for e in service.find(annuaire, "le mans", limit=2, offset=2)
    ]
    assert pages == everything[:4] and len(everything) == 4


def test_two_swapped_letters_are_one_typo(annuaire):
    assert found(annuaire, "dupnod") == ["luc.dupond@medecin.mssante.fr"]
