"""Importing the ANS files: reading by header name, reporting bad lines, syncing, failing safely."""

import zipfile

from sqlalchemy import func, select, update

from portal.annuaire import service, sync
from portal.annuaire.models import Domain, Entry, Import, Professional
from portal.models import AuditEvent
from tests.annuaire.conftest import BASE_LINES, MSSANTE_HEADER, RPPS_HEADER, mssante_line, rpps_line, write


def addresses(db) -> list[str]:
    return sorted(db.scalars(select(Entry.address)))


def test_extraction_with_bom_and_crlf_loads_and_reports_bad_lines(db, tmp_path):
    lines = [*BASE_LINES[:2], "PER|trop|peu|de|colonnes", mssante_line("sans-arobase", last="X"), BASE_LINES[0]]
    path = write(tmp_path / "Extraction_Correspondance_MSSante_1.txt", MSSANTE_HEADER, lines, bom=True, crlf=True)
    job = service.import_file(db, None, str(path))
    assert (job.status, job.kind, job.created, job.merged, job.rejected_count) == ("done", "mssante", 2, 1, 2)
    assert [r["line"] for r in job.rejected] == [4, 5]
    assert "colonnes" in job.rejected[0]["reason"] and "adresse" in job.rejected[1]["reason"]
    assert addresses(db) == ["jean.dupont@medecin.mssante.fr", "marie.dupont@infirmier.mssante.fr"]
    assert db.scalar(select(Entry).where(Entry.last_name == "DUPONT", Entry.first_name == "Jean")).city == "LYON"


def test_columns_are_read_by_name_whatever_their_order(db, tmp_path):
    order = list(reversed(range(len(MSSANTE_HEADER))))
    header = [MSSANTE_HEADER[i] for i in order]
    lines = ["|".join(line.split("|")[i] for i in order) for line in BASE_LINES[:1]]
    service.import_file(db, None, str(write(tmp_path / "Extraction_Correspondance_MSSante_1.txt", header, lines)))
    assert db.scalar(select(Entry.specialty)) == "Cardiologie"


def test_reimport_is_a_sync_reporting_created_updated_removed(db, tmp_path):
    first = write(tmp_path / "Extraction_Correspondance_MSSante_1.txt", MSSANTE_HEADER, BASE_LINES)
    service.import_file(db, None, str(first))
    changed = BASE_LINES[0].replace("Clinique du Parc", "Clinique des Monts")
    newer = [changed, *BASE_LINES[2:], mssante_line("nouvelle@ehpad.mssante.fr", bal="ORG", structure="EHPAD Neuf")]
    job = service.import_file(db, None, str(write(tmp_path / "Extraction_Correspondance_MSSante_2.txt", MSSANTE_HEADER, newer)))
    assert (job.created, job.updated, job.removed) == (1, 1, 1)
    assert service.entry(db, "jean.dupont@medecin.mssante.fr").structure_name == "Clinique des Monts"
    assert "marie.dupont@infirmier.mssante.fr" not in addresses(db)
    assert [e.address for e in service.find(db, "monts")] == ["jean.dupont@medecin.mssante.fr"]
    assert service.find(db, "parc") == []


def test_unchanged_reimport_reports_nothing_and_writes_nothing(db, tmp_path):
    path = write(tmp_path / "Extraction_Correspondance_MSSante_1.txt", MSSANTE_HEADER, BASE_LINES)
    service.import_file(db, None, str(path))
    # A mark where the file has no say (the RPPS words): a rebuilt table would not keep it.
    db.execute(update(Entry).where(Entry.address == "luc.dupond@medecin.mssante.fr").values(rpps_text="marque"))
    job = service.import_file(db, None, str(path))
    assert (job.status, job.created, job.updated, job.removed) == ("done", 0, 0, 0)
    assert service.entry(db, "luc.dupond@medecin.mssante.fr").rpps_text == "marque"


def test_failed_import_leaves_the_previous_data_and_says_why(db, tmp_path, monkeypatch):
    service.import_file(db, None, str(write(tmp_path / "Extraction_Correspondance_MSSante_1.txt", MSSANTE_HEADER, BASE_LINES)))
    before = addresses(db)

    def broken_merge(db, report):
        db.execute(Entry.__table__.delete())  # half done...
        raise RuntimeError("disque plein")

    monkeypatch.setitem(service.MERGES, "mssante", broken_merge)
    job = service.import_file(db, None, str(write(tmp_path / "Extraction_Correspondance_MSSante_2.txt", MSSANTE_HEADER, BASE_LINES[:1])))
    assert (job.status, job.error) == ("failed", "disque plein")
    assert addresses(db) == before
    assert [e.address for e in service.find(db, "lefevre")] == ["helene.lefevre@ch-lemans.mssante.fr"]
    event = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.outcome, event.actor_label) == ("annuaire.import", "failure", "ligne de commande")


