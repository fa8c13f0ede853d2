"""Importing a FHIR R4 Bundle of FR Core Patients: INS identifiers (NIR, NIA), identity status, refusals."""

import json
from datetime import date

import pytest
from sqlalchemy import select

from notices import importer
from notices.models import IdentityStatus, Protection, Sex, Usager
from tests.notices.dui_files import NIA, NIR, bundle, patient


def usagers(db) -> dict[str, Usager]:
    db.expire_all()
    return {u.local_id: u for u in db.scalars(select(Usager))}


def problems(report) -> list[tuple[int, str, str]]:
    return [(row.position, p.field, str(p.reason)) for row in report.rejected for p in row.problems]


def test_bundle_with_a_nir_and_a_nia_creates_both_usagers(db, import_dui):
    home = {"use": "home", "line": ["1 rue des Lilas", "Bâtiment B"], "postalCode": "72000", "city": "Le Mans"}
    report = import_dui(bundle(
        patient("DUI-1", status="QUAL", nir=NIR, family="Durand", given=("Marie", "Jeanne"), birth_date="1955-08-20",
                birth_place="14168", address=[{"use": "old", "line": ["ancienne adresse"]}, home],
                telecom=[{"system": "email", "value": "marie.durand@example.org"}]),
        patient("DUI-2", status="RECUP", nia=NIA, family="Okafor", given=("Chidi",), gender="male",
                birth_date="1980-01-01", birth_place="99109"),
    ))  # fmt: skip
    assert (report.format, report.encoding, report.delimiter, report.created, report.rejected) == (
        "fhir", "utf-8", None, 2, [],
    )  # fmt: skip
    stored = usagers(db)
    marie, chidi = stored["DUI-1"], stored["DUI-2"]
    assert (marie.ins, marie.identity_status, marie.birth_name, marie.birth_first_names, marie.birth_date) == (
        NIR, IdentityStatus.QUALIFIEE, "Durand", "Marie Jeanne", date(1955, 8, 20),
    )  # fmt: skip
    assert (marie.birth_place_code, marie.address_line1, marie.address_line2, marie.city, marie.email) == (
        "14168", "1 rue des Lilas", "Bâtiment B", "Le Mans", "marie.durand@example.org",
    )  # fmt: skip
    assert (chidi.ins, chidi.identity_status, chidi.sex, chidi.birth_place_code) == (
        NIA, IdentityStatus.RECUPEREE, Sex.M, "99109",
    )  # fmt: skip


def test_a_patient_without_ins_is_imported_with_a_provisional_identity(db, import_dui):
    report = import_dui(bundle(patient("DUI-3", status="PROV")))
    assert report.created == 1
    usager = usagers(db)["DUI-3"]
    assert (usager.ins, usager.identity_status, usager.birth_first_names) == (
        None,
        IdentityStatus.PROVISOIRE,
        "Louise Marie",
    )


def test_first_names_come_from_given_without_the_birth_list_extension(db, import_dui):
    resource = patient("DUI-4")
    del resource["name"][0]["extension"]
    resource["name"][0]["given"] = ["Louise", "Marie"]
    import_dui(bundle(resource))
    assert usagers(db)["DUI-4"].birth_first_names == "Louise Marie"


def test_a_wrong_key_is_rejected_and_the_other_patients_imported(db, import_dui):
    report = import_dui(bundle(patient("DUI-1", status="QUAL", nir=NIR[:13] + "39", birth_place="14168"), patient("DUI-2")))
    assert problems(report) == [
        (
            0,
            "identifier (INS-NIR / INS-NIA)",
            "La clé du matricule INS ne correspond pas : vérifiez les 15 caractères saisis.",
        )
    ]
    assert report.rejected[0].where == "entrée 0"
    assert sorted(usagers(db)) == ["DUI-2"]


