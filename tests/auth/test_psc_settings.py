"""Pro Santé Connect settings: off unless configured, complete credentials, https in production."""

import pytest

from portal.sealing import new_key
from portal.settings import Settings, SettingsError

ISSUER = "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"


def test_psc_is_off_unless_an_issuer_is_configured(tmp_path):
    assert not Settings(env="test", instance_path=tmp_path).psc_enabled


def test_discovery_defaults_to_psc_non_standard_path(tmp_path):
    settings = Settings(env="test", instance_path=tmp_path, psc_issuer=ISSUER, psc_client_id="c", psc_client_secret="s")
    assert settings.resolved_psc_discovery_url() == ISSUER + "/.well-known/wallet-openid-configuration"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"psc_client_secret": "s"}, "PORTAL_PSC_CLIENT_ID"),
        ({"psc_client_id": "c"}, "PORTAL_PSC_CLIENT_SECRET"),
        ({"psc_client_id": "c", "psc_client_auth": "private_key_jwt"}, "PORTAL_PSC_PRIVATE_KEY_FILE"),
    ],
)
def test_incomplete_psc_credentials_are_refused(tmp_path, fields, message):
    with pytest.raises(SettingsError, match=message):
        Settings(env="test", instance_path=tmp_path, psc_issuer=ISSUER, **fields)


def test_production_refuses_psc_over_plain_http(tmp_path):
    with pytest.raises(SettingsError, match="https"):
        Settings(
            env="production",
            secret_key="x" * 40,
            data_keys=new_key(),
            database_url="sqlite://",
            instance_path=tmp_path,
            psc_issuer="http://auth.example/auth/realms/esante-wallet",
            psc_client_id="c",
            psc_client_secret="s",
        )
