"""The import pages: upload, dry run, import; the file kept server-side; who may import where."""

import io

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from notices import import_views, importer
from notices.models import Usager
from portal.models import AuditEvent, Establishment, Role
from tests.conftest import csrf_token, login, text
from tests.notices.dui_files import QUALIFIED, bundle, csv_file, patient

IMPORT = "/usagers/import"
REPORT = "/usagers/import/report"


def upload(client, data: bytes, filename: str = "export.csv", **fields):
    form = {"file": (io.BytesIO(data), filename), "csrf_token": csrf_token(client, IMPORT), **fields}
    return client.post(IMPORT, data=form, content_type="multipart/form-data")


def confirm(client):
    return client.post(REPORT, data={"csrf_token": csrf_token(client, IMPORT)})


def local_ids(db) -> list[str]:
    db.expire_all()
    return sorted(db.scalars(select(Usager.local_id)))


def test_reception_checks_a_file_then_imports_it(db, logged_in, reception):
    client = logged_in(reception)
    assert f'href="{IMPORT}"' in client.get("/usagers").get_data(as_text=True)
    page = client.get(IMPORT)
    assert page.status_code == 200 and 'name="establishment_id"' not in page.get_data(as_text=True)

    data = csv_file({"identifiant_dui": "DUI-1", "nom_naissance": "Lefèvre", **QUALIFIED},
                    {"identifiant_dui": "DUI-2", "sexe": "X"}, encoding="cp1252")  # fmt: skip
    response = upload(client, data)
    # The file stays on the server: the next page is named by its path alone.
    assert (response.status_code, response.location) == (302, REPORT)

    preview = text(client.get(REPORT))
    assert "Ce que l'import fera" in preview and "Windows-1252" in preview and "point-virgule" in preview
    assert "export.csv" in preview and "EHPAD Les Tilleuls" in preview
    assert "Valeur inconnue ; valeurs possibles : F, M." in preview and "sexe" in preview
    assert local_ids(db) == []

    done = confirm(client)
    assert done.status_code == 200 and "Import terminé" in text(done)
    assert local_ids(db) == ["DUI-1"]
    # Confirming twice imports nothing twice: the file was let go.
    again = confirm(client)
    assert (again.status_code, again.location) == (302, IMPORT)
    assert "Aucun fichier en attente" in text(client.get(IMPORT))


def test_a_fhir_bundle_is_recognised_by_its_content(db, logged_in, reception):
    client = logged_in(reception)
    upload(client, bundle(patient("DUI-7")), filename="patients.txt")
    assert "FHIR R4, Bundle de ressources Patient" in text(client.get(REPORT))
    confirm(client)
    assert local_ids(db) == ["DUI-7"]


def test_an_unreadable_file_is_refused_on_the_form(db, logged_in, reception):
    client = logged_in(reception)
    response = upload(client, b'{"resourceType": "Patient"}', filename="patient.json")
    assert response.status_code == 200
    assert "Ce JSON n'est pas un Bundle FHIR" in text(response)
    assert client.get(REPORT).location == IMPORT


def test_a_file_is_required(logged_in, reception):
    client = logged_in(reception)
    response = client.post(IMPORT, data={"csrf_token": csrf_token(client, IMPORT)}, content_type="multipart/form-data")
    assert "Choisissez le fichier à importer." in text(response)


def test_an_oversized_upload_is_refused_before_it_is_read(logged_in, reception, monkeypatch):
    client = logged_in(reception)
    monkeypatch.setattr(import_views, "UPLOAD_LIMIT", 1000)
    response = upload(client, b"x" * 2000)
    assert response.status_code == 413
    assert f"Le fichier dépasse {importer.MAX_BYTES // (1024 * 1024)} Mo." in text(response)


def test_someone_in_several_establishments_chooses_where_to_import(db, logged_in, make_user, establishment):
    other = Establishment(finess="720000002", name="SSIAD du Mans", city="Le Mans", postal_code="72000")
    db.add(other)
    officer = make_user("accueil2@tilleuls.test.mssante.fr", Role.RECEPTION, establishments=[establishment, other])
    client = logged_in(officer)
    assert "SSIAD du Mans" in text(client.get(IMPORT))
    upload(client, csv_file({"identifiant_dui": "DUI-9"}), establishment_id=str(other.id))
    assert "SSIAD du Mans" in text(client.get(REPORT))
    confirm(client)
    assert db.scalar(select(Usager.establishment_id).where(Usager.local_id == "DUI-9")) == other.id