def test_unknown_file_fails_without_touching_the_annuaire(annuaire, tmp_path):
    path = tmp_path / "autre.txt"
    path.write_text("a|b|c\n1|2|3\n")
    job = service.import_file(annuaire, None, str(path))
    assert job.status == "failed" and "en-tête" in job.error
    assert len(addresses(annuaire)) == len(BASE_LINES)


def test_zipped_extraction_is_read(db, tmp_path):
    text = write(tmp_path / "Extraction_Correspondance_MSSante_1.txt", MSSANTE_HEADER, BASE_LINES)
    archive = tmp_path / "Extraction_Correspondance_MSSante_1.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(text, text.name)
    job = service.import_file(db, None, str(archive))
    assert (job.status, job.created, job.source) == ("done", len(BASE_LINES), str(archive))


def test_every_import_is_audited_with_its_counts(annuaire):
    events = annuaire.scalars(select(AuditEvent).where(AuditEvent.action == "annuaire.import").order_by(AuditEvent.id)).all()
    assert [(e.outcome, e.detail["kind"], e.detail["created"]) for e in events] == [
        ("success", "rpps", 2), ("success", "mssante", len(BASE_LINES))
    ]


def test_rpps_activities_complete_entries_whatever_the_import_order(db, tmp_path, mssante_file):
    service.import_file(db, None, str(mssante_file))
    lines = [rpps_line("810000000005", "10", "SM04", "Cardiologie et maladies vasculaires", "S", "CH du Mans", "72000", "Le Mans")]
    rpps = write(tmp_path / "PS_LibreAcces_Personne_activite_1.txt", RPPS_HEADER, lines, trailing="|")
    job = service.import_file(db, None, str(rpps))
    assert (job.status, job.kind, job.created) == ("done", "rpps", 1)
    found = service.find(db, "lefevre cardio")
    assert [e.address for e in found] == ["helene.lefevre@ch-lemans.mssante.fr"]
    assert found[0].professional.profession == "Médecin"
    assert service.find(db, "lefevre", service.Filters(profession="10")) == found


def test_an_rpps_import_that_changes_many_entries_leaves_them_ranked_and_searchable(db, tmp_path, mssante_file):
    service.import_file(db, None, str(mssante_file))
    ranks = db.execute(select(Entry.rank, Entry.address).order_by(Entry.rank)).all()
    lines = [rpps_line(f"81000000000{i}", "10", "SM30", "Gériatrie", "L", "Cabinet", "69003", "Lyon") for i in (1, 2, 3, 4)]
    path = write(tmp_path / "PS_LibreAcces_Personne_activite_1.txt", RPPS_HEADER, lines, trailing="|")
    assert service.import_file(db, None, str(path)).created == 4  # 4 of 7 entries change: built anew
    assert db.execute(select(Entry.rank, Entry.address).order_by(Entry.rank)).all() == ranks
    assert [e.address for e in service.find(db, "geriatrie")] == [
        "luc.dupond@medecin.mssante.fr", "jean.dupont@medecin.mssante.fr", "marie.dupont@infirmier.mssante.fr",
        "paul.dupontel@medecin.mssante.fr",
    ]  # fmt: skip
    assert [e.address for e in service.find(db, "dupont geriatrie lyon")] == [
        "jean.dupont@medecin.mssante.fr", "marie.dupont@infirmier.mssante.fr", "paul.dupontel@medecin.mssante.fr",
        "luc.dupond@medecin.mssante.fr",
    ]  # fmt: skip


def test_a_professional_is_summed_up_by_the_first_activity_naming_a_specialty(db, tmp_path):
    lines = [
        rpps_line("810000000041", "60", "", "", "S", "EHPAD Les Tilleuls", "72000", "Le Mans"),
        rpps_line("810000000042", "93", "", "", "L", "Cabinet", "13001", "Marseille"),
        rpps_line("810000000041", "10", "SM54", "Pédiatrie", "L", "Cabinet des Enfants", "72000", "Le Mans"),
        rpps_line("810000000041", "10", "SM04", "Cardiologie", "S", "CH du Mans", "72000", "Le Mans"),
    ]
    path = write(tmp_path / "PS_LibreAcces_Personne_activite_1.txt", RPPS_HEADER, lines, trailing="|")
    service.import_file(db, None, str(path))
    summary = db.get(Professional, "810000000041")
    assert (summary.profession, summary.specialty) == ("Médecin", "Pédiatrie")
    assert set(summary.words.split()) >= {"infirmier", "ehpad", "tilleuls", "pediatrie", "enfants", "cardiologie", "ch"}
    assert db.get(Professional, "810000000042").profession == "Psychologue"


