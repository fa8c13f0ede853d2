"""Importing a DUI's CSV export: encodings and separators, every reason to reject a row, matching, one transaction."""

from datetime import date

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from notices import import_service, importer, service
from notices.models import IdentityStatus, Protection, Representative, RepresentativeRole, Sex, Usager
from portal.access import PermissionDenied
from portal.models import AuditEvent
from portal.settings import ROOT
from tests.notices.dui_files import NIR, OTHER_NIR, QUALIFIED, csv_file


def usagers(db) -> dict[str, Usager]:
    db.expire_all()
    return {u.local_id: u for u in db.scalars(select(Usager))}


def problems(report) -> list[tuple[int, str, str]]:
    return [(row.position, p.field, str(p.reason)) for row in report.rejected for p in row.problems]


def test_good_file_creates_usagers_with_their_representatives(db, import_dui):
    guardian = {
        "protection": "representation_personne", "representant1_role": "tuteur", "representant1_nom": "Durand",
        "representant1_prenoms": "Jacques", "representant1_email": "jacques.durand@example.org",
        "representant1_type_mesure": "tutelle", "representant1_date_jugement": "10/05/2023",
    }  # fmt: skip
    report = import_dui(csv_file(
        {"identifiant_dui": "DUI-0042", "nom_naissance": "Durand", "prenoms_naissance": "Marie Jeanne",
         "date_naissance": "20/08/1955", "date_admission": "02/11/2024", "adresse1": "1 rue des Lilas",
         "code_postal": "72000", "ville": "Le Mans", **QUALIFIED, "ins": "2 55 08 14 168 025 38", **guardian},
        {"identifiant_dui": "DUI-0043", "sexe": "M", "nom_naissance": "Petit", "prenoms_naissance": "Louis"},
    ))  # fmt: skip

    assert (report.format, report.rows, report.created, report.updated, report.rejected) == ("csv", 2, 2, 0, [])
    stored = usagers(db)
    marie = stored["DUI-0042"]
    assert (marie.ins, marie.identity_status, marie.birth_date, marie.admission_date, marie.protection) == (
        NIR, IdentityStatus.QUALIFIEE, date(1955, 8, 20), date(2024, 11, 2), Protection.REPRESENTATION_PERSONNE,
    )  # fmt: skip
    assert (marie.birth_place_code, marie.postal_code, marie.city) == ("14168", "72000", "Le Mans")
    assert [(r.role, r.last_name, r.email, r.judgment_type, r.judgment_date) for r in marie.representatives] == [
        (RepresentativeRole.TUTEUR, "Durand", "jacques.durand@example.org", "tutelle", date(2023, 5, 10))
    ]
    louis = stored["DUI-0043"]
    assert (louis.sex, louis.ins, louis.protection, louis.representatives) == (Sex.M, None, Protection.NONE, [])


def test_preview_saves_nothing_and_counts_what_the_import_will_do(db, import_dui):
    data = csv_file({"identifiant_dui": "A"}, {"identifiant_dui": "B"}, {"identifiant_dui": "C", "sexe": "X"})
    preview = import_dui(data, apply=False)
    assert (preview.applied, preview.created, len(preview.rejected)) == (False, 2, 1)
    assert usagers(db) == {}
    done = import_dui(data)
    assert (done.applied, done.created, len(done.rejected)) == (True, 2, 1)
    assert sorted(usagers(db)) == ["A", "B"]


def test_windows_1252_with_semicolons_is_detected_and_read(db, import_dui):
    data = csv_file({"nom_naissance": "Lefèvre", "prenoms_naissance": "Hélène Bérénice", "ville": "Sablé-sur-Sarthe"},
                    encoding="cp1252")  # fmt: skip
    report = import_dui(data)
    assert (report.encoding, report.delimiter, report.created) == ("cp1252", ";", 1)
    usager = usagers(db)["DUI-0001"]
    assert (usager.birth_name, usager.birth_first_names, usager.city) == (
        "Lefèvre",
        "Hélène Bérénice",
        "Sablé-sur-Sarthe",
    )


