"""Annuaire at national scale: import a synthetic MSSanté extraction (536,000 rows) and RPPS file
(2.2 million rows) in the real formats, then time a set of varied searches (p50, p95).

Run: .venv/bin/python bench/annuaire.py [--dir DIR] [--database-url URL] [--instance DIR [--search-only]]
(files are generated once into DIR and reused; the database defaults to SQLite in a temporary directory,
or in the instance directory given, which --search-only then searches again without importing; a
PostgreSQL database given by --database-url is emptied first). For example:
  .venv/bin/python bench/annuaire.py --rounds 10 --instance /tmp/annuaire-inst
  .venv/bin/python bench/annuaire.py --rounds 10 --instance /tmp/annuaire-pg \\
      --database-url postgresql+psycopg://postgres@127.0.0.1:5432/annuaire_bench
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app, database, migrate  # noqa: E402
from portal.annuaire import service  # noqa: E402
from portal.settings import Settings  # noqa: E402
from tests.annuaire.conftest import MSSANTE_HEADER, RPPS_HEADER  # noqa: E402

PER, ORG, RPPS_ROWS = 455_000, 81_000, 2_200_000
COMMON = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY", "MOREAU",
          "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX", "VINCENT", "FOURNIER",
          "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "BLANC", "GUERIN", "MULLER", "HENRY", "ROUSSEL", "NICOLAS"]  # fmt: skip
FIRST = ["Jean", "Marie", "Pierre", "Anne", "Michel", "Sophie", "Nicolas", "Isabelle", "Hélène", "François", "Élodie",
         "Camille", "Léa", "Hugo", "Chloé", "Louis", "Inès", "Noël", "Zoé", "Jérôme"]  # fmt: skip
PROFESSIONS = [("10", "Médecin"), ("60", "Infirmier"), ("70", "Masseur-Kinésithérapeute"), ("21", "Pharmacien"),
               ("40", "Chirurgien-Dentiste"), ("50", "Sage-Femme"), ("93", "Psychologue"), ("91", "Orthophoniste")]  # fmt: skip
SPECIALTIES = ["Cardiologie et maladies vasculaires", "Médecine générale", "Pédiatrie", "Psychiatrie", "Gériatrie",
               "Dermatologie et vénéréologie", "Pneumologie", "Rhumatologie", "Neurologie", "Ophtalmologie"]  # fmt: skip
TOWNS = [("69", "69003", "Lyon"), ("72", "72000", "Le Mans"), ("75", "75012", "Paris"), ("13", "13001", "Marseille"),
         ("33", "33000", "Bordeaux"), ("59", "59000", "Lille"), ("31", "31000", "Toulouse"), ("44", "44000", "Nantes"),
         ("67", "67000", "Strasbourg"), ("35", "35000", "Rennes"), ("2A", "20000", "Ajaccio"), ("72", "72100", "Le Mans")]  # fmt: skip
STRUCTURES = ["EHPAD Les Tilleuls", "Centre hospitalier", "Clinique du Parc", "IME Les Sources", "MAS Les Cèdres",
              "SSIAD du Val", "Maison de santé", "Cabinet médical", "FAM Le Phare", "CAMSP"]  # fmt: skip
SERVICES = ["Secrétariat médical", "Accueil", "Direction des soins", "Infirmerie", "Pharmacie", "Admissions"]
STREETS = ["rue de la République", "avenue Jean Jaurès", "rue des Lilas", "boulevard Pasteur", "place de la Mairie"]


def surnames(rng: random.Random, count: int) -> list[str]:
    syllables = ["ba", "ber", "bou", "cha", "del", "du", "fa", "gar", "gui", "la", "le", "mar", "mo", "nou", "pe",
                 "ri", "ro", "sa", "te", "va", "vil", "ne", "quin", "zon", "lin", "mont", "court", "det"]  # fmt: skip
    return [("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))).upper() for _ in range(count)]


def generate(directory: Path) -> tuple[Path, Path]:
    mssante = directory / "Extraction_Correspondance_MSSante_202601010000.txt"
    rpps = directory / "PS_LibreAcces_Personne_activite_202601010000.txt"
    if mssante.exists() and rpps.exists():
        return mssante, rpps
    rng = random.Random(4)
    names = surnames(rng, 150_000)
    people = []
    for i in range(PER):
        last = rng.choice(COMMON) if rng.random() < 0.15 else rng.choice(names)
        people.append((f"8{10_000_000_000 + i}", last, rng.choice(FIRST), rng.choice(PROFESSIONS), rng.choice(TOWNS)))
    with open(mssante, "w", encoding="utf-8", newline="") as out:
        out.write("\ufeff" + "|".join(MSSANTE_HEADER) + "\r\n")
        for i, (national_id, last, first, (code, label), (dept, postal, town)) in enumerate(people):
            specialty = rng.choice(SPECIALTIES) if code == "10" and rng.random() < 0.5 else ""
            structure = rng.choice(STRUCTURES) if rng.random() < 0.6 else ""
            address = f"{first.lower().replace('é', 'e').replace('è', 'e').replace('ï', 'i').replace('ë', 'e').replace('ô', 'o')}.{last.lower()}{i}@{label.lower().split('-')[0]}.mssante.fr"
            out.write(_mssante_row("PER", address, national_id, "", last, first, code, label, specialty, structure, dept, postal, town, rng))
        for i in range(ORG):
            dept, postal, town = rng.choice(TOWNS)
            structure = f"{rng.choice(STRUCTURES)} {rng.choice(string.ascii_uppercase)}{i}"
            out.write(_mssante_row("ORG", f"service{i}@{rng.choice(['ehpad', 'ch', 'ime', 'clinique'])}{i % 500}.mssante.fr", "",
                                   rng.choice(SERVICES), "", "", "", "", "", structure, dept, postal, town, rng))  # fmt: skip
    with open(rpps, "w", encoding="utf-8", newline="") as out:
        out.write("|".join(RPPS_HEADER) + "|\n")
        columns = {name: i for i, name in enumerate(RPPS_HEADER)}
        for i in range(RPPS_ROWS):
            # The extraction's professionals first (a few activities each), then professionals without a mailbox.
            national_id, last, first, (code, label), (dept, postal, town) = (
                people[i % PER] if i < PER * 3 else (f"8{20_000_000_000 + i}", rng.choice(names), rng.choice(FIRST),
                                                       rng.choice(PROFESSIONS), rng.choice(TOWNS))
            )  # fmt: skip
            row = [""] * len(RPPS_HEADER)
            for name, value in (("Type d'identifiant PP", "8"), ("Identifiant PP", national_id[1:]),
                                ("Identification nationale PP", national_id), ("Nom d'exercice", last),
                                ("Prénom d'exercice", first), ("Code profession", code), ("Libellé profession", label),
                                ("Code savoir-faire", "SM04" if code == "10" else ""),
                                ("Libellé savoir-faire", rng.choice(SPECIALTIES) if code == "10" else ""),
                                ("Code mode exercice", "L"), ("Libellé mode exercice", "Libéral"),
                                ("Raison sociale site", rng.choice(STRUCTURES)), ("Code postal (coord. structure)", postal),
                                ("Libellé commune (coord. structure)", town), ("Code Département (structure)", dept)):  # fmt: skip
                row[columns[name]] = value
            out.write("|".join(row) + "|\n")
    return mssante, rpps


def _mssante_row(bal, address, national_id, service_name, last, first, code, label, specialty, structure, dept, postal, town, rng) -> str:
    values = dict.fromkeys(MSSANTE_HEADER, "")
    values.update({"Type de BAL": bal, "Adresse BAL": address, "Identification nationale PP": national_id,
                   "Service de rattachement": service_name, "Nom d'exercice": last, "Prénom d'exercice": first,
                   "Code Profession": code, "Libellé Profession": label, "Libellé savoir-faire": specialty,
                   "Raison Sociale structure BAL": structure, "L4NUMEROVOIE structure BAL": str(rng.randint(1, 120)),
                   "L4LIBELLEVOIE structure BAL": rng.choice(STREETS), "L6LIGNEACHEMINEMENT structure BAL": f"{postal} {town.upper()}",
                   "Code postal structure BAL": postal, "Département structure BAL": dept, "Pays structure BAL": "FRANCE"})  # fmt: skip
    return "|".join(values.values()) + "\r\n"


# The kinds of queries, each timed on its own and all together.
QUERY_SETS = {
    "one-letter prefixes": ["m", "d", "l"],
    "common surnames": ["martin", "dupont", "lefebvre"],
    "name + town": ["martin lyon", "dupont le mans", "jean bernard"],
    "specialty + department": ["cardio 69", "pediatrie 75", "infirmier 72", "psychiatrie marseille", "kine 33"],
    "one typo": ["lefebre", "duont", "fontiane"],
    "structure, street, first name": ["ehpad tilleuls secretariat", "rue des lilas", "marie"],
}


def percentiles(durations: list[float]) -> str:
    ordered = sorted(durations)
    p50, p95 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.95)]
    return f"p50 {p50 * 1000:6.2f} ms  p95 {p95 * 1000:6.2f} ms  max {ordered[-1] * 1000:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "annuaire-bench")
    parser.add_argument("--database-url", help="postgresql+psycopg://… of a database to empty and fill")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--instance", type=Path, help="keep the SQLite database in this directory")
    parser.add_argument("--search-only", action="store_true", help="search the database of --instance again")
    parser.add_argument("--query", action="append", help="search these queries rather than the sets")
    parser.add_argument("--verbose", action="store_true", help="log each import step and each query")
    args = parser.parse_args()
    if args.verbose:
        logging.basicConfig(format="    %(message)s")
        logging.getLogger("portal.annuaire").setLevel(logging.DEBUG)
    args.dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    mssante, rpps = generate(args.dir)
    print(f"files ready in {args.dir} ({time.perf_counter() - started:.0f} s)")
    # The machine may be shared: its load says how much of a core each figure had.
    print(f"{os.cpu_count()} cores, load average {' '.join(f'{n:.1f}' for n in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as scratch:
        instance = args.instance or Path(scratch)
        instance.mkdir(parents=True, exist_ok=True)
        app = create_app(Settings(env="test", instance_path=instance, database_url=args.database_url))
        engine = app.extensions["database"].engine
        print(f"database: {engine.dialect.name}")
        if not args.search_only:
            if args.instance or args.database_url:  # a database kept from a previous run
                migrate.run(engine, "downgrade", "base")
            migrate.run(engine, "upgrade", "heads")
        imports = () if args.search_only else (
            ("RPPS import (2.2M rows)", rpps), ("MSSanté import (536k rows)", mssante),
            ("MSSanté re-import, unchanged (sync)", mssante),
        )  # fmt: skip
        with app.app_context():
            db = database.session()
            for label, path in imports:
                start, cpu = time.perf_counter(), time.process_time()
                job = service.import_file(db, None, str(path))
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
                print(f"{label:<38} {seconds:6.1f} s (Python CPU {cpu:5.1f} s) {job.rows_read / seconds:9,.0f} rows/s  "
                      f"status={job.status} created={job.created} updated={job.updated} removed={job.removed} "
                      f"rejected={job.rejected_count}")  # fmt: skip
            sets = {"given": args.query} if args.query else QUERY_SETS
            everything = []
            print(f"search, {args.rounds} rounds of each query:")
            for name, queries in sets.items():
                durations = []
                for query in queries:
                    times = []
                    for _ in range(args.rounds):
                        start = time.perf_counter()
                        results = service.search(query)
                        times.append(time.perf_counter() - start)
                    db.rollback()
                    durations += times
                    if args.verbose:
                        print(f"    {query!r:<30} median {statistics.median(times) * 1000:6.2f} ms  "
                              f"max {max(times) * 1000:6.2f} ms  {len(results)} results, "
                              f"first: {results[0].display_name if results else '-'}")  # fmt: skip
                everything += durations
                print(f"  {name:<32} {percentiles(durations)}")
            count = sum(len(queries) for queries in sets.values())
            print(f"  {f'all {count} queries':<32} {percentiles(everything)}")
    print(f"load average {' '.join(f'{n:.1f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    main()
