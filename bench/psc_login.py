"""Cost of Pro Santé Connect on the portal: a full PSC login, a token renewal, a request that needs no renewal.

The provider is the test suite's stand-in (tests/auth/oidc_provider.py) on loopback, in this process: its
own work (RS256 signatures, token storage) is inside the figures, the network latency to the real PSC is not.

Run: .venv/bin/python bench/psc_login.py [ROUNDS]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from login import report, timed  # noqa: E402  (bench/login.py, beside this file)

from portal import create_app, database, migrate  # noqa: E402
from portal.models import Establishment, Role, User  # noqa: E402
from portal.security import limiter  # noqa: E402
from portal.settings import Settings  # noqa: E402
from tests.auth.oidc_provider import Provider  # noqa: E402

NATIONAL_ID = "810000000017"


def main(rounds: int) -> None:
    provider = Provider()
    provider.start()
    provider.client.redirect_uris = ["http://localhost/login/psc/callback"]
    provider.enrol(NATIONAL_ID, "BENCH", "BENCH", finess=("000000001",))
    provider.insert_card(NATIONAL_ID)
    with tempfile.TemporaryDirectory() as instance:
        settings = Settings(
            env="test",
            instance_path=Path(instance),
            login_rate_limit="100000 per minute",
            psc_issuer=provider.issuer,
            psc_client_id=provider.client.client_id,
            psc_client_secret=provider.client.client_secret,
        )
        app = create_app(settings)
        migrate.run(app.extensions["database"].engine, "upgrade", "heads")
        with app.app_context():
            db = database.session()
            user = User(
                email="bench@bench.test",
                first_name="Bench",
                last_name="Bench",
                national_id=NATIONAL_ID,
                establishments=[Establishment(finess="000000001", name="Bench")],
            )
            user.roles = {Role.PROFESSIONAL}
            db.add(user)
            db.commit()

        def login():
            client = app.test_client()
            callback = provider.approve(client.get("/login/psc").location)
            response = client.get(callback)
            assert response.status_code == 302 and response.location == "/", response.status_code
            limiter.reset()
            return client

        login()  # discovery and JWKS are fetched once per process: leave them out of the figures
        report("PSC login (start, PSC page, callback)", timed(login, rounds))

        client = login()

        def renew():
            with client.session_transaction() as session:
                session["psc"] = {**session["psc"], "expires_at": 0}
            assert client.get("/").status_code == 200

        def plain():
            assert client.get("/").status_code == 200

        report("page with a lapsed token (renewal)", timed(renew, rounds))
        report("page with a valid token (no renewal)", timed(plain, rounds))
    provider.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