def test_utf8_with_bom_commas_and_iso_dates(db, import_dui):
    data = csv_file({"prenoms_naissance": "Zoé", "date_naissance": "1940-08-14"}, delimiter=",", encoding="utf-8-sig")
    report = import_dui(data)
    assert (report.encoding, report.delimiter, report.created) == ("utf-8-sig", ",", 1)
    usager = usagers(db)["DUI-0001"]
    assert (usager.birth_first_names, usager.birth_date) == ("Zoé", date(1940, 8, 14))


def test_columns_are_found_by_name_whatever_their_order_case_and_accents(db, import_dui):
    header = "Sexe;Prénoms naissance;Date-Naissance;NOM_NAISSANCE;statut_identité;Identifiant DUI"
    data = f"{header}\r\nF;Anne;01/02/1950;Roux;Provisoire;X1\r\n"
    report = import_dui(data.encode())
    assert (report.created, report.warnings) == (1, [])
    assert usagers(db)["X1"].birth_name == "Roux"


def test_unknown_columns_are_reported_and_ignored(db, import_dui):
    data = csv_file({"nom_usage": "Dupont"}, columns=[*importer.REQUIRED_COLUMNS, "nom_usage", "prenom_usage"])
    report = import_dui(data)
    assert report.warnings == ["Colonnes inconnues, ignorées : nom_usage, prenom_usage."]
    assert report.created == 1


BAD_ROWS = [
    ({"identifiant_dui": ""}, "identifiant_dui", "Saisissez l'identifiant du dossier usager."),
    ({"statut_identite": "certifiee"}, "statut_identite", "Valeur inconnue ; valeurs possibles : provisoire, recup"),
    ({"statut_identite": ""}, "statut_identite", "Valeur manquante ; valeurs possibles"),
    ({**QUALIFIED, "ins": NIR[:13] + "39"}, "ins", "La clé du matricule INS ne correspond pas"),
    ({**QUALIFIED, "ins": "2550814168"}, "ins", "Le matricule INS compte 15 caractères"),
    ({**QUALIFIED, "ins": "355081416802538"}, "ins", "commence par 1 ou 2 (NIR), ou par 7 ou 8"),
    ({**QUALIFIED, "ins": ""}, "ins", "Une identité récupérée ou qualifiée a un matricule INS."),
    ({"statut_identite": "recuperee", "ins": NIR}, "code_lieu_naissance", "Le lieu de naissance est un trait INS"),
    ({"code_lieu_naissance": "1416"}, "code_lieu_naissance", "Le code INSEE compte 5 caractères"),
    ({"nom_naissance": ""}, "nom_naissance", "Saisissez le nom de naissance."),
    ({"nom_naissance": "x" * 101}, "nom_naissance", "100 caractères au plus."),
    ({"prenoms_naissance": ""}, "prenoms_naissance", "Saisissez les prénoms de naissance."),
    ({"date_naissance": "31/02/1950"}, "date_naissance", "Date invalide : JJ/MM/AAAA ou AAAA-MM-JJ attendu."),
    ({"date_naissance": "14/08/40"}, "date_naissance", "Date invalide"),
    ({"date_naissance": ""}, "date_naissance", "Saisissez la date de naissance"),
    ({"date_admission": "demain"}, "date_admission", "Date invalide"),
    ({"sexe": "X"}, "sexe", "Valeur inconnue ; valeurs possibles : F, M."),
    ({"code_postal": "7200"}, "code_postal", "Le code postal compte 5 chiffres."),
    ({"email": "pas-une-adresse"}, "email", "Cette adresse e-mail n'est pas valide."),
    ({"protection": "tutelle"}, "protection", "Valeur inconnue ; valeurs possibles : aucune, curatelle"),
    ({"representant1_role": "oncle", "representant1_nom": "Petit"}, "representant1_role", "Valeur inconnue"),
    ({"representant1_role": "parent"}, "representant1_nom", "Nom du représentant manquant."),
    ({"representant1_nom": "Petit"}, "representant1_role", "Qualité du représentant manquante."),
    ({"representant1_role": "parent", "representant1_nom": "Petit", "representant1_email": "petit@"},
     "representant1_email", "Cette adresse e-mail n'est pas valide."),
    ({"representant1_role": "tuteur", "representant1_nom": "Petit", "representant1_date_jugement": "32/01/2020"},
     "representant1_date_jugement", "Date invalide"),
    ({"representant1_role": "parent", "representant1_nom": "Petit", "representant1_code_postal": "ABCDE"},
     "representant1_code_postal", "Le code postal compte 5 chiffres."),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "column", "reason"), BAD_ROWS, ids=[f"{c}:{r[:30]}" for _o, c, r in BAD_ROWS])