def test_the_billing_number_is_never_taken_for_the_ins(db, import_dui):
    # FR Core's NSS slice: same system as INS-NIR, type NH; it may be the insured parent's number.
    resource = patient("DUI-5", status="VALI")
    resource["identifier"].append({"use": "official", "system": "urn:oid:1.2.250.1.213.1.4.8", "value": NIR,
                                   "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                        "code": "NH"}]}})  # fmt: skip
    report = import_dui(bundle(resource))
    assert report.created == 1
    assert usagers(db)["DUI-5"].ins is None


def test_an_old_ins_is_ignored_and_a_nir_wins_over_a_nia(db, import_dui):
    resource = patient("DUI-6", status="QUAL", nir=NIR, nia=NIA, birth_place="14168")
    resource["identifier"].append({"use": "old", "system": "urn:oid:1.2.250.1.213.1.4.8", "value": "100000000000000"})
    import_dui(bundle(resource))
    assert usagers(db)["DUI-6"].ins == NIR


STATUS_PATH = "extension identityReliability.identityStatus"
REFUSED_PATIENTS = [
    (patient("X", status="QUAL", nir=NIA, birth_place="14168"), "identifier (INS-NIR / INS-NIA)",
     "Le matricule ne correspond pas à son système"),
    (patient("X", status="QUAL", nir=NIR), "extension birthPlace", "Le lieu de naissance est un trait INS"),
    (patient("X", status="QUAL", birth_place="14168"), "identifier (INS-NIR / INS-NIA)",
     "Une identité récupérée ou qualifiée a un matricule"),
    (patient("X", status=None), STATUS_PATH, "Statut de l'identité absent ou inconnu"),
    (patient("X", status="VIDE"), STATUS_PATH, "PROV, RECUP, VALI ou QUAL attendu"),
    (patient("X", birth_date="1940-08"), "birthDate", "Date de naissance incomplète ou invalide."),
    (patient("X", gender="unknown"), "gender", "Sexe : female ou male attendu (trait INS)."),
    (patient("X", name=[{"use": "usual", "family": "Dupont", "given": ["Louise"]}]), "name (official).family",
     "Un nom de naissance attendu (name avec use = official)."),
    (patient("X", identifier=[]), "identifier (PI)", "Identifiant du dossier absent (identifier de type PI)."),
    (patient("X", active=False), "active", "Patient inactif"),
    (patient("X", identifier=[{"system": "urn:oid:1.2.250.1.213.1.4.10", "value": NIR},
                              *patient("X")["identifier"]]), "identifier (INS-NIR / INS-NIA)",
     "Matricule INS de test ou de démonstration"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "path", "reason"), REFUSED_PATIENTS, ids=[r[:30] for _p, _f, r in REFUSED_PATIENTS]
)
def test_a_patient_that_cannot_be_a_usager_is_rejected_with_its_reason(db, import_dui, resource, path, reason):
    report = import_dui(bundle(resource, patient("DUI-GOOD")))
    assert [(position, field) for position, field, _r in problems(report)] == [(0, path)]
    assert reason in problems(report)[0][2]
    assert sorted(usagers(db)) == ["DUI-GOOD"]


def test_entries_that_are_not_patients_are_reported_and_skipped(db, import_dui):
    practitioner = {"resourceType": "Practitioner", "name": [{"family": "House"}]}
    report = import_dui(bundle(practitioner, patient("DUI-1")))
    assert report.warnings == ["Entrée 0 ignorée : ce n'est pas une ressource Patient."]
    assert (report.rows, report.created) == (1, 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (json.dumps(patient("DUI-1")).encode(), "Ce JSON n'est pas un Bundle FHIR (resourceType « Patient »)"),
        (b'[{"resourceType": "Bundle"}]', "Ce JSON n'est pas un Bundle FHIR"),
        (b'{"resourceType": "Bundle", "entry": {}}', "Le Bundle FHIR n'a pas de liste « entry »."),
        (b'{"resourceType": "Bundle", "entry": [', "JSON invalide (ligne 1, colonne 38)."),
        (b"[" * 100_000 + b"]" * 100_000, "JSON trop profondément imbriqué."),
    ],
    ids=["patient", "list", "entry", "truncated", "nested"],
)
def test_a_json_file_that_is_not_a_bundle_is_refused_whole(db, import_dui, data, message):
    with pytest.raises(importer.UnreadableFile) as refused:
        import_dui(data)
    assert message in str(refused.value)
    assert usagers(db) == {}


def test_a_fhir_update_keeps_what_fr_core_does_not_carry(db, import_dui, usager_under_guardianship):
    usager = usager_under_guardianship
    address = {"use": "home", "line": ["2 rue Haute"], "postalCode": "72100", "city": "Le Mans"}
    updated = patient(usager.local_id, status="QUAL", nir=NIR, birth_place="14168", address=[address])
    report = import_dui(bundle(updated))
    assert report.updated == 1
    db.expire_all()
    assert (usager.address_line1, usager.postal_code, usager.protection) == (
        "2 rue Haute", "72100", Protection.REPRESENTATION_PERSONNE,
    )  # fmt: skip
    assert [r.last_name for r in usager.representatives] == ["Bernard"]
