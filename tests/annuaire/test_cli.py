"""The `portal annuaire` commands."""

import json

from portal.cli import main


def test_import_then_search_from_the_command_line(app, db, mssante_file):
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["annuaire", "import", str(mssante_file)])
    assert result.exit_code == 0, result.output
    assert "7 créées" in result.output and "lignes/s" in result.output
    result = runner.invoke(main, ["annuaire", "search", "dupont cardio lyon", "--json"])
    assert [e["address"] for e in json.loads(result.output)] == ["jean.dupont@medecin.mssante.fr"]


def test_failed_import_exits_with_an_error(app, db, tmp_path):
    missing = tmp_path / "absent.txt"
    result = app.test_cli_runner().invoke(main, ["annuaire", "import", str(missing)])
    assert result.exit_code == 1 and "Échec de l'import" in result.output