def test_a_bad_row_is_rejected_whole_with_its_reason_and_the_others_imported(db, import_dui, overrides, column, reason):
    report = import_dui(csv_file({"identifiant_dui": "DUI-BAD", **overrides}, {"identifiant_dui": "DUI-GOOD"}))
    assert [(position, field) for position, field, _reason in problems(report)] == [(2, column)]
    assert reason in problems(report)[0][2]
    assert report.rejected[0].where == "ligne 2"
    assert (report.created, sorted(usagers(db))) == (1, ["DUI-GOOD"])
    assert db.scalars(select(Representative)).all() == []


def test_a_line_with_too_many_or_too_few_values_is_rejected(db, import_dui):
    short = "B;;provisoire;Roux;Anne;01/02/1950"
    long = ";".join(["C", *["x"] * 30])
    data = csv_file({"identifiant_dui": "A"}).decode() + f"{short}\r\n{long}\r\n"
    report = import_dui(data.encode())
    assert [(p, f) for p, f, _r in problems(report)] == [(3, "toute la ligne"), (4, "toute la ligne")]
    assert "6 valeurs pour 27 colonnes" in problems(report)[0][2]
    assert sorted(usagers(db)) == ["A"]


def test_rows_sharing_an_id_or_a_matricule_are_all_rejected(db, import_dui):
    report = import_dui(csv_file(
        {"identifiant_dui": "A"}, {"identifiant_dui": "A", "nom_naissance": "Roux"},
        {"identifiant_dui": "B", **QUALIFIED}, {"identifiant_dui": "C", **QUALIFIED}, {"identifiant_dui": "D"},
    ))  # fmt: skip
    assert [(p, f) for p, f, _r in problems(report)] == [(2, "identifiant_dui"), (3, "identifiant_dui"),
                                                         (4, "ins"), (5, "ins")]  # fmt: skip
    assert "En double dans le fichier (voir aussi ligne 3)" in problems(report)[0][2]
    assert sorted(usagers(db)) == ["D"]


def test_updates_are_matched_by_local_id_then_by_ins(db, import_dui, make_usager):
    by_id = make_usager("DUI-1", birth_name="Durand")
    by_ins = make_usager("DUI-OLD", ins=NIR, identity_status=IdentityStatus.QUALIFIEE, birth_place_code="14168")
    same = make_usager("DUI-3")
    report = import_dui(csv_file(
        {"identifiant_dui": "DUI-1", "nom_naissance": "Durand", "ville": "Allonnes"},
        {"identifiant_dui": "DUI-NEW", **QUALIFIED},
        {"identifiant_dui": "DUI-3"},
    ))  # fmt: skip
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 2, 1, [])
    stored = usagers(db)
    assert sorted(stored) == ["DUI-1", "DUI-3", "DUI-NEW"]
    assert (stored["DUI-1"].id, stored["DUI-1"].city) == (by_id.id, "Allonnes")
    assert (stored["DUI-NEW"].id, stored["DUI-NEW"].ins) == (by_ins.id, NIR)
    assert stored["DUI-3"].id == same.id


