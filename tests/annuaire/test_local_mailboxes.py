"""The establishment's own mailboxes, from the webmail, are found beside the national entries."""

import pytest

from mail.models import Mailbox, MailboxKind
from portal.annuaire import service
from portal.models import Establishment
from tests.conftest import text


@pytest.fixture()
def mailboxes(db, establishment, professional):
    elsewhere = Establishment(finess="690000002", name="IME Les Sources", city="Lyon", postal_code="69001",
                              is_active=False)  # fmt: skip
    db.add_all([
        Mailbox(address="accueil.familles@tilleuls.mssante.fr", kind=MailboxKind.ORG,
                display_name="Accueil des familles", establishment=establishment),
        Mailbox(address="infirmiere@tilleuls.mssante.fr", kind=MailboxKind.PER, display_name="Infirmière",
                establishment=establishment, owner=professional),
        Mailbox(address="ancien.accueil@tilleuls.mssante.fr", kind=MailboxKind.ORG, display_name="Ancien accueil",
                establishment=establishment, is_active=False),
        Mailbox(address="avis@tilleuls.mssante.fr", kind=MailboxKind.APP, display_name="Accueil automatique",
                establishment=establishment),
        Mailbox(address="accueil@sources.mssante.fr", kind=MailboxKind.ORG, display_name="Accueil",
                establishment=elsewhere),
    ])  # fmt: skip
    db.commit()


def searched(app, query, **options) -> list[tuple[str, bool]]:
    with app.app_context():
        return [(entry.address, entry.is_local) for entry in service.search(query, **options)]


def test_organisational_mailbox_is_found_by_its_name_and_marked_local(app, annuaire, mailboxes):
    assert searched(app, "accueil famil") == [("accueil.familles@tilleuls.mssante.fr", True)]
    with app.app_context():
        (entry,) = service.search("accueil familles")
    assert entry.display_name == "Accueil des familles – EHPAD Les Tilleuls" and entry.city == "Le Mans"


def test_inactive_and_applicative_mailboxes_are_not_searched(app, annuaire, mailboxes):
    assert searched(app, "accueil") == [("accueil.familles@tilleuls.mssante.fr", True)]


def test_local_mailboxes_come_first_then_the_national_entries_page_after_page(app, annuaire, mailboxes):
    everything = searched(app, "le mans")
    assert everything[:2] == [("accueil.familles@tilleuls.mssante.fr", True), ("infirmiere@tilleuls.mssante.fr", True)]
    assert [address for address, local in everything[2:]] == [e.address for e in service.find(annuaire, "le mans")]
    pages = [searched(app, "le mans", limit=3, offset=offset) for offset in (0, 3, 6)]
    assert [found for page in pages for found in page] == everything


def test_filters_apply_to_local_mailboxes(app, annuaire, mailboxes):
    assert ("infirmiere@tilleuls.mssante.fr", True) in searched(app, "tilleuls", bal_type="PER")
    assert ("accueil.familles@tilleuls.mssante.fr", True) not in searched(app, "tilleuls", bal_type="PER")
    assert ("accueil.familles@tilleuls.mssante.fr", True) in searched(app, "tilleuls", department="72")
    assert [local for _, local in searched(app, "tilleuls", department="69")] == []
    assert True not in [local for _, local in searched(app, "le mans", profession="60")]


def test_search_page_shows_a_local_mailbox_without_an_entry_page(logged_in, professional, annuaire, mailboxes):
    client = logged_in(professional)
    page = text(client.get("/annuaire/?q=accueil+familles", headers={"HX-Request": "true"}))
    assert "Accueil des familles – EHPAD Les Tilleuls" in page and "Établissement" in page
    assert 'href="/annuaire/accueil.familles@tilleuls.mssante.fr"' not in page
    suggestions = text(client.get("/annuaire/autocomplete?q=infirmiere", headers={"HX-Request": "true"}))
    assert 'data-address="infirmiere@tilleuls.mssante.fr"' in suggestions and "Infirmiere TEST" in suggestions
