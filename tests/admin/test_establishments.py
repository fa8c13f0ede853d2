"""Establishment administration: creation, FINESS and postal code checks, edition, (de)activation, search."""

import pytest
from sqlalchemy import func, select

from portal.models import AuditEvent, Establishment
from tests.conftest import csrf_token, text


def establishment_fields(**overrides):
    fields = {
        "finess": " 2a0000123 ",
        "name": "Foyer d'accueil médicalisé Les Oliviers",
        "address": "3 chemin des Oliviers",
        "postal_code": "20000",
        "city": "Ajaccio",
        "phone": "04 95 00 00 00",
        "email": "accueil@oliviers.example.org",
    }
    return {**fields, **overrides}


def post(client, path, data=None, page=None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, page or path)})


def admin_events(db):
    stmt = select(AuditEvent).where(AuditEvent.action.startswith("admin.")).order_by(AuditEvent.id)
    return [(e.action, e.target, e.detail) for e in db.scalars(stmt)]


def test_administrator_creates_establishment(db, logged_in, administrator):
    client = logged_in(administrator)
    response = post(client, "/admin/establishments/new", establishment_fields())
    created = db.scalar(select(Establishment).where(Establishment.finess == "2A0000123"))
    assert response.status_code == 302 and response.location.endswith(f"/admin/establishments/{created.id}")
    assert "L'établissement Foyer d'accueil médicalisé Les Oliviers est créé." in text(client.get(response.location))
    assert (created.name, created.postal_code, created.city, created.is_active) == (
        "Foyer d'accueil médicalisé Les Oliviers",
        "20000",
        "Ajaccio",
        True,
    )


@pytest.mark.parametrize(
    "finess, accepted",
    [
        ("720000019", True),
        ("2B0000123", True),
        ("72000001", False),
        ("7200000190", False),
        ("2C0000123", False),
        ("72000001A", False),
        ("", False),
    ],
)
def test_establishment_finess_validated(db, logged_in, administrator, finess, accepted):
    client = logged_in(administrator)
    response = post(client, "/admin/establishments/new", establishment_fields(finess=finess))
    assert (db.scalar(select(Establishment).where(Establishment.name.startswith("Foyer"))) is not None) == accepted
    if not accepted:
        assert response.status_code == 200 and 'aria-invalid="true" id="finess"' in text(response)


def test_establishment_postal_code_has_5_digits(db, logged_in, administrator):
    response = post(logged_in(administrator), "/admin/establishments/new", establishment_fields(postal_code="2000"))
    assert "Le code postal compte 5 chiffres." in text(response)
    assert admin_events(db) == []


def test_duplicate_finess_is_refused_and_nothing_saved(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    before = db.scalar(select(func.count(Establishment.id)))
    response = post(client, "/admin/establishments/new", establishment_fields(finess=establishment.finess))
    assert "Un établissement a déjà ce numéro FINESS." in text(response)
    assert db.scalar(select(func.count(Establishment.id))) == before
    assert admin_events(db) == []


def test_administrator_updates_establishment(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    path = f"/admin/establishments/{establishment.id}"
    assert 'value="720000001"' in text(client.get(path))
    data = establishment_fields(finess=establishment.finess, name=establishment.name, address=establishment.address)
    response = post(client, path, data)
    assert response.status_code == 302
    db.refresh(establishment)
    assert (establishment.postal_code, establishment.city, establishment.phone) == (
        "20000",
        "Ajaccio",
        "04 95 00 00 00",
    )
    assert admin_events(db) == [
        ("admin.establishment_updated", "720000001", {"fields": ["postal_code", "city", "phone", "email"]})
    ]


def test_establishment_cannot_take_another_finess(db, logged_in, administrator, establishment, stranger):
    client = logged_in(administrator)
    response = post(client, f"/admin/establishments/{establishment.id}", establishment_fields(finess="690000002"))
    assert "Un établissement a déjà ce numéro FINESS." in text(response)
    db.refresh(establishment)
    assert establishment.finess == "720000001"


def test_establishment_deactivation_needs_confirmation_and_can_be_undone(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    path = f"/admin/establishments/{establishment.id}"
    post(client, f"{path}/deactivate", page=path)
    db.refresh(establishment)
    assert establishment.is_active

    response = post(client, f"{path}/deactivate", {"confirm": "y"}, page=path)
    assert "L'établissement EHPAD Les Tilleuls est désactivé." in text(client.get(response.location))
    db.refresh(establishment)
    assert not establishment.is_active

    post(client, f"{path}/reactivate", page=path)
    db.refresh(establishment)
    assert establishment.is_active
    assert [action for action, _, _ in admin_events(db)] == [
        "admin.establishment_deactivated",
        "admin.establishment_reactivated",
    ]


@pytest.mark.parametrize("field, value", [("phone", "appelez-nous"), ("email", "accueil@")])
def test_establishment_contact_is_validated(db, logged_in, administrator, field, value):
    response = post(logged_in(administrator), "/admin/establishments/new", establishment_fields(**{field: value}))
    assert response.status_code == 200
    assert db.scalar(select(Establishment).where(Establishment.finess == "2A0000123")) is None


def test_establishment_creation_is_audited(db, logged_in, administrator):
    post(logged_in(administrator), "/admin/establishments/new", establishment_fields())
    assert admin_events(db) == [
        (
            "admin.establishment_created",
            "2A0000123",
            {"fields": ["finess", "name", "address", "postal_code", "city", "phone", "email"]},
        )
    ]


def test_establishment_search_by_name_finess_or_city(logged_in, administrator, establishment, stranger):
    client = logged_in(administrator)
    for query in ("tilleuls", "720000", "LE MANS"):
        page = text(client.get("/admin/establishments", query_string={"q": query}))
        assert "EHPAD Les Tilleuls" in page and "IME Les Sources" not in page, query
    page = text(client.get("/admin/establishments?q=nulle+part"))
    assert "Aucun établissement ne correspond à votre recherche." in page


def test_establishment_htmx_search_returns_fragment_without_layout(logged_in, administrator, establishment):
    response = logged_in(administrator).get("/admin/establishments?q=mans", headers={"HX-Request": "true"})
    assert "HX-Request" in response.headers["Vary"]
    page = text(response)
    assert "EHPAD Les Tilleuls" in page and "<html" not in page and "<form" not in page