def test_a_matricule_already_held_by_another_usager_is_rejected(db, import_dui, make_usager):
    make_usager("DUI-1")
    make_usager("DUI-2", ins=NIR, identity_status=IdentityStatus.QUALIFIEE, birth_place_code="14168")
    report = import_dui(csv_file({"identifiant_dui": "DUI-1", **QUALIFIED}))
    assert problems(report) == [(2, "ins", "Ce matricule INS est déjà celui d'un autre usager de l'établissement.")]
    assert usagers(db)["DUI-1"].ins is None


def test_two_rows_aiming_at_the_same_usager_are_both_rejected(db, import_dui, make_usager):
    make_usager("DUI-1", ins=NIR, identity_status=IdentityStatus.QUALIFIEE, birth_place_code="14168")
    report = import_dui(csv_file({"identifiant_dui": "DUI-1", "ins": OTHER_NIR, "statut_identite": "qualifiee",
                           "code_lieu_naissance": "75056"}, {"identifiant_dui": "DUI-9", **QUALIFIED}))  # fmt: skip
    assert [(p, f) for p, f, _r in problems(report)] == [(2, "identifiant_dui"), (3, "identifiant_dui")]
    assert "Vise le même dossier que ligne 3" in problems(report)[0][2]
    assert usagers(db)["DUI-1"].ins == NIR


def test_columns_absent_from_the_file_keep_the_stored_values(db, import_dui, usager_under_guardianship):
    usager = usager_under_guardianship
    columns = ["identifiant_dui", "ins", "statut_identite", "nom_naissance", "prenoms_naissance", "date_naissance",
               "sexe", "code_lieu_naissance"]  # fmt: skip
    report = import_dui(csv_file({**QUALIFIED}, columns=columns))
    assert (report.updated, report.unchanged) == (0, 1)
    db.expire_all()
    assert (usager.protection, usager.city, [r.last_name for r in usager.representatives]) == (
        Protection.REPRESENTATION_PERSONNE, "Le Mans", ["Bernard"],
    )  # fmt: skip


def test_reimport_keeps_the_record_of_a_listed_representative_and_removes_the_others(
    db, import_dui, usager_under_guardianship
):
    usager = usager_under_guardianship
    guardian_id = usager.representatives[0].id
    row = {**QUALIFIED, "representant1_role": "tuteur", "representant1_nom": "BERNARD",
           "representant1_email": "p.bernard@example.org"}  # fmt: skip
    columns = [*importer.REQUIRED_COLUMNS, "ins", "code_lieu_naissance", "representant1_role", "representant1_nom",
               "representant1_email", "representant2_role", "representant2_nom"]  # fmt: skip
    report = import_dui(csv_file({**row, "representant2_role": "habilite", "representant2_nom": "Martin"}, columns=columns))
    assert report.updated == 1
    db.expire_all()
    assert [(r.id, r.last_name, r.email, r.judgment_type) for r in usager.representatives][0] == (
        guardian_id, "BERNARD", "p.bernard@example.org", "tutelle",
    )  # fmt: skip
    assert [r.role for r in usager.representatives] == [RepresentativeRole.TUTEUR, RepresentativeRole.HABILITE]

    import_dui(csv_file({**row, "representant1_role": "habilite", "representant1_nom": "Martin"}, columns=columns))
    db.expire_all()
    assert [r.last_name for r in usager.representatives] == ["Martin"]


def test_a_database_failure_leaves_nothing_half_imported(app, db, import_dui):
    engine = app.extensions["database"].engine

    def fail_on_representatives(_conn, _cursor, statement, *_args):
        if statement.startswith("INSERT INTO representatives"):
            raise OperationalError(statement, {}, Exception("disk full"))

    data = csv_file({"identifiant_dui": "A"}, {"identifiant_dui": "B", "representant1_role": "parent",
                                               "representant1_nom": "Petit"})  # fmt: skip
    event.listen(engine, "before_cursor_execute", fail_on_representatives)
    try:
        with pytest.raises(import_service.ImportFailed, match="rien n'a été enregistré"):
            import_dui(data)
    finally:
        event.remove(engine, "before_cursor_execute", fail_on_representatives)
    assert usagers(db) == {}
    failure = db.scalar(select(AuditEvent).where(AuditEvent.action == "notices.usager_import"))
    assert (failure.outcome, failure.detail["error"]) == ("failure", "OperationalError")


