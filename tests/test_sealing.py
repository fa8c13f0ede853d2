"""Second-factor seeds are kept sealed: the database alone does not give them, the data keys open them."""

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal import create_app, migrate, sealing
from portal.cli import main
from portal.database import make_engine
from portal.models import User
from portal.sealing import SealError, new_key
from portal.settings import Settings, SettingsError
from tests.conftest import PASSWORD_HASH, database_url, drop_database


def stored_seed(db: Session, user: User) -> str:
    return db.execute(text("SELECT totp_secret FROM users WHERE id = :id"), {"id": user.id}).scalar_one()


def test_the_database_holds_the_seed_sealed_and_the_portal_reads_it_back(app, db, make_user):
    user = make_user("claire@tilleuls.test.mssante.fr")
    seed = user.totp_secret
    stored = stored_seed(db, user)
    assert seed not in stored
    keys = sealing.keys_of(app.extensions["database"].engine.dialect)
    assert keys.decrypt(stored.encode()).decode() == seed
    db.expire_all()
    assert db.get(User, user.id).totp_secret == seed


def test_a_user_logs_in_with_the_code_of_the_sealed_seed(logged_in, professional):
    assert logged_in(professional).get("/").status_code == 200


@pytest.fixture()
def portal_with_keys(tmp_path):
    """A portal on its own database, started anew with the keys given: portal_with_keys(KEY, ...)."""
    url = database_url(tmp_path, "sealing")
    apps = []

    def start(*keys: str):
        settings = Settings(env="test", instance_path=tmp_path, database_url=url, data_keys=",".join(keys))
        app = create_app(settings)
        if not apps:
            migrate.run(app.extensions["database"].engine, "upgrade", "heads")
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.extensions["database"].engine.dispose()
    drop_database(url)


def add_user(app, seed: str) -> int:
    with app.app_context(), Session(app.extensions["database"].engine) as db:
        user = User(email="paul@tilleuls.test.mssante.fr", first_name="Paul", last_name="Test",
                    password_hash=PASSWORD_HASH, totp_secret=seed)  # fmt: skip
        db.add(user)
        db.commit()
        return user.id


def read_seed(app, user_id: int) -> str:
    with app.app_context(), Session(app.extensions["database"].engine) as db:
        return db.scalar(select(User.totp_secret).where(User.id == user_id))


def test_a_new_key_put_first_opens_the_old_seeds_and_reseal_moves_them_under_it(portal_with_keys):
    old, new = new_key(), new_key()
    user_id = add_user(portal_with_keys(old), "JBSWY3DPEHPK3PXP")
    rotated = portal_with_keys(new, old)
    assert read_seed(rotated, user_id) == "JBSWY3DPEHPK3PXP"

    result = rotated.test_cli_runner().invoke(main, ["keys", "reseal"])
    assert result.exit_code == 0 and "1 secrets" in result.output
    assert read_seed(portal_with_keys(new), user_id) == "JBSWY3DPEHPK3PXP"  # the old key is no longer needed


def test_a_seed_whose_key_was_taken_out_is_refused_with_a_clear_error(portal_with_keys):
    user_id = add_user(portal_with_keys(new_key()), "JBSWY3DPEHPK3PXP")
    with pytest.raises(SealError, match="PORTAL_DATA_KEYS"):
        read_seed(portal_with_keys(new_key()), user_id)


def test_a_malformed_data_key_stops_the_portal_at_start(tmp_path):
    with pytest.raises(SettingsError, match="key 2 is not a Fernet key"):
        create_app(Settings(env="test", instance_path=tmp_path, data_keys=f"{new_key()},not-a-key"))


def test_the_dev_data_key_is_kept_private_and_stable(tmp_path):
    settings = Settings(env="dev", instance_path=tmp_path)
    assert settings.resolved_data_keys() == Settings(env="dev", instance_path=tmp_path).resolved_data_keys()
    Fernet(settings.resolved_data_keys()[0])
    assert (tmp_path / "data_key").stat().st_mode & 0o077 == 0


def test_the_migration_seals_the_seeds_already_stored_and_opens_them_going_back(tmp_path):
    url = database_url(tmp_path, "seeds")
    engine = make_engine(url)  # no app set it up: no keys
    keyed = create_app(Settings(env="test", instance_path=tmp_path, database_url=url)).extensions["database"].engine
    keys = sealing.keys_of(keyed.dialect)
    try:
        migrate.run(engine, "upgrade", "0013")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO users (email, first_name, last_name, totp_secret, failed_logins, "
                                    "is_active, created_at) VALUES ('a@b.mssante.fr', 'A', 'B', 'JBSWY3DPEHPK3PXP', 0, "
                                    "true, CURRENT_TIMESTAMP)"))  # fmt: skip

        def seed() -> str:
            with engine.connect() as connection:
                return connection.execute(text("SELECT totp_secret FROM users")).scalar_one()

        with pytest.raises(RuntimeError, match="portal db upgrade"):
            migrate.run(engine, "upgrade", "0014")
        migrate.run(keyed, "upgrade", "0014")
        assert keys.decrypt(seed().encode()).decode() == "JBSWY3DPEHPK3PXP"

        migrate.run(keyed, "downgrade", "0013")
        assert seed() == "JBSWY3DPEHPK3PXP"
    finally:
        engine.dispose()
        keyed.dispose()
        drop_database(url)
