"""The demo annuaire: the demo establishment's correspondents and some two hundred fictitious professionals
around Le Mans, written in the ANS files' formats and imported as an operator imports the national files.

Everything is synthetic: names drawn from common French surnames, .demo.mssante.fr addresses that
resolve to no one, national ids in a range of their own.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session

from portal.annuaire import importer, service
from portal.annuaire.models import Import
from portal.annuaire.text import fold
from portal.demo import CORRESPONDENTS, DOCTOR, Correspondent

PEOPLE, SECOND_ADDRESS_SHARE = 200, 0.1
SURNAMES = [name.strip() for name in """Leroy, Fournier, Girard, Bonnet, Dupont, Lambert, Fontaine, Rousseau,
Vincent, Muller, Lefebvre, Faure, André, Mercier, Blanc, Guérin, Boyer, Chevalier, François, Legrand, Gauthier, Perrin,
Robin, Clément, Morin, Nicolas, Henry, Mathieu, Masson, Marchand, Duval, Denis, Dumont, Lemaire, Noël, Meyer, Dufour,
Meunier, Brun, Blanchard, Giraud, Joly, Rivière, Lucas, Brunet, Gaillard, Barbier, Arnaud, Gérard, Roche, Renard,
Schmitt, Roy, Leroux, Colin, Vidal, Caron, Picard, Roger, Fabre, Aubert, Lemoine, Renaud, Dumas, Lacroix, Olivier,
Bourgeois, Benoît, Rey, Leclerc, Rolland, Guillaume, Lecomte, Dupuy, Guillot, Hubert, Berger, Carpentier, Dupuis,
Moulin, Deschamps, Huet, Vasseur, Boucher, Fleury, Royer, Klein, Jacquet, Poirier, Marty, Aubry, Guyot, Carré, Renault,
Charpentier, Ménard, Maillard, Baron, Bertin, Bailly, Hervé, Schneider, Le Gall, Collet, Léger, Bouvier, Prévost,
Millet, Perrot, Le Roux, Cousin, Germain, Breton, Besson, Langlois, Le Goff, Pelletier, Lévêque, Perrier, Leblanc,
Barré, Lebrun, Marchal, Weber, Mallet, Boulanger, Jacob, Monnier, Michaud, Guichard, Gillet, Poulain, Tessier, Chauvin,
Bouchet, Lemaître, Bénard, Maréchal, Humbert, Reynaud, Cordier, Pichon, Lejeune, Gilbert, Lamy, Delaunay, Pasquier,
Carlier, Laporte""".split(",")]
FIRST_NAMES = """Alice Antoine Camille Céline Chloé Claire Élodie Émilie Étienne François Guillaume Hélène Hugo Inès
Isabelle Jérôme Julie Julien Laure Léa Louis Lucie Manon Marie Mathilde Maxime Nathalie Nicolas Noémie Olivier Pauline
Philippe Pierre Romain Sandrine Sébastien Sophie Thomas Valérie Yann""".split()

# Code and label of the RPPS, the share of the cast, and the MSSanté domain of an independent professional.
PROFESSIONS = [
    (DOCTOR, 30, "medecin"), (("60", "Infirmier"), 30, "infirmier"),
    (("70", "Masseur-Kinésithérapeute"), 10, "kine"), (("21", "Pharmacien"), 8, "pharmacien"),
    (("40", "Chirurgien-Dentiste"), 6, "dentiste"), (("50", "Sage-Femme"), 4, "sagefemme"),
    (("91", "Orthophoniste"), 4, "orthophoniste"), (("93", "Psychologue"), 4, "psychologue"),
    (("80", "Pédicure-Podologue"), 4, "podologue"),
]  # fmt: skip
SPECIALTIES = ["Médecine générale"] * 6 + [
    "Gériatrie", "Cardiologie et maladies vasculaires", "Psychiatrie", "Neurologie", "Pneumologie",
    "Dermatologie et vénéréologie", "Rhumatologie", "Endocrinologie", "Ophtalmologie", "Pédiatrie",
    "Médecine physique et de réadaptation",
]  # fmt: skip
# Name, domain of its services' mailboxes (None: its professionals use their profession's), address, and services.
STRUCTURES = [
    ("Centre hospitalier du Mans (démo)", "ch-lemans", "194 avenue Rubillard", "72037", "Le Mans",
     ["Admissions", "Pharmacie à usage intérieur", "Secrétariat de gériatrie"]),
    ("Pôle santé Sud (démo)", "pole-sante-sud", "28 rue de Guetteloup", "72100", "Le Mans", ["Secrétariat"]),
    ("Maison de santé de Coulaines (démo)", None, "3 rue de la Gare", "72190", "Coulaines", ["Accueil"]),
    ("Maison de santé du Pays fléchois (démo)", None, "12 rue Grollier", "72200", "La Flèche", ["Accueil"]),
    ("Centre hospitalier de Sablé (démo)", "ch-sable", "1 rue de la Mégaudais", "72300", "Sablé-sur-Sarthe",
     ["Secrétariat médical", "Admissions"]),
    ("Centre de santé des Sablons (démo)", None, "4 place des Sablons", "72100", "Le Mans", []),
    ("EHPAD Les Glycines (démo)", "ehpad-glycines", "7 rue des Glycines", "72700", "Allonnes", ["Infirmerie"]),
    ("Centre de santé de Mamers (démo)", None, "9 rue du Fort", "72600", "Mamers", ["Secrétariat"]),
    ("CHU d'Angers (démo)", "chu-angers", "4 rue Larrey", "49100", "Angers", ["Service de gériatrie"]),
]  # fmt: skip

# The structures whose professionals are employed (their services have mailboxes of their own domain).
EMPLOYERS = {name for name, domain, *_ in STRUCTURES if domain}


def seed(db: Session, directory: Path) -> list[Import]:
    """Write the demo files into the directory and import them, the RPPS first: the imports page then shows them
    with their reports, and an administrator can import them again."""
    cast = list(CORRESPONDENTS) + _cast(random.Random(72))
    directory.mkdir(parents=True, exist_ok=True)
    jobs = []
    for name, header, rows in (
        ("PS_LibreAcces_Personne_activite_demo.txt", importer.RPPS_COLUMNS, _activities(cast)),
        ("Extraction_Correspondance_MSSante_demo.txt", importer.MSSANTE_COLUMNS, _mailboxes(cast)),
    ):
        path = directory / name
        path.write_text("".join("|".join(row) + "\r\n" for row in (header, *rows)), encoding="utf-8")
        jobs.append(service.import_file(db, None, str(path)))
    return jobs


def _cast(rng: random.Random) -> list[Correspondent]:
    """The professionals, at structures of the list, and their services' mailboxes."""
    cast, taken = [], {correspondent.address for correspondent in CORRESPONDENTS}
    professions = [profession for profession, _, _ in PROFESSIONS]
    weights = [weight for _, weight, _ in PROFESSIONS]
    domains = {profession: domain for profession, _, domain in PROFESSIONS}
    for number in range(PEOPLE):
        last, first = rng.choice(SURNAMES), rng.choice(FIRST_NAMES)
        profession = rng.choices(professions, weights)[0]
        structure, domain, street, postal_code, city, _ = rng.choice(STRUCTURES)
        local = f"{fold(first)}.{fold(last)}".replace(" ", "-")
        address = _unique(f"{local}@{domain or domains[profession]}.demo.mssante.fr", taken)
        doctor = profession == DOCTOR
        specialty = rng.choice(SPECIALTIES) if doctor else ""
        person = Correspondent(
            f"{'Dr ' if doctor else ''}{first} {last}", address, "PER", structure, last_name=last, first_name=first,
            profession=profession, specialty=specialty, national_id=f"8{10_000_002_000 + number}", street=street,
            postal_code=postal_code, city=city,
        )
        cast.append(person)
        if domain and rng.random() < SECOND_ADDRESS_SHARE:  # their employer's mailbox, and one of their own
            cast.append(replace(person, address=_unique(f"{local}@{domains[profession]}.demo.mssante.fr", taken)))
    for structure, domain, street, postal_code, city, services in STRUCTURES:
        for name in services:
            address = _unique(f"{fold(name).replace(' ', '.')}@{domain or 'structures'}.demo.mssante.fr", taken)
            cast.append(Correspondent(f"{name} - {structure}", address, "ORG", structure, service=name,
                                      street=street, postal_code=postal_code, city=city))
    return cast


