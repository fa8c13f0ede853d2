"""Import of usagers from a DUI export at the size of a large establishment: reading, dry run, import, re-import.

Synthetic files only: a CSV (Windows-1252, ';', a representative on a third of the rows) and a FHIR R4
Bundle of FR Core Patients (qualified identities with a NIR), each of ROWS usagers.

Run: .venv/bin/python bench/usager_import.py [--rows N] [--database-url URL]
(the database defaults to SQLite in a temporary directory; a PostgreSQL URL runs in a schema of its own)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notices import import_service, importer  # noqa: E402
from portal import create_app, database, migrate  # noqa: E402
from portal.models import Establishment  # noqa: E402
from portal.settings import Settings  # noqa: E402
from tests.conftest import database_url, drop_database  # noqa: E402
from tests.notices.dui_files import bundle, csv_file, matricule, patient  # noqa: E402

NAMES = ["Martin", "Bernard", "Lefèvre", "Dubois", "Faure", "Mercier", "Girard", "Bonnet", "Lambert", "Fontaine"]
FIRST = ["Hélène", "Zoé", "Jérôme", "Louise", "Noël", "Inès", "Léon", "Agnès", "Maël", "Éloïse"]


def rows(count: int, city: str) -> list[dict]:
    rng = random.Random(7)
    made = []
    for n in range(count):
        year, month = 40 + n % 50, 1 + n % 12
        row = {
            # Sex, year, month, department 72, then the row number: a distinct matricule per row.
            "identifiant_dui": f"DUI-{n:06d}", "ins": matricule(f"2{year:02d}{month:02d}72{n:06d}"),
            "statut_identite": "qualifiee", "nom_naissance": rng.choice(NAMES), "prenoms_naissance": rng.choice(FIRST),
            "date_naissance": f"{1 + n % 28:02d}/{month:02d}/19{year}", "sexe": "F", "code_lieu_naissance": "72181",
            "adresse1": f"{n} rue des Lilas", "code_postal": "72000", "ville": city,
        }  # fmt: skip
        if n % 3 == 0:
            row.update(protection="representation_personne", representant1_role="tuteur", representant1_nom="Petit",
                       representant1_prenoms="Paul", representant1_email=f"tuteur{n}@example.org")  # fmt: skip
        made.append(row)
    return made


def patients(csv_rows: list[dict]) -> bytes:
    return bundle(*(
        patient(row["identifiant_dui"], status="QUAL", nir=row["ins"], family=row["nom_naissance"],
                given=(row["prenoms_naissance"],), birth_date="-".join(reversed(row["date_naissance"].split("/"))),
                birth_place=row["code_lieu_naissance"])
        for row in csv_rows
    ))  # fmt: skip


def timed(label: str, action, rows_count: int):
    """Wall time and this process's CPU time: on a shared machine, the second is the steadier figure."""
    start, cpu = time.perf_counter(), time.process_time()
    result = action()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"{label:<36} {seconds * 1000:7.0f} ms wall {cpu_seconds * 1000:7.0f} ms CPU {rows_count / seconds:7.0f} rows/s"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=importer.MAX_ROWS)
    parser.add_argument("--database-url", help="PostgreSQL server URL (default: SQLite in a temporary directory)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as instance:
        url = f"sqlite:///{instance}/bench.sqlite3"
        if args.database_url:
            # The tests' helper makes a schema of our own on that server, dropped at the end.
            os.environ["PORTAL_TEST_DATABASE_URL"] = args.database_url
            url = database_url(Path(instance), "bench")
        app = create_app(Settings(env="test", instance_path=Path(instance), database_url=url))
        migrate.run(app.extensions["database"].engine, "upgrade", "heads")
        csv_rows = rows(args.rows, "Le Mans")
        csv_data = csv_file(*csv_rows, encoding="cp1252")
        moved = csv_file(*rows(args.rows, "Allonnes"), encoding="cp1252")
        fhir_data = patients(csv_rows)
        print(f"{args.rows} usagers; CSV {len(csv_data) / 1e6:.1f} MB, FHIR {len(fhir_data) / 1e6:.1f} MB; "
              f"database {app.extensions['database'].engine.dialect.name}")  # fmt: skip
        try:
            with app.app_context():
                db = database.session()
                home = Establishment(finess="720000001", name="EHPAD Les Tilleuls")
                other = Establishment(finess="720000002", name="SSIAD du Mans")
                db.add_all([home, other])
                db.commit()
                n = args.rows
                timed("read CSV (Windows-1252, ';')", lambda: importer.read(csv_data), n)
                timed("read FHIR Bundle", lambda: importer.read(fhir_data), n)
                report = timed(
                    "CSV dry run, empty establishment", lambda: import_service.preview(db, None, home.id, csv_data), n
                )
                assert report.created == n and not report.rejected, report.rejected[:3]
                timed("CSV import, all created", lambda: import_service.apply(db, None, home.id, csv_data), n)
                report = timed(
                    "CSV re-import, all unchanged", lambda: import_service.apply(db, None, home.id, csv_data), n
                )
                assert report.unchanged == n
                report = timed(
                    "CSV import, all addresses changed", lambda: import_service.apply(db, None, home.id, moved), n
                )
                assert report.updated == n
                report = timed(
                    "FHIR import, all created", lambda: import_service.apply(db, None, other.id, fhir_data), n
                )
                assert report.created == n and not report.rejected, report.rejected[:3]
        finally:
            app.extensions["database"].engine.dispose()
            if args.database_url:
                drop_database(url)


if __name__ == "__main__":
    main()
