"""`portal notices import`: the same report as the page, a dry run, and exit statuses scripts can rely on."""

from sqlalchemy import select

from notices.models import Usager
from portal.cli import main
from portal.models import AuditEvent
from tests.notices.dui_files import bundle, csv_file, patient


def run(app, *args: str):
    return app.test_cli_runner().invoke(main, ["notices", "import", *args])


def local_ids(db) -> list[str]:
    db.expire_all()
    return sorted(db.scalars(select(Usager.local_id)))


def test_dry_run_prints_the_report_and_saves_nothing(app, db, establishment, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(csv_file({"identifiant_dui": "A", "nom_naissance": "Lefèvre"}, encoding="cp1252"))
    result = run(app, str(path), "--establishment", establishment.finess, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Fichier CSV, encodage Windows-1252 (export Windows ou Excel), séparateur point-virgule.",
        "EHPAD Les Tilleuls (720000001) : usagers dans le fichier 1, créés 1, mis à jour 0, inchangés 0, rejetés 0.",
        "Essai à blanc : rien n'a été enregistré.",
    ]
    assert local_ids(db) == []


def test_rejected_rows_are_listed_the_others_imported_and_the_exit_status_is_3(app, db, establishment, tmp_path):
    path = tmp_path / "patients.json"
    path.write_bytes(bundle(patient("A"), patient("B", gender="unknown")))
    result = run(app, str(path), "--establishment", establishment.finess)
    assert result.exit_code == 3
    assert "usagers dans le fichier 2, créés 1, mis à jour 0, inchangés 0, rejetés 1." in result.output
    assert "Rejeté, entrée 1 : gender : Sexe : female ou male attendu (trait INS)." in result.output
    assert local_ids(db) == ["A"]
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "notices.usager_import"))
    assert (audit.actor_id, audit.actor_label, audit.detail["created"]) == (None, "ligne de commande", 1)


def test_an_unreadable_file_imports_nothing_and_exits_1(app, db, establishment, tmp_path):
    path = tmp_path / "patient.json"
    path.write_text('{"resourceType": "Patient"}')
    result = run(app, str(path), "--establishment", establishment.finess)
    assert result.exit_code == 1
    assert "fichier refusé, rien n'a été importé : Ce JSON n'est pas un Bundle FHIR" in result.output
    assert local_ids(db) == []


def test_an_unknown_establishment_is_a_usage_error(app, db, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(csv_file({}))
    result = run(app, str(path), "--establishment", "999999999")
    assert result.exit_code == 2 and "aucun établissement n'a le FINESS 999999999" in result.output
    assert local_ids(db) == []
