"""Cost of issuing notices as reception does: prepare (PDF letter, link, signed proof record), mark printed, then
verify the whole proof chain.

Run: .venv/bin/python bench/notices_issue.py [USAGERS] [--database-url URL]   (default 40 usagers, SQLite in a
temporary directory; each usager gets the guardian's letter and the easy-read version by hand, both then marked)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notices import issuing, proof  # noqa: E402
from notices.models import IdentityStatus, NoticeStatus, Protection, Representative, RepresentativeRole, Sex, Usager  # noqa: E402
from portal import create_app, database, migrate  # noqa: E402
from portal.models import Establishment, Role, User  # noqa: E402
from portal.settings import Settings  # noqa: E402


def main(count: int, database_url: str | None) -> None:
    instance = Path(tempfile.mkdtemp(prefix="bench-notices-"))
    settings = Settings(env="test", instance_path=instance, database_url=database_url)
    app = create_app(settings)
    migrate.run(app.extensions["database"].engine, "upgrade", "heads")
    with app.app_context():
        db = database.session()
        home = Establishment(finess="720000001", name="EHPAD Les Tilleuls", postal_code="72000", city="Le Mans")
        reception = User(
            email="accueil@bench.test", first_name="A", last_name="B", password_hash="x", establishments=[home]
        )
        reception.roles = {Role.RECEPTION}
        db.add(reception)
        db.commit()
        started = time.perf_counter()
        proof.keyring(db).fingerprint(home)
        print(f"establishment key made in {(time.perf_counter() - started) * 1000:.0f} ms")

        issue_times, mark_times = [], []
        for number in range(count):
            guardian = Representative(
                role=RepresentativeRole.TUTEUR, last_name=f"Bernard{number}", first_names="Paul",
                address_line1=f"{number} rue Haute", postal_code="72000", city="Le Mans",
            )  # fmt: skip
            usager = Usager(
                establishment=home, local_id=f"DUI-{number}", identity_status=IdentityStatus.VALIDEE,
                birth_name=f"Martin{number}", birth_first_names="Louise", birth_date=date(1950, 1, 1), sex=Sex.F,
                protection=Protection.REPRESENTATION_PERSONNE, representatives=[guardian],
            )  # fmt: skip
            db.add(usager)
            db.commit()
            started = time.perf_counter()
            notices = issuing.issue(
                db, reception, usager,
                [issuing.Choice(guardian.id, "courrier"), issuing.Choice(None, "remise_en_main_propre")],
                base_url="https://portail.example.fr/", settings=settings,
            )  # fmt: skip
            issue_times.append(time.perf_counter() - started)
            for notice, status in zip(notices, (NoticeStatus.PRINTED, NoticeStatus.HANDED_OVER), strict=True):
                started = time.perf_counter()
                issuing.mark(db, reception, notice, status)
                mark_times.append(time.perf_counter() - started)

        started = time.perf_counter()
        checked, bad = proof.verify(db, home)
        verify_seconds = time.perf_counter() - started
    print(
        f"issue 2 notices (2 PDF letters, 2 signed records): median {statistics.median(issue_times) * 1000:.0f} ms, "
        f"p95 {statistics.quantiles(issue_times, n=20)[-1] * 1000:.0f} ms  ({count} usagers)"
    )
    print(f"mark one notice (1 signed record): median {statistics.median(mark_times) * 1000:.1f} ms")
    print(f"verify the chain: {checked} records in {verify_seconds:.2f} s "
          f"({verify_seconds / checked * 1000:.1f} ms a record), {'intact' if bad is None else bad}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("usagers", type=int, nargs="?", default=40)
    parser.add_argument("--database-url")
    arguments = parser.parse_args()
    main(arguments.usagers, arguments.database_url)
