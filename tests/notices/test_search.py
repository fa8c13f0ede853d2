"""The usager list: scoped to the user's establishments, searched by name, INS or DUI id; page or htmx fragment."""

from tests.conftest import text
from tests.notices.conftest import NIR


def test_search_by_name_ins_or_local_id(logged_in, reception, make_usager):
    make_usager("DUI-0001", birth_name="Martin", ins=NIR)
    make_usager("DUI-0002", birth_name="Bernard", birth_first_names="Luc")
    client = logged_in(reception)
    assert "MARTIN" in text(client.get("/usagers?q=martin")) and "BERNARD" not in text(client.get("/usagers?q=martin"))
    assert "MARTIN" in text(client.get(f"/usagers?q={NIR[:8]}"))
    found = text(client.get("/usagers?q=dui-0002"))
    assert "BERNARD" in found and "MARTIN" not in found
    assert "2 usagers" in text(client.get("/usagers"))


def test_htmx_search_gets_the_results_fragment(logged_in, reception, make_usager):
    make_usager("DUI-0001", birth_name="Martin")
    response = logged_in(reception).get("/usagers?q=mart", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert "MARTIN" in body and "<html" not in body and "<h1>" not in body
    assert "HX-Request" in response.headers["Vary"]


def test_list_shows_only_the_users_establishments(logged_in, other_reception, make_usager):
    make_usager("DUI-0001", birth_name="Martin")
    assert "0 usager" in text(logged_in(other_reception).get("/usagers"))


def test_pagination_keeps_the_query(logged_in, reception, make_usager):
    for number in range(30):
        make_usager(f"DUI-{number:04d}", birth_name=f"Martin{number:02d}")
    page = text(logged_in(reception).get("/usagers?q=martin"))
    assert "Page 1 sur 2" in page and "/usagers?page=2&q=martin" in page
