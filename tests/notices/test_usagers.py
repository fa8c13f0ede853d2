"""Registering and editing usagers: forms without JavaScript, rights by establishment and role, audit lines."""

from datetime import date

import pytest
from sqlalchemy import select

from notices import service
from notices.models import IdentityStatus, Protection, RepresentativeRole, Sex, Usager
from portal.access import PermissionDenied
from portal.models import AuditEvent
from tests.conftest import csrf_token, text
from tests.notices.conftest import NIR


def usager_fields(establishment, **overrides) -> dict:
    fields = {
        "establishment_id": str(establishment.id),
        "local_id": "DUI-0042",
        "identity_status": "qualifiee",
        "ins": "2 55 08 14 168 025 38",
        "birth_name": "Durand",
        "birth_first_names": "Marie Jeanne",
        "birth_date": "1955-08-20",
        "sex": "F",
        "birth_place_code": "14168",
        "admission_date": "2024-11-02",
        "address_line1": "",
        "address_line2": "",
        "postal_code": "",
        "city": "",
        "email": "",
        "protection": "representation_personne",
        "representatives-0-role": "tuteur",
        "representatives-0-last_name": "Durand",
        "representatives-0-first_names": "Jacques",
        "representatives-0-address_line1": "12 avenue Foch",
        "representatives-0-postal_code": "72000",
        "representatives-0-city": "Le Mans",
        "representatives-0-email": "jacques.durand@example.org",
        "representatives-0-judgment_type": "tutelle",
        "representatives-0-judgment_date": "2023-05-10",
    }
    return {**fields, **overrides}


def post(client, path, data, page=None):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page or path)})


def notices_events(db):
    return db.scalars(select(AuditEvent).where(AuditEvent.action.startswith("notices.")).order_by(AuditEvent.id)).all()


def test_reception_registers_a_usager_under_guardianship(db, logged_in, reception, establishment):
    client = logged_in(reception)
    response = post(client, "/usagers/new", usager_fields(establishment))
    assert response.status_code == 302, text(response)

    usager = db.scalar(select(Usager).where(Usager.local_id == "DUI-0042"))
    assert response.location.endswith(f"/usagers/{usager.id}")
    assert (usager.ins, usager.identity_status, usager.protection) == (
        NIR,
        IdentityStatus.QUALIFIEE,
        Protection.REPRESENTATION_PERSONNE,
    )
    assert [(r.role, r.last_name, r.judgment_type) for r in usager.representatives] == [
        (RepresentativeRole.TUTEUR, "Durand", "tutelle")
    ]

    page = text(client.get(f"/usagers/{usager.id}"))
    assert "Version facile à lire et à comprendre (FALC)" in page
    assert "Notice pour le représentant légal d'un majeur" in page
    assert "messagerie de Mon espace santé" in page


def test_creation_and_edition_are_audited_by_field_name_without_values(db, logged_in, reception, establishment):
    client = logged_in(reception)
    post(client, "/usagers/new", usager_fields(establishment))
    usager = db.scalar(select(Usager).where(Usager.local_id == "DUI-0042"))
    edited = usager_fields(
        establishment,
        email="marie.durand@example.org",
        **{
            "representatives-0-id": str(usager.representatives[0].id),
            "representatives-0-email": "j.durand@example.org",
        },
    )
    response = post(client, f"/usagers/{usager.id}/edit", edited)
    assert response.status_code == 302, text(response)

    created, updated = notices_events(db)
    assert (created.action, created.target, created.actor_id) == (
        "notices.usager_created",
        f"usager:{usager.id}",
        reception.id,
    )
    assert {"ins", "birth_name", "birth_date", "representative_added"} <= set(created.detail["fields"])
    assert (updated.action, updated.detail["fields"]) == ("notices.usager_updated", ["email", "representative.email"])
    logged = repr([(e.target, e.detail) for e in notices_events(db)])
    for value in (NIR, "Durand", "Marie", "1955", "example.org", "14168"):
        assert value not in logged


def test_representative_keeps_its_record_when_edited_and_goes_when_removed(
    db, logged_in, reception, usager_under_guardianship
):
    client = logged_in(reception)
    usager = usager_under_guardianship
    guardian_id = usager.representatives[0].id
    path = f"/usagers/{usager.id}/edit"
    fields = usager_fields(
        usager.establishment, local_id=usager.local_id, ins=NIR, birth_name="Martin",
        **{"representatives-0-id": str(guardian_id), "representatives-0-city": "Allonnes"},
    )  # fmt: skip
    assert post(client, path, fields).status_code == 302
    db.expire_all()
    assert [(r.id, r.city) for r in usager.representatives] == [(guardian_id, "Allonnes")]

    assert post(client, path, {**fields, "representatives-0-remove": "y"}).status_code == 302
    db.expire_all()
    assert usager.representatives == []
    assert "representative_removed" in notices_events(db)[-1].detail["fields"]


def test_add_representative_button_adds_an_empty_row_without_saving(db, logged_in, reception, establishment):
    client = logged_in(reception)
    fields = usager_fields(establishment, add_representative="Ajouter un représentant")
    response = post(client, "/usagers/new", fields)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="representatives-1-last_name"' in page and 'value="Jacques"' in page
    assert "Saisissez" not in text(response)
    assert db.scalar(select(Usager)) is None


