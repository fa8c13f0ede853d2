"""The demo annuaire: the correspondents of the demo mail are national entries, found as users would look for them."""

from portal.annuaire import demo as annuaire_demo
from portal.annuaire import service
from portal.demo import CARDIO, CORRESPONDENTS, GENERALISTE
from tests.conftest import text


def test_the_demo_annuaire_imports_both_files_without_a_rejected_line(app, db, tmp_path):
    with app.app_context():
        jobs = annuaire_demo.seed(db, tmp_path)
    assert [(job.kind, job.status, job.rejected_count) for job in jobs] == [("rpps", "done", 0), ("mssante", "done", 0)]
    assert jobs[1].created > len(CORRESPONDENTS) + 150


def test_every_correspondent_of_the_demo_mail_has_an_entry_with_its_structure(app, db, tmp_path):
    with app.app_context():
        annuaire_demo.seed(db, tmp_path)
        entries = {correspondent: service.entry(db, correspondent.address) for correspondent in CORRESPONDENTS}
    assert {c.address: (e.bal_type, e.structure_name) for c, e in entries.items()} == {
        c.address: (c.bal_type, c.structure) for c in CORRESPONDENTS
    }


def test_a_correspondent_is_found_by_name_and_by_specialty_with_the_rpps_details(app, db, tmp_path):
    with app.app_context():
        annuaire_demo.seed(db, tmp_path)
        by_name = service.search("lefort")
        by_specialty = service.search("cardio le mans")
    assert by_name[0].address == GENERALISTE.address
    assert by_name[0].professional.specialty == "Médecine générale"
    assert CARDIO.address in [entry.address for entry in by_specialty]


def test_an_entry_page_writes_the_civilite_d_exercice_as_before_a_name(app, db, tmp_path, logged_in, professional):
    with app.app_context():
        annuaire_demo.seed(db, tmp_path)
    page = text(logged_in(professional).get(f"/annuaire/{GENERALISTE.address}"))
    assert "<h1>Dr Marc LEFORT</h1>" in page
