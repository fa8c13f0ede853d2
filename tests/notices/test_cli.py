"""`portal notices plan`: JSON facts in, JSON plan out, clear errors."""

import json

from portal.cli import main

MINOR = {
    "birth_date": "2012-09-01",
    "today": "2025-03-15",
    "protection": "none",
    "ins_status": "qualifiee",
    "email": False,
    "postal": True,
    "representatives": [{"role": "parent", "email": True, "postal": False}],
}
ADULT = {**MINOR, "birth_date": "1950-06-01", "representatives": []}


def run(app, stdin: str):
    return app.test_cli_runner().invoke(main, ["notices", "plan"], input=stdin)


def test_one_object_gives_one_plan(app):
    result = run(app, json.dumps(MINOR))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "addressees": [
            {"who": "usager", "index": None, "variant": "facile_a_lire",
             "channels": ["mssante", "courrier", "remise_en_main_propre"], "may_oppose": False},
            {"who": "representative", "index": 0, "variant": "parents",
             "channels": ["email", "remise_en_main_propre"], "may_oppose": True},
        ]
    }  # fmt: skip


def test_a_list_gives_a_list_of_plans(app):
    result = run(app, json.dumps([MINOR, ADULT]))
    assert result.exit_code == 0, result.output
    plans = json.loads(result.stdout)
    assert [[a["variant"] for a in p["addressees"]] for p in plans] == [["facile_a_lire", "parents"], ["usager"]]


def test_invalid_value_names_the_field_and_exits_2(app):
    result = run(app, json.dumps([ADULT, {**ADULT, "ins_status": "certifiee"}]))
    assert result.exit_code == 2
    assert "[1].ins_status" in result.stderr and result.stdout == ""


def test_missing_and_unknown_fields_are_named(app):
    missing = {key: value for key, value in ADULT.items() if key != "postal"}
    assert "postal : champ obligatoire manquant" in run(app, json.dumps(missing)).stderr
    assert "adresse : champ inconnu" in run(app, json.dumps({**ADULT, "adresse": True})).stderr


def test_wrong_type_is_refused(app):
    result = run(app, json.dumps({**ADULT, "email": "oui"}))
    assert result.exit_code == 2 and "email : true ou false" in result.stderr


def test_malformed_json_is_refused(app):
    result = run(app, "{not json")
    assert result.exit_code == 2 and "JSON invalide" in result.stderr


def test_render_sample_writes_each_format(app):
    runner = app.test_cli_runner()
    pdf = runner.invoke(main, ["notices", "render-sample", "--variant", "parents", "--format", "pdf"])
    assert pdf.exit_code == 0, pdf.output
    assert pdf.stdout_bytes.startswith(b"%PDF-")
    text = runner.invoke(main, ["notices", "render-sample", "--variant", "facile_a_lire", "--format", "txt"]).stdout
    assert "Ce courrier parle de vos documents de santé." in text
    html = runner.invoke(main, ["notices", "render-sample", "--format", "html"]).stdout
    assert html.startswith("<!doctype html>") and "<h2>Vos droits</h2>" in html
    eml = runner.invoke(main, ["notices", "render-sample", "--variant", "representant", "--format", "eml", "--curator"])
    assert b"multipart/alternative" in eml.stdout_bytes and b"X-MSS" not in eml.stdout_bytes


def test_render_sample_refuses_an_unknown_variant(app):
    result = app.test_cli_runner().invoke(main, ["notices", "render-sample", "--variant", "affiche"])
    assert result.exit_code == 2 and "affiche" in result.output
