"""The MSSanté trust space: imported domains, or *.mssante.fr before any list; patient addresses need a valid INS."""

import pytest

from portal.annuaire import is_trusted, service

# A matricule and its key: 97 - (13 digits mod 97), Corsica's 2A and 2B counting as 19 and 18.


def ins(thirteen: str) -> str:
    number = int(thirteen.replace("2A", "19").replace("2B", "18"))
    return f"{thirteen}{97 - number % 97:02d}"


@pytest.fixture()
def context(app, db):
    with app.app_context():
        yield db


def test_without_a_domain_list_mssante_fr_domains_are_trusted(context):
    assert is_trusted("jean.dupont@medecin.mssante.fr")
    assert not is_trusted("jean.dupont@gmail.com")
    assert not is_trusted("mssante.fr@evil.example")
    assert not is_trusted("pas-une-adresse")


def test_with_a_domain_list_only_its_domains_are_trusted(context, tmp_path):
    path = tmp_path / "listeblanchemssante.xml"
    path.write_text('<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema"><ListeDomaines>'
                    "<Domaine><Nom>medecin.mssante.fr</Nom></Domaine><Domaine><Nom>patient.mssante.fr</Nom></Domaine>"
                    "</ListeDomaines></ListeBlancheMSSante>")
    assert service.import_domains(context, None, str(path)).status == "done"
    assert is_trusted("Jean.Dupont@MEDECIN.mssante.fr")
    assert not is_trusted("jean.dupont@autre.mssante.fr")


def test_patient_addresses_need_a_well_formed_ins(context):
    assert is_trusted(f"{ins('1841275108123')}@patient.mssante.fr")
    assert is_trusted(f"{ins('284052A004012')}@patient.mssante.fr".lower())
    assert not is_trusted("184127510812300@patient.mssante.fr")  # wrong key
    assert not is_trusted(f"{ins('1841275108123')[:-1]}@patient.mssante.fr")  # 14 characters
    assert not is_trusted("jean.dupont@patient.mssante.fr")


def test_ins_key_rule():
    assert service.is_valid_ins(ins("2691099123456"))
    assert service.is_valid_ins(ins("175022B012345"))
    assert not service.is_valid_ins("1752C0123456700")
