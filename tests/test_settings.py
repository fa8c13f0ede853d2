"""Settings from the environment: safe defaults for the demo, nothing implicit in production."""

import pytest

from portal import create_app
from portal.sealing import new_key
from portal.settings import Settings, SettingsError


def test_production_refuses_to_start_without_its_keys_and_database(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTAL_ENV", raising=False)
    with pytest.raises(SettingsError, match="PORTAL_SECRET_KEY, PORTAL_DATA_KEYS, PORTAL_DATABASE_URL"):
        Settings(instance_path=tmp_path)


def test_production_refuses_a_short_secret_key(tmp_path):
    with pytest.raises(SettingsError, match="at least 32"):
        Settings(env="production", secret_key="short", data_keys=new_key(), database_url="sqlite://",
                 instance_path=tmp_path)


def test_settings_are_read_from_prefixed_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_ENV", "dev")
    monkeypatch.setenv("PORTAL_SESSION_IDLE_MINUTES", "30")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    settings = Settings()
    assert (settings.env, settings.session_idle_minutes) == ("dev", 30)
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path / 'portal.sqlite3'}"


def test_a_new_instance_directory_is_the_portal_user_s_alone(tmp_path):
    create_app(Settings(env="dev", instance_path=tmp_path / "instance"))
    assert (tmp_path / "instance").stat().st_mode & 0o077 == 0


def test_dev_secret_key_is_kept_private_and_stable(tmp_path):
    settings = Settings(env="dev", instance_path=tmp_path)
    key = settings.resolved_secret_key()
    assert len(key) >= 32 and key == settings.resolved_secret_key()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_cookies_are_secure_and_host_bound(tmp_path):
    settings = Settings(
        env="production", secret_key="x" * 40, data_keys=new_key(), database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}",
        instance_path=tmp_path,
    )
    app = create_app(settings)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    response = app.test_client().get("/login", base_url="https://portal.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