def _unique(address: str, taken: set[str]) -> str:
    local, _, domain = address.partition("@")
    number = 1
    while address in taken:
        number += 1
        address = f"{local}{number}@{domain}"
    taken.add(address)
    return address


def _mailboxes(cast: list[Correspondent]) -> Iterator[tuple[str, ...]]:
    """The extraction's rows, by importer.MSSANTE_COLUMNS."""
    for person in cast:
        number, _, street = person.street.partition(" ")
        code, label = person.profession
        values = {
            "Adresse BAL": person.address, "Type de BAL": person.bal_type,
            "Identification nationale PP": person.national_id,
            "Civilité d'exercice": "DR" if person.profession == DOCTOR else "",
            "Nom d'exercice": person.last_name, "Prénom d'exercice": person.first_name, "Code Profession": code,
            "Libellé Profession": label, "Libellé savoir-faire": person.specialty,
            "Raison Sociale structure BAL": person.structure, "Service de rattachement": person.service,
            "L4NUMEROVOIE structure BAL": number, "L4LIBELLEVOIE structure BAL": street,
            "Code postal structure BAL": person.postal_code, "Département structure BAL": person.postal_code[:2],
            "L6LIGNEACHEMINEMENT structure BAL": f"{person.postal_code} {person.city.upper()}",
        }  # fmt: skip
        yield tuple(values.get(column, "") for column in importer.MSSANTE_COLUMNS)


def _activities(cast: list[Correspondent]) -> Iterator[tuple[str, ...]]:
    """The RPPS rows, by importer.RPPS_COLUMNS: one activity per professional, at their structure."""
    seen = set()
    for person in cast:
        if person.bal_type != "PER" or person.national_id in seen:
            continue
        seen.add(person.national_id)
        mode_code, mode = ("S", "Salarié") if person.structure in EMPLOYERS else ("L", "Libéral")
        values = {
            "Identification nationale PP": person.national_id, "Code profession": person.profession[0],
            "Libellé profession": person.profession[1], "Libellé savoir-faire": person.specialty,
            "Code mode exercice": mode_code, "Libellé mode exercice": mode, "Raison sociale site": person.structure,
            "Code postal (coord. structure)": person.postal_code, "Libellé commune (coord. structure)": person.city,
        }  # fmt: skip
        yield tuple(values.get(column, "") for column in importer.RPPS_COLUMNS)