def test_reception_of_another_establishment_cannot_import_there(db, logged_in, other_reception, establishment):
    elsewhere = other_reception.establishments[0]
    second = Establishment(finess="690000004", name="FAM Les Pins", city="Lyon", postal_code="69003")
    db.add(second)
    other_reception.establishments.append(second)
    db.commit()
    client = logged_in(other_reception)
    response = upload(client, csv_file({}), establishment_id=str(establishment.id))
    assert response.status_code == 200 and "N'est pas un choix valide" in text(response)
    assert client.get(REPORT).location == IMPORT
    assert local_ids(db) == [] and elsewhere.id != establishment.id


def test_a_waiting_file_is_only_its_uploaders_even_with_its_key(app, db, logged_in, reception, administrator):
    client = logged_in(reception)
    upload(client, csv_file({}))
    with client.session_transaction() as session:
        key = session["usager_import"]
    other = app.test_client()
    login(other, administrator, db)
    with other.session_transaction() as session:
        session["usager_import"] = key
    assert other.get(REPORT).location == IMPORT
    assert other.post(REPORT, data={"csrf_token": csrf_token(other, IMPORT)}).location == IMPORT
    assert local_ids(db) == []
    assert client.get(REPORT).status_code == 200


@pytest.mark.parametrize(("method", "path"), [("get", IMPORT), ("post", IMPORT), ("get", REPORT),
                                              ("post", REPORT), ("get", "/usagers/import/modele.csv")])  # fmt: skip
def test_a_professional_may_not_import(db, logged_in, professional, method, path):
    client = logged_in(professional)
    data = {"csrf_token": csrf_token(client, "/")}
    response = client.get(path) if method == "get" else client.post(path, data=data)
    assert response.status_code in (403, 302)
    if response.status_code == 302:  # no file waiting: sent to the import page, which refuses
        assert client.get(response.location).status_code == 403
    assert f'href="{IMPORT}"' not in client.get("/usagers").get_data(as_text=True)
    assert local_ids(db) == []


def test_a_failed_import_saves_nothing_and_keeps_the_file_for_another_try(app, db, logged_in, reception):
    client = logged_in(reception)
    upload(client, csv_file({"identifiant_dui": "A"}, {"identifiant_dui": "B"}))
    engine = app.extensions["database"].engine

    def fail_on_second_insert(_conn, _cursor, statement, parameters, *_args):
        if statement.startswith("INSERT INTO usagers") and "B" in str(parameters):
            raise OperationalError(statement, {}, Exception("server closed the connection"))

    token = csrf_token(client, IMPORT)
    event.listen(engine, "before_cursor_execute", fail_on_second_insert)
    try:
        response = client.post(REPORT, data={"csrf_token": token})
    finally:
        event.remove(engine, "before_cursor_execute", fail_on_second_insert)
    assert (response.status_code, response.location) == (302, REPORT)
    page = text(client.get(REPORT))
    assert "La base de données a refusé l'import : rien n'a été enregistré." in page
    assert local_ids(db) == []
    confirm(client)
    assert local_ids(db) == ["A", "B"]
    outcomes = db.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "notices.usager_import")).all()
    assert outcomes == ["failure", "success"]


def test_the_csv_template_reads_back_without_warnings(logged_in, reception):
    response = logged_in(reception).get("/usagers/import/modele.csv")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="usagers-modele.csv"'
    assert response.data.startswith(b"\xef\xbb\xbfidentifiant_dui;ins;statut_identite;")
    reading = importer.read(response.data)
    assert (reading.records, reading.warnings, reading.delimiter) == ([], [], ";")


def test_import_pages_keep_no_copy(logged_in, reception):
    client = logged_in(reception)
    upload(client, csv_file({}))
    for path in (IMPORT, REPORT):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store"
        assert 'hx-history="false"' in response.get_data(as_text=True)