def test_blank_added_row_is_ignored_on_save(db, logged_in, reception, establishment):
    client = logged_in(reception)
    fields = usager_fields(establishment, **{"representatives-1-role": "parent", "representatives-1-last_name": ""})
    assert post(client, "/usagers/new", fields).status_code == 302
    assert len(db.scalar(select(Usager)).representatives) == 1


def test_wrong_ins_key_is_refused_and_nothing_saved(db, logged_in, reception, establishment):
    client = logged_in(reception)
    response = post(client, "/usagers/new", usager_fields(establishment, ins=NIR[:13] + "39"))
    assert response.status_code == 200
    assert "La clé du matricule INS ne correspond pas" in text(response)
    assert db.scalar(select(Usager)) is None


def test_qualified_identity_requires_a_matricule(db, logged_in, reception, establishment):
    response = post(logged_in(reception), "/usagers/new", usager_fields(establishment, ins=""))
    assert "Une identité récupérée ou qualifiée a un matricule INS." in text(response)


def test_the_sex_is_chosen_never_preset(db, logged_in, reception, establishment):
    client = logged_in(reception)
    assert '<option selected value="">— à choisir —</option>' in text(client.get("/usagers/new"))
    response = post(client, "/usagers/new", usager_fields(establishment, sex=""))
    assert "Choisissez le sexe : c'est un trait de l'identité." in text(response)
    assert db.scalar(select(Usager)) is None


def test_qualified_identity_requires_its_birth_place(db, logged_in, reception, establishment):
    response = post(logged_in(reception), "/usagers/new", usager_fields(establishment, birth_place_code=""))
    assert "Le lieu de naissance est un trait INS : saisissez son code INSEE." in text(response)
    assert db.scalar(select(Usager)) is None


def test_duplicate_local_id_in_the_establishment_is_refused(db, logged_in, reception, establishment, make_usager):
    make_usager("DUI-0042")
    response = post(logged_in(reception), "/usagers/new", usager_fields(establishment))
    assert "déjà cet identifiant de dossier" in text(response)
    assert len(db.scalars(select(Usager)).all()) == 1


def test_reception_of_another_establishment_gets_404(logged_in, other_reception, usager_under_guardianship):
    client = logged_in(other_reception)
    usager = usager_under_guardianship
    assert client.get(f"/usagers/{usager.id}").status_code == 404
    assert client.get(f"/usagers/{usager.id}/edit").status_code == 404
    assert "Martin" not in text(client.get("/usagers?q=martin"))


def test_reception_cannot_register_in_another_establishment(db, logged_in, other_reception, establishment):
    response = post(logged_in(other_reception), "/usagers/new", usager_fields(establishment))
    assert response.status_code == 200 and "N'est pas un choix valide" in text(response)
    assert db.scalar(select(Usager)) is None


def test_professional_reads_but_cannot_edit(db, logged_in, professional, usager_under_guardianship):
    client = logged_in(professional)
    usager = usager_under_guardianship
    page = client.get(f"/usagers/{usager.id}")
    assert page.status_code == 200 and "Modifier le dossier" not in text(page)
    assert client.get(f"/usagers/{usager.id}/edit").status_code == 403
    assert client.get("/usagers/new").status_code == 403
    assert "Enregistrer un usager" not in text(client.get("/usagers"))


def test_stranger_gets_404(logged_in, stranger, usager_under_guardianship):
    assert logged_in(stranger).get(f"/usagers/{usager_under_guardianship.id}").status_code == 404


def test_usager_pages_keep_no_copy(logged_in, reception, usager_under_guardianship):
    response = logged_in(reception).get(f"/usagers/{usager_under_guardianship.id}")
    assert 'hx-history="false"' in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_nav_link_for_reception(logged_in, reception):
    assert 'href="/usagers"' in logged_in(reception).get("/").get_data(as_text=True)


def test_no_nav_link_for_professionals(logged_in, professional):
    assert 'href="/usagers"' not in logged_in(professional).get("/").get_data(as_text=True)


def test_service_refuses_registration_outside_the_actors_establishments(db, other_reception, establishment):
    data = service.UsagerData(
        local_id="DUI-1", ins=None, identity_status=IdentityStatus.PROVISOIRE, birth_name="Martin",
        birth_first_names="Louise", birth_date=date(1940, 1, 1), sex=Sex.F,
    )  # fmt: skip
    with pytest.raises(PermissionDenied):
        service.create_usager(db, other_reception, establishment.id, data)


def test_professional_post_to_edit_is_refused_and_changes_nothing(
    db, logged_in, professional, usager_under_guardianship
):
    client = logged_in(professional)
    usager = usager_under_guardianship
    page = f"/usagers/{usager.id}"
    fields = usager_fields(usager.establishment, local_id="DUI-9999")
    response = client.post(f"/usagers/{usager.id}/edit", data={**fields, "csrf_token": csrf_token(client, page)})
    assert response.status_code == 403
    db.expire_all()
    assert usager.local_id == "DUI-0001"


def test_edit_form_shows_the_record_with_its_representatives(logged_in, reception, usager_under_guardianship):
    response = logged_in(reception).get(f"/usagers/{usager_under_guardianship.id}/edit")
    page = response.get_data(as_text=True)
    assert 'name="representatives-0-last_name"' in page and 'value="Bernard"' in page
    assert '<option selected value="tuteur">' in page
    assert 'name="establishment_id"' not in page
