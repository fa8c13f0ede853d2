"""The annuaire's pages: search as you type, entry, autocomplete, and the administrators' import page."""

from portal.annuaire.models import Import
from tests.conftest import text


def test_search_page_answers_whole_without_javascript_and_a_fragment_to_htmx(logged_in, professional, annuaire):
    client = logged_in(professional)
    page = client.get("/annuaire/?q=dupont+cardio")
    assert page.status_code == 200 and "<html" in text(page) and "jean.dupont@medecin.mssante.fr" in text(page)
    fragment = client.get("/annuaire/?q=lefèvre", headers={"HX-Request": "true"})
    assert "<html" not in text(fragment) and "Hélène LEFÈVRE" in text(fragment)
    assert "HX-Request" in fragment.headers["Vary"]
    assert "Aucune entrée" in text(client.get("/annuaire/?q=zzzz", headers={"HX-Request": "true"}))


def test_an_annuaire_never_imported_says_so_rather_than_that_nothing_matches(logged_in, professional):
    client = logged_in(professional)
    for page in (client.get("/annuaire/"), client.get("/annuaire/?q=dupont", headers={"HX-Request": "true"})):
        assert "pas encore importé" in text(page) and "Aucune entrée" not in text(page)


def test_search_page_pages_and_filters(logged_in, professional, annuaire):
    client = logged_in(professional)
    response = text(client.get("/annuaire/?q=&department=72&bal_type=ORG"))
    assert "secretariat.tilleuls@ehpad.mssante.fr" in response and "marie.dupont" not in response


def test_entry_page_shows_every_address_and_the_rpps_activities(logged_in, professional, annuaire):
    client = logged_in(professional)
    found = text(client.get("/annuaire/?q=lefevre", headers={"HX-Request": "true"}))
    assert 'href="/annuaire/helene.lefevre@ch-lemans.mssante.fr"' in found  # an entry's page is its address
    page = text(client.get("/annuaire/helene.lefevre@ch-lemans.mssante.fr"))
    assert "Médecin" in page and "Cardiologie et maladies vasculaires" in page and "Libéral" in page
    assert "Centre hospitalier du Mans" in page and "Nominative" in page


def test_unknown_entry_is_404(logged_in, professional, annuaire):
    assert logged_in(professional).get("/annuaire/personne@medecin.mssante.fr").status_code == 404


def test_autocomplete_suggests_addresses_for_the_recipient_field(logged_in, professional, annuaire):
    response = logged_in(professional).get("/annuaire/autocomplete?q=dupo", headers={"HX-Request": "true"})
    assert 'data-address="jean.dupont@medecin.mssante.fr"' in text(response) and "<html" not in text(response)


def test_anonymous_visitor_cannot_search(client):
    response = client.get("/annuaire/?q=dupont")
    assert response.status_code == 302 and response.location.endswith("/login")


def test_import_page_shows_the_last_report(logged_in, administrator, annuaire):
    page = text(logged_in(administrator).get("/annuaire/imports"))
    assert "Extraction MSSanté" in page and "Lignes rejetées" in page and "every 2s" not in page
    assert "Fichier RPPS" in page  # the previous import


def test_import_page_is_for_administrators_only(logged_in, professional, annuaire):
    assert logged_in(professional).get("/annuaire/imports").status_code == 403


def test_running_import_polls_its_progress(logged_in, administrator, db):
    db.add(Import(kind="mssante", source="Extraction_Correspondance_MSSante_1.txt", size=1000, bytes_read=250, rows_read=1200))
    db.commit()
    fragment = text(logged_in(administrator).get("/annuaire/imports", headers={"HX-Request": "true"}))
    assert 'hx-trigger="every 2s"' in fragment and "1200 lignes lues (25 %)" in fragment
