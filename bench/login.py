"""Cost of a login: argon2id hashing and verification, and full password + TOTP logins per second.

Run: .venv/bin/python bench/login.py [ROUNDS]
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyotp

from portal import create_app, database, migrate
from portal.auth import passwords
from portal.models import Establishment, Role, User
from portal.security import limiter
from portal.settings import Settings

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def timed(function, rounds: int) -> list[float]:
    durations = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        durations.append(time.perf_counter() - start)
    return durations


def report(name: str, durations: list[float]) -> None:
    print(f"{name:<44} median {statistics.median(durations) * 1000:7.1f} ms   max {max(durations) * 1000:7.1f} ms")


def main(rounds: int) -> None:
    report("argon2id hash", timed(lambda: passwords.hash_password("bench password"), rounds))
    digest = passwords.hash_password("bench password")
    report("argon2id verify", timed(lambda: passwords.verify_password(digest, "bench password"), rounds))

    with tempfile.TemporaryDirectory() as instance:
        settings = Settings(env="test", instance_path=Path(instance), login_rate_limit="100000 per minute")
        app = create_app(settings)
        migrate.run(app.extensions["database"].engine, "upgrade", "heads")
        with app.app_context():
            db = database.session()
            user = User(email="bench@bench.test", first_name="B", last_name="B", password_hash=digest,
                        totp_secret=pyotp.random_base32(), establishments=[Establishment(finess="000000001", name="Bench")])
            user.roles = {Role.PROFESSIONAL}
            db.add(user)
            db.commit()
            secret, email = user.totp_secret, user.email

        def login() -> None:
            client = app.test_client()
            token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
            client.post("/login", data={"email": email, "password": "bench password", "csrf_token": token})
            with app.app_context():  # one code per TOTP step: forget the last one between rounds
                db = database.session()
                db.get(User, 1).totp_last_step = None
                db.commit()
            token = CSRF.search(client.get("/login/code").get_data(as_text=True)).group(1)
            response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
            assert response.status_code == 302 and response.location == "/", response.status_code
            limiter.reset()

        durations = timed(login, rounds)
        report("full login (4 requests)", durations)
        print(f"{'logins per second, one core':<34} {1 / statistics.median(durations):7.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
