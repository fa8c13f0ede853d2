"""Cost of the DUI's questions and of the notices' indicators on an establishment of many usagers.

Run: .venv/bin/python bench/dmp_status.py [USAGERS] [--database-url URL]   (default 5,000 usagers, SQLite in a
temporary directory; half of them handed a notice, one in twenty opposed)

Prints the time of one status question (JSON and FHIR), of reading the whole changes feed by pages of 500,
and of the notices' tables of the indicators page (12 months).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notices import dui_clients, indicators  # noqa: E402
from notices.models import IdentityStatus, Notice, NoticeStatus, NoticeText, Opposition, Sex, Usager  # noqa: E402
from portal import create_app, database, migrate  # noqa: E402
from portal.database import utcnow  # noqa: E402
from portal.indicators.figures import last_months  # noqa: E402
from portal.models import Establishment, Role, User  # noqa: E402
from portal.settings import Settings  # noqa: E402


def fill(db, home: Establishment, count: int) -> None:
    text = NoticeText(establishment=home, variant="usager", number=1, body="…", author_label="bench")
    for number in range(count):
        usager = Usager(
            establishment=home, local_id=f"DUI-{number}", identity_status=IdentityStatus.QUALIFIEE,
            birth_name=f"Martin{number}", birth_first_names="Louise", birth_date=date(1950, 1, 1), sex=Sex.F,
        )  # fmt: skip
        db.add(usager)
        if number % 2 == 0:
            db.add(
                Notice(
                    usager=usager, addressee_name="x", addressee_capacity="usager", variant="usager",
                    channel="remise_en_main_propre", may_oppose=True, text=text, reference=f"B{number}",
                    status=NoticeStatus.HANDED_OVER, issuer_label="bench", content=b"%PDF",
                    content_type="application/pdf", content_sha256="0" * 64, status_changed_at=utcnow(),
                )
            )  # fmt: skip
        if number % 20 == 0:
            db.add(Opposition(usager=usager, opposed_by="L'usager", reason="bench"))
    db.commit()


def timed(call, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(count: int, database_url: str | None) -> None:
    instance = Path(tempfile.mkdtemp(prefix="bench-dmp-status-"))
    app = create_app(Settings(env="test", instance_path=instance, database_url=database_url))
    migrate.run(app.extensions["database"].engine, "upgrade", "heads")
    with app.app_context():
        db = database.session()
        home = Establishment(finess="720000001", name="EHPAD Les Tilleuls", postal_code="72000", city="Le Mans")
        admin = User(email="admin@bench.test", first_name="A", last_name="B", password_hash="x", establishments=[home])
        admin.roles = {Role.ADMINISTRATOR}
        db.add(admin)
        db.commit()
        started = time.perf_counter()
        fill(db, home, count)
        print(f"{count} usagers stored in {time.perf_counter() - started:.1f} s")
        _client, token = dui_clients.create(db, admin, home.id, "bench")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    for label, extra in (("JSON", {}), ("FHIR", {"Accept": "application/fhir+json"})):
        times = timed(
            lambda h={**headers, **extra}: client.get(f"/api/v1/usagers/DUI-{count // 2}/dmp-status", headers=h), 50
        )
        print(
            f"status question ({label}): median {statistics.median(times):.1f} ms, max {max(times):.1f} ms (50 calls)"
        )

    pages, items = 0, 0

    def read_feed() -> None:
        nonlocal pages, items
        query = {"since": "2000-01-01T00:00:00Z", "limit": 500}
        while True:
            page = client.get("/api/v1/dmp-status/changes", query_string=query, headers=headers).json
            pages, items = pages + 1, items + len(page["items"])
            query = {"cursor": page["cursor"], "limit": 500}
            if not page["more"]:
                return

    [feed] = timed(read_feed)
    print(f"changes feed read whole: {items} items in {pages} pages, {feed:.0f} ms ({feed / pages:.0f} ms a page)")

    with app.app_context():
        db = database.session()
        period = last_months(12, datetime.now(ZoneInfo("Europe/Paris")).date())
        home = db.get(Establishment, home.id)
        times = timed(lambda: indicators.tables(db, None, home, period, False), 5)
        print(f"notices' indicator tables (12 months): median {statistics.median(times):.0f} ms (5 runs)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("usagers", nargs="?", type=int, default=5000)
    parser.add_argument("--database-url")
    arguments = parser.parse_args()
    main(arguments.usagers, arguments.database_url)
