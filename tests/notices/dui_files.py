"""Synthetic DUI exports for the import tests: CSV files and FHIR R4 Bundles of FR Core Patients. No real person."""

from __future__ import annotations

import csv
import io
import json

from portal import ins


def matricule(first_13: str) -> str:
    """A matricule with its right key: the tests make up their own."""
    return first_13 + f"{ins.control_key(first_13):02d}"


NIR = matricule("2550814168025")  # the NIR of tests/notices/conftest.py
OTHER_NIR = matricule("1841275056123")
NIA = matricule("8800199123456")

# A valid provisional usager; tests override what they look at.
ROW = {
    "identifiant_dui": "DUI-0001",
    "ins": "",
    "statut_identite": "provisoire",
    "nom_naissance": "Martin",
    "prenoms_naissance": "Louise Marie",
    "date_naissance": "14/08/1940",
    "sexe": "F",
}
QUALIFIED = {"ins": NIR, "statut_identite": "qualifiee", "code_lieu_naissance": "14168"}
# Every documented column a test may fill, in the order of the header.
COLUMNS = [
    *ROW, "code_lieu_naissance", "date_admission", "adresse1", "adresse2", "code_postal", "ville", "email",
    "protection",
    "representant1_role", "representant1_nom", "representant1_prenoms", "representant1_adresse1",
    "representant1_code_postal", "representant1_ville", "representant1_email", "representant1_type_mesure",
    "representant1_date_jugement", "representant2_role", "representant2_nom", "representant2_prenoms",
]  # fmt: skip


def csv_file(*rows: dict, columns: list[str] | None = None, delimiter: str = ";", encoding: str = "utf-8") -> bytes:
    """A CSV export: each row is ROW with its overrides; `utf-8-sig` writes a BOM."""
    columns = columns or COLUMNS
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for overrides in rows:
        values = {**ROW, **overrides}
        writer.writerow([values.get(column, "") for column in columns])
    return out.getvalue().encode(encoding)


def patient(
    local_id: str = "DUI-0001",
    *,
    status: str | None = "PROV",
    nir: str | None = None,
    nia: str | None = None,
    family: str = "Martin",
    given: tuple[str, ...] = ("Louise", "Marie"),
    birth_date: str = "1940-08-14",
    gender: str = "female",
    birth_place: str | None = None,
    **extra,
) -> dict:
    """An FR Core Patient (FRCorePatientINSProfile when it carries an INS)."""
    identifiers = [{
        "use": "usual", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PI"}]},
        "system": "https://dui.example.org/dossiers", "value": local_id,
    }]  # fmt: skip
    for value, code, system, use in ((nir, "INS-NIR", "1.2.250.1.213.1.4.8", "official"),
                                     (nia, "INS-NIA", "1.2.250.1.213.1.4.9", "temp")):  # fmt: skip
        if value:
            identifiers.append({
                "use": use, "type": {"coding": [{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                                                 "code": code}]},
                "system": f"urn:oid:{system}", "value": value,
            })  # fmt: skip
    resource = {
        "resourceType": "Patient",
        "identifier": identifiers,
        "name": [
            {
                "use": "official",
                "family": family,
                "given": list(given[:1]),
                "extension": [
                    {
                        "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name",
                        "valueString": " ".join(given),
                    }
                ],
            }
        ],
        "gender": gender,
        "birthDate": birth_date,
        "extension": [],
    }
    if status:
        resource["extension"].append({
            "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability",
            "extension": [{"url": "identityStatus", "valueCoding": {
                "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-identity-status", "code": status}}],
        })  # fmt: skip
    if birth_place:
        resource["extension"].append({
            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
            "valueAddress": {"extension": [{
                "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
                "valueCoding": {"system": "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM",
                                "code": birth_place}}]},
        })  # fmt: skip
    return {**resource, **extra}


def bundle(*resources: dict) -> bytes:
    entries = [
        {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{i:012d}", "resource": r} for i, r in enumerate(resources)
    ]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()
