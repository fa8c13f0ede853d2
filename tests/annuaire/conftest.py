"""Synthetic annuaire files in the real formats (no real person in them), and a loaded annuaire."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.annuaire import service

MSSANTE_HEADER = [
    "Type de BAL", "Adresse BAL", "Type Identifiant PP", "Identifiant PP", "Identification nationale PP",
    "Type identifiant structure", "Identification Structure", "Service de rattachement", "Civilité d'exercice",
    "Nom d'exercice", "Prénom d'exercice", "Catégorie profession", "Libellé de catégorie profession",
    "Code Profession", "Libellé Profession", "Code savoir-faire", "Libellé savoir-faire", "Dématérialisation",
    "Raison Sociale structure BAL", "Enseigne commerciale structure BAL", "L2COMPLEMENTLOCALISATION structure BAL",
    "L3COMPLEMENTDISTRIBUTION structure BAL", "L4NUMEROVOIE structure BAL", "L4COMPLEMENTNUMEROVOIE structure BAL",
    "NL4TYPEVOIE structure BAL", "L4LIBELLEVOIE structure BAL", "L5LIEUDITMENTION structure BAL",
    "L6LIGNEACHEMINEMENT structure BAL", "Code postal structure BAL", "Département structure BAL", "Pays structure BAL",
]  # fmt: skip

# The 56 columns of PS_LibreAcces_Personne_activite (2024); the file ends every line with "|".
RPPS_HEADER = [
    "Type d'identifiant PP", "Identifiant PP", "Identification nationale PP", "Code civilité d'exercice",
    "Libellé civilité d'exercice", "Code civilité", "Libellé civilité", "Nom d'exercice", "Prénom d'exercice",
    "Code profession", "Libellé profession", "Code catégorie professionnelle", "Libellé catégorie professionnelle",
    "Code type savoir-faire", "Libellé type savoir-faire", "Code savoir-faire", "Libellé savoir-faire",
    "Code mode exercice", "Libellé mode exercice", "Numéro SIRET site", "Numéro SIREN site", "Numéro FINESS site",
    "Numéro FINESS établissement juridique", "Identifiant technique de la structure", "Raison sociale site",
    "Enseigne commerciale site", "Complément destinataire (coord. structure)",
    "Complément point géographique (coord. structure)", "Numéro Voie (coord. structure)",
    "Indice répétition voie (coord. structure)", "Code type de voie (coord. structure)",
    "Libellé type de voie (coord. structure)", "Libellé Voie (coord. structure)",
    "Mention distribution (coord. structure)", "Bureau cedex (coord. structure)", "Code postal (coord. structure)",
    "Code commune (coord. structure)", "Libellé commune (coord. structure)", "Code pays (coord. structure)",
    "Libellé pays (coord. structure)", "Téléphone (coord. structure)", "Téléphone 2 (coord. structure)",
    "Télécopie (coord. structure)", "Adresse e-mail (coord. structure)", "Code Département (structure)",
    "Libellé Département (structure)", "Ancien identifiant de la structure", "Autorité d'enregistrement",
    "Code secteur d'activité", "Libellé secteur d'activité", "Code section tableau pharmaciens",
    "Libellé section tableau pharmaciens", "Code rôle", "Libellé rôle", "Code genre activité", "Libellé genre activité",
]  # fmt: skip

PROFESSIONS = {"10": "Médecin", "60": "Infirmier", "51": "Éducateur spécialisé", "93": "Psychologue"}


def mssante_line(address: str, bal: str = "PER", last: str = "", first: str = "", national_id: str = "",
                 profession: str = "", specialty: str = "", structure: str = "", service_name: str = "",
                 street: str = "", postal_code: str = "", city: str = "", department: str = "") -> str:  # fmt: skip
    values = dict.fromkeys(MSSANTE_HEADER, "")
    values.update({
        "Type de BAL": bal, "Adresse BAL": address, "Identification nationale PP": national_id,
        "Type Identifiant PP": "8" if national_id else "", "Identifiant PP": national_id[1:],
        "Service de rattachement": service_name, "Nom d'exercice": last, "Prénom d'exercice": first,
        "Code Profession": profession, "Libellé Profession": PROFESSIONS.get(profession, ""),
        "Libellé savoir-faire": specialty, "Raison Sociale structure BAL": structure,
        "L4LIBELLEVOIE structure BAL": street, "L6LIGNEACHEMINEMENT structure BAL": f"{postal_code} {city.upper()}".strip(),
        "Code postal structure BAL": postal_code, "Département structure BAL": department, "Pays structure BAL": "FRANCE",
    })  # fmt: skip
    return "|".join(values.values())


def rpps_line(national_id: str, profession: str, specialty_code: str = "", specialty: str = "", mode: str = "S",
              structure: str = "", postal_code: str = "", city: str = "") -> str:  # fmt: skip
    values = dict.fromkeys(RPPS_HEADER, "")
    values.update({
        "Type d'identifiant PP": "8", "Identifiant PP": national_id[1:], "Identification nationale PP": national_id,
        "Code profession": profession, "Libellé profession": PROFESSIONS[profession],
        "Code savoir-faire": specialty_code, "Libellé savoir-faire": specialty, "Code mode exercice": mode,
        "Libellé mode exercice": {"S": "Salarié", "L": "Libéral"}[mode], "Raison sociale site": structure,
        "Code postal (coord. structure)": postal_code, "Libellé commune (coord. structure)": city,
    })  # fmt: skip
    return "|".join(values.values()) + "|"


def write(path: Path, header: list[str], lines: list[str], *, bom: bool = False, crlf: bool = False,
          trailing: str = "") -> Path:  # fmt: skip
    end = "\r\n" if crlf else "\n"
    text = end.join(["|".join(header) + trailing, *lines]) + end
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


# The test set: ranking, folding, typo and filters are checked on it, on both databases.
BASE_LINES = [
    mssante_line("jean.dupont@medecin.mssante.fr", last="DUPONT", first="Jean", national_id="810000000001",
                 profession="10", specialty="Cardiologie", structure="Clinique du Parc", street="rue Garibaldi",
                 postal_code="69006", city="Lyon", department="69"),
    mssante_line("marie.dupont@infirmier.mssante.fr", last="DUPONT", first="Marie", national_id="810000000002",
                 profession="60", structure="Centre de soins", postal_code="72000", city="Le Mans", department="72"),
    mssante_line("paul.dupontel@medecin.mssante.fr", last="DUPONTEL", first="Paul", national_id="810000000003",
                 profession="10", postal_code="69003", city="Lyon", department="69"),
    mssante_line("luc.dupond@medecin.mssante.fr", last="DUPOND", first="Luc", national_id="810000000004",
                 profession="10", postal_code="75012", city="Paris", department="75"),
    mssante_line("helene.lefevre@ch-lemans.mssante.fr", last="LEFÈVRE", first="Hélène", national_id="810000000005",
                 postal_code="72000", city="Le Mans", department="72", street="avenue Roubillard"),
    mssante_line("secretariat.tilleuls@ehpad.mssante.fr", bal="ORG", structure="EHPAD Les Tilleuls",
                 service_name="Secrétariat médical", street="rue des Lilas", postal_code="72000", city="Le Mans",
                 department="72"),
    mssante_line("jean.martin@rue-dupont.mssante.fr", last="MARTIN", first="Jean", national_id="810000000006",
                 profession="60", street="rue Dupont", postal_code="72100", city="Le Mans", department="72"),
]  # fmt: skip

RPPS_LINES = [
    rpps_line("810000000005", "10", "SM04", "Cardiologie et maladies vasculaires", "S", "Centre hospitalier du Mans",
              "72000", "Le Mans"),
    rpps_line("810000000005", "10", "", "", "L", "Cabinet Lefèvre", "72000", "Le Mans"),
    rpps_line("810000000099", "93", "", "", "L", "Cabinet", "13001", "Marseille"),
]  # fmt: skip


@pytest.fixture()
def mssante_file(tmp_path) -> Path:
    return write(tmp_path / "Extraction_Correspondance_MSSante_202601010000.txt", MSSANTE_HEADER, BASE_LINES)


@pytest.fixture()
def rpps_file(tmp_path) -> Path:
    return write(tmp_path / "PS_LibreAcces_Personne_activite_202601010000.txt", RPPS_HEADER, RPPS_LINES, trailing="|")


@pytest.fixture()
def annuaire(db, rpps_file, mssante_file):
    """The test set loaded, RPPS first then the extraction (the other order is tested on its own)."""
    assert service.import_file(db, None, str(rpps_file)).status == "done"
    assert service.import_file(db, None, str(mssante_file)).status == "done"
    return db