def test_the_import_is_audited_once_with_counts_and_no_identity_values(db, import_dui, reception, establishment):
    import_dui(csv_file({"identifiant_dui": "DUI-0042", "nom_naissance": "Durand", **QUALIFIED}, {"sexe": "X"}), apply=False)
    import_dui(csv_file({"identifiant_dui": "DUI-0042", "nom_naissance": "Durand", **QUALIFIED}, {"sexe": "X"}))
    events = db.scalars(select(AuditEvent).where(AuditEvent.action.startswith("notices."))).all()
    assert [(e.action, e.outcome, e.actor_id, e.target) for e in events] == [
        ("notices.usager_import", "success", reception.id, f"establishment:{establishment.id}")
    ]
    assert events[0].detail == {"format": "csv", "encoding": "utf-8", "rows": 2, "created": 1, "updated": 0,
                                "unchanged": 0, "rejected": 1}  # fmt: skip


UNREADABLE = [
    (b"", "Le fichier est vide."),
    (b"PK\x03\x04\x14\x00\x06\x00", "Ce fichier est un classeur (Excel, LibreOffice)"),
    (b"\xff\xfeh\x00\x00\x00i\x00", "Ce fichier n'est pas un texte"),
    (b"nom;prenom\r\nMartin;Louise\r\n", "En-tête non reconnu"),
    (b"identifiant_dui;nom_naissance\r\nA;Martin\r\n", "Colonnes obligatoires absentes : statut_identite, prenoms"),
    (b"identifiant_dui;statut_identite;nom_naissance;prenoms_naissance;date_naissance;sexe;sexe\r\n",
     "La colonne sexe apparaît deux fois"),
    (csv_file({}).replace(b"Martin", b'"Martin'), "Ligne 2 illisible"),
    (b"\x81\x8d\x8f\x90\x9d", "Encodage du fichier non reconnu"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), UNREADABLE, ids=[m[:25] for _d, m in UNREADABLE])
def test_an_unreadable_file_is_refused_whole(db, import_dui, data, message):
    with pytest.raises(importer.UnreadableFile) as refused:
        import_dui(data)
    assert message in str(refused.value)
    assert usagers(db) == {}


def test_size_and_row_limits_are_enforced(db, import_dui, monkeypatch):
    data = csv_file({"identifiant_dui": "A"}, {"identifiant_dui": "B"})
    monkeypatch.setattr(importer, "MAX_ROWS", 1)
    with pytest.raises(importer.UnreadableFile, match="plus de 1 usagers"):
        import_dui(data)
    monkeypatch.setattr(importer, "MAX_BYTES", len(data) - 1)
    with pytest.raises(importer.UnreadableFile, match="Le fichier dépasse"):
        import_dui(data)


def test_only_registrars_of_the_establishment_may_import(db, establishment, other_reception, professional):
    data = csv_file({})
    for actor in (other_reception, professional):
        with pytest.raises(PermissionDenied):
            import_service.preview(db, actor, establishment.id, data)
    assert usagers(db) == {}


def test_utf16_with_tabs_as_excel_writes_unicode_text(db, import_dui):
    report = import_dui(csv_file({"nom_naissance": "Nguyễn"}, delimiter="\t", encoding="utf-16"))
    assert (report.encoding, report.delimiter, report.created) == ("utf-16", "\t", 1)
    assert usagers(db)["DUI-0001"].birth_name == "Nguyễn"


def test_every_usager_field_has_a_documented_csv_column():
    assert set(importer.USAGER_COLUMNS.values()) == set(service.USAGER_FIELDS)
    assert set(importer.REPRESENTATIVE_COLUMNS.values()) == set(service.REPRESENTATIVE_FIELDS)
    readme = (ROOT / "README.md").read_text()
    for column in [*importer.USAGER_COLUMNS, *(f"representantN_{s}" for s in importer.REPRESENTATIVE_COLUMNS)]:
        assert f"`{column}`" in readme, column
