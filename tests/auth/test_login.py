"""Local login with password and a mandatory second factor."""

from tests.conftest import PASSWORD, csrf_token, current_code, login


def test_professional_logs_in_with_password_and_code(client, db, professional):
    response = login(client, professional, db)
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert "EHPAD Les Tilleuls" in page
    assert "Professionnel de santé ou du social" in page