def test_rpps_reimport_reports_professionals_created_updated_removed(annuaire, tmp_path):
    lines = [
        rpps_line("810000000005", "10", "SM04", "Cardiologie", "L", "Cabinet", "72000", "Le Mans"),
        rpps_line("810000000077", "60", "", "", "S", "EHPAD", "72000", "Le Mans"),
    ]
    job = service.import_file(annuaire, None, str(write(tmp_path / "PS_LibreAcces_Personne_activite_2.txt", RPPS_HEADER, lines, trailing="|")))
    assert (job.created, job.updated, job.removed) == (1, 1, 1)
    assert service.find(annuaire, "lefevre vasculaires") == []


def test_domain_list_import_syncs_the_trust_space(db, tmp_path):
    def liste(*names):
        domains = "".join(
            f"<Domaine><Nom>{n}</Nom><Description>Opérateur</Description><DNCertificatOperateur>CN=op</DNCertificatOperateur>"
            f"<DateMAJ>2026-01-01</DateMAJ></Domaine>"
            for n in names
        )
        path = tmp_path / "listeblanchemssante.xml"
        path.write_text(f'<?xml version="1.0" encoding="UTF-8"?><ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema">'
                        f"<ListeDomaines>{domains}</ListeDomaines></ListeBlancheMSSante>")
        return str(path)

    job = service.import_domains(db, None, liste("medecin.mssante.fr", "ch-lemans.mssante.fr"))
    assert (job.status, job.created) == ("done", 2)
    job = service.import_domains(db, None, liste("Medecin.mssante.fr", "patient.mssante.fr"))
    assert (job.created, job.removed, job.updated) == (1, 1, 0)
    assert sorted(db.scalars(select(Domain.name))) == ["medecin.mssante.fr", "patient.mssante.fr"]
    assert db.scalar(select(Import.kind).order_by(Import.id.desc())) == "domains"


def test_staging_keeps_only_the_first_line_of_a_repeated_address(db):
    report = sync.stage(db, ("address",), iter([(1, "a@x.fr"), (2, "a@x.fr")]), lambda rows: None)
    assert (report.rows, report.merged) == (2, 1)


def test_a_reimport_ranks_and_searches_as_a_fresh_load_would(db, tmp_path):
    """Renamed, moved, removed and new entries: the rebuilt table answers as if the newer file were the first."""
    base = [
        mssante_line(f"p{i}@medecin.mssante.fr", last=f"NOM{i:02d}", first="Jean", national_id=f"8100000001{i:02d}",
                     profession="10", postal_code="69003", city="Lyon", department="69")
        for i in range(0, 60, 2)
    ]  # fmt: skip
    path = lambda name, lines: str(write(tmp_path / f"Extraction_Correspondance_MSSante_{name}.txt", MSSANTE_HEADER, lines))  # noqa: E731
    service.import_file(db, None, path("1", base))
    changed = [
        *base[:5], base[5].replace("NOM10", "NOM31"),  # renamed: a new rank
        *base[7:20], base[20].replace("Lyon", "Nantes").replace("LYON", "NANTES"),  # new words, same rank
        *base[21:],  # base[6] removed
        mssante_line("p99@medecin.mssante.fr", last="NOM13", first="Anne", postal_code="69003", city="Lyon"),
        mssante_line("p98@medecin.mssante.fr", last="NOM13", first="Zoé", postal_code="44000", city="Nantes"),
    ]  # fmt: skip
    job = service.import_file(db, None, path("2", changed))
    assert (job.created, job.updated, job.removed) == (2, 2, 1)
    queries = ["nom", "nom1", "nom13", "lyon", "nantes", "jean lyon", "nom nantes", "anne", "nom31 lyon", "nom12"]
    synced = {q: [e.address for e in service.find(db, q, limit=100)] for q in queries}
    keys = db.execute(select(Entry.name_key, Entry.first_key).order_by(Entry.rank)).all()
    assert keys == sorted(keys) and db.scalars(select(Entry.rank).order_by(Entry.rank)).all() == list(range(1, 32))
    assert synced["nom13"][:3] == ["p99@medecin.mssante.fr", "p98@medecin.mssante.fr", "p14@medecin.mssante.fr"]
    service.import_file(db, None, path("3", []))  # empties the annuaire...
    assert db.scalar(select(func.count()).select_from(Entry)) == 0 and service.find(db, "nom") == []
    service.import_file(db, None, path("4", changed))  # ...so that this is a first load
    assert {q: [e.address for e in service.find(db, q, limit=100)] for q in queries} == synced
    assert synced["nantes"] == ["p98@medecin.mssante.fr", "p40@medecin.mssante.fr"]
    assert "p12@medecin.mssante.fr" not in synced["nom"] and synced["nom31 lyon"][0] == "p10@medecin.mssante.fr"
