"""The DUI asks whether it may feed the DMP: bearer tokens, JSON and FHIR answers, 404 problems, the changes feed."""

import base64
import logging
import re
from datetime import timedelta

import pytest
from fhir.resources.R4B.consent import Consent
from openapi_spec_validator import validate
from sqlalchemy import select

from notices import dmp_status, dui_clients, issuing, oppositions
from notices.models import IdentityStatus, NoticeStatus
from portal.database import utcnow
from portal.models import AuditEvent, Establishment
from tests.conftest import csrf_token, text
from tests.notices.conftest import NIR

FHIR = {"Accept": "application/fhir+json"}


@pytest.fixture()
def dui_token(db, administrator, establishment):
    _client, token = dui_clients.create(db, administrator, establishment.id, "DUI Tilleuls")
    return token


def bearer(token: str, **headers) -> dict:
    return {"Authorization": f"Bearer {token}", **headers}


@pytest.fixture()
def informed(db, reception, settings, usager_under_guardianship):
    """The guardian was handed the notice: the usager is informed."""
    usager = usager_under_guardianship
    [notice] = issuing.issue(
        db, reception, usager, [issuing.Choice(usager.representatives[0].id, "remise_en_main_propre")],
        base_url="http://portail.test/", settings=settings,
    )  # fmt: skip
    issuing.mark(db, reception, notice, NoticeStatus.HANDED_OVER)
    return usager


def test_usager_not_yet_informed_is_not_to_be_fed(client, dui_token, usager_under_guardianship):
    response = client.get(f"/api/v1/usagers/{NIR}/dmp-status", headers=bearer(dui_token))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == {
        "local_id": "DUI-0001", "status": "not_informed", "since": None, "opposed_by": None,
        "identity_qualified": True, "may_feed": False,
    }  # fmt: skip


def test_informed_usager_may_be_fed_and_is_found_by_local_id_too(client, dui_token, informed):
    by_ins = client.get(f"/api/v1/usagers/{NIR}/dmp-status", headers=bearer(dui_token)).json
    by_local_id = client.get("/api/v1/usagers/DUI-0001/dmp-status", headers=bearer(dui_token)).json
    assert by_ins == by_local_id
    assert (by_ins["status"], by_ins["may_feed"]) == ("informed", True) and by_ins["since"].endswith("Z")


def test_opposition_by_staff_stops_the_feeding(db, client, dui_token, informed, reception):
    oppositions.record_for(db, reception, informed, "L'usager lui-même", "Ne souhaite pas")
    answer = client.get("/api/v1/usagers/DUI-0001/dmp-status", headers=bearer(dui_token)).json
    assert (answer["status"], answer["opposed_by"], answer["may_feed"]) == ("opposition", "staff", False)


def test_fhir_consent_is_valid_r4_and_denies_after_an_opposition(db, client, dui_token, informed, reception):
    permitted = client.get(f"/api/v1/usagers/{NIR}/dmp-status", headers=bearer(dui_token, **FHIR))
    assert permitted.mimetype == "application/fhir+json"
    consent = Consent.model_validate(permitted.json)  # raises on anything FHIR does not allow
    assert (consent.status, consent.provision.type) == ("active", "permit")
    assert permitted.json["patient"]["identifier"] == {
        "type": {"coding": [{"system": dmp_status.INS_TYPES, "code": "INS-NIR"}]},
        "system": "urn:oid:1.2.250.1.213.1.4.8", "value": NIR,
    }  # fmt: skip
    assert permitted.json["category"][0]["coding"][0]["code"] == "59284-0"

    oppositions.record_for(db, reception, informed, "L'usager lui-même", "Ne souhaite pas")
    denied = Consent.model_validate(
        client.get(f"/api/v1/usagers/{NIR}/dmp-status", headers=bearer(dui_token, **FHIR)).json
    )
    assert (denied.status, denied.provision.type) == ("active", "deny")


def test_fhir_consent_of_an_uninformed_usager_is_a_draft_naming_the_local_id(client, dui_token, make_usager):
    make_usager("DUI-0042")
    answer = client.get("/api/v1/usagers/DUI-0042/dmp-status", headers=bearer(dui_token, **FHIR)).json
    consent = Consent.model_validate(answer)
    assert consent.status == "draft" and answer["patient"]["identifier"] == {
        "type": {"text": "DUI"},
        "value": "DUI-0042",
    }


def test_unknown_usager_and_another_establishments_usager_answer_a_404_problem(db, client, dui_token, make_usager):
    elsewhere = Establishment(finess="690000009", name="FAM Ailleurs", city="Lyon", postal_code="69003")
    db.add(elsewhere)
    make_usager("DUI-9999", establishment=elsewhere)
    for identifier in ("DUI-9999", "DUI-0404", NIR):
        response = client.get(f"/api/v1/usagers/{identifier}/dmp-status", headers=bearer(dui_token))
        assert response.status_code == 404 and response.mimetype == "application/problem+json"
        assert response.json["status"] == 404 and response.json["title"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic dXNlcjpwYXNz"])
def test_calls_without_a_valid_token_are_refused(client, usager_under_guardianship, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get(f"/api/v1/usagers/{NIR}/dmp-status", headers=headers)
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_refused(db, client, administrator, dui_token, usager_under_guardianship):
    [client_row] = dui_clients.clients_of(db, administrator)
    dui_clients.revoke(db, administrator, client_row)
    assert client.get(f"/api/v1/usagers/{NIR}/dmp-status", headers=bearer(dui_token)).status_code == 401


def test_calls_are_audited_under_the_clients_name_without_the_ins(db, client, dui_token, usager_under_guardianship):
    client.get(f"/api/v1/usagers/{NIR}/dmp-status", headers=bearer(dui_token))
    client.get("/api/v1/usagers/DUI-0404/dmp-status", headers=bearer(dui_token))
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "notices.api_dmp_status").order_by(AuditEvent.id))
    lines = [(e.actor_label, e.outcome, e.target) for e in events]
    assert lines == [
        ("DUI Tilleuls", "success", f"usager:{usager_under_guardianship.id}"),
        ("DUI Tilleuls", "failure", ""),
    ]
    assert not any(NIR in f"{e.target}{e.detail}" for e in db.scalars(select(AuditEvent)))


def test_api_sets_no_cookie(client, dui_token, usager_under_guardianship):
    response = client.get(f"/api/v1/usagers/{NIR}/dmp-status", headers=bearer(dui_token))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_changes_feed_lists_an_opposition_after_the_cursor(db, client, dui_token, informed, reception, make_usager):
    start = (utcnow() - timedelta(minutes=1)).isoformat()
    first = client.get("/api/v1/dmp-status/changes", query_string={"since": start}, headers=bearer(dui_token)).json
    assert [item["local_id"] for item in first["items"]] == ["DUI-0001"] and not first["more"]
    assert first["items"][0]["status"] == "informed"

    nothing = client.get(
        "/api/v1/dmp-status/changes", query_string={"cursor": first["cursor"]}, headers=bearer(dui_token)
    )
    assert nothing.json["items"] == [] and nothing.json["cursor"] == first["cursor"]

    oppositions.record_for(db, reception, informed, "L'usager lui-même", "Ne souhaite pas")
    make_usager("DUI-0002", birth_name="Durand")
    later = client.get(
        "/api/v1/dmp-status/changes", query_string={"cursor": first["cursor"]}, headers=bearer(dui_token)
    )
    assert [(i["local_id"], i["status"]) for i in later.json["items"]] == [
        ("DUI-0001", "opposition"), ("DUI-0002", "not_informed"),
    ]  # fmt: skip


def test_changes_feed_pages_in_order_without_losing_an_item(client, dui_token, make_usager):
    for number in range(5):
        make_usager(f"DUI-10{number}")
    seen, query = [], {"since": "2000-01-01T00:00:00Z", "limit": 2}
    while True:
        page = client.get("/api/v1/dmp-status/changes", query_string=query, headers=bearer(dui_token)).json
        seen += [item["local_id"] for item in page["items"]]
        query = {"cursor": page["cursor"], "limit": 2}
        if not page["more"]:
            break
    assert seen == [f"DUI-10{number}" for number in range(5)]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"since": "2026-01-01"},
        {"since": "hier"},
        {"cursor": "not-ours"},
        {"cursor": base64.urlsafe_b64encode(b"2026-01-01T00:00:00|1").decode()},  # no offset: not one of ours
        {"since": "2026-01-01T00:00:00Z", "limit": 0},
    ],
)
def test_changes_feed_refuses_bad_parameters_with_a_problem(client, dui_token, query):
    response = client.get("/api/v1/dmp-status/changes", query_string=query, headers=bearer(dui_token))
    assert response.status_code == 400 and response.mimetype == "application/problem+json"


def test_changes_feed_is_scoped_to_the_tokens_establishment(db, client, dui_token, make_usager):
    elsewhere = Establishment(finess="690000009", name="FAM Ailleurs", city="Lyon", postal_code="69003")
    db.add(elsewhere)
    make_usager("DUI-9999", establishment=elsewhere)
    page = client.get("/api/v1/dmp-status/changes?since=2000-01-01T00:00:00Z", headers=bearer(dui_token)).json
    assert page["items"] == []


def test_openapi_document_is_valid_and_documents_every_route(app, client):
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    prefix = document["servers"][0]["url"]
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("notices_api."):
            path = rule.rule.removeprefix(prefix).replace("<", "{").replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method) in documented, f"{method} {rule.rule} is not in the OpenAPI document"


def test_administrator_creates_a_token_shown_once_and_revokes_it(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    page = client.post(
        "/usagers/acces-dui",
        data={
            "establishment_id": establishment.id,
            "name": "DUI Test",
            "csrf_token": csrf_token(client, "/usagers/acces-dui"),
        },
    )
    token = re.search(r'<code class="secret">([^<]+)</code>', text(page)).group(1)
    assert dui_clients.authenticate(db, token).name == "DUI Test"
    assert token not in text(client.get("/usagers/acces-dui"))

    [row] = dui_clients.clients_of(db, administrator)
    client.post(f"/usagers/acces-dui/{row.id}/revoke", data={"csrf_token": csrf_token(client, "/usagers/acces-dui")})
    db.expire_all()  # revoked by the request's session
    assert dui_clients.authenticate(db, token) is None


def test_reception_may_not_manage_dui_tokens(logged_in, reception):
    assert logged_in(reception).get("/usagers/acces-dui").status_code == 403


def test_administrator_of_another_establishment_cannot_revoke_a_token(
    db, logged_in, make_user, administrator, establishment, dui_token
):
    from portal.models import Role

    elsewhere = Establishment(finess="690000009", name="FAM Ailleurs", city="Lyon", postal_code="69003")
    db.add(elsewhere)
    other = make_user("admin@ailleurs.test.mssante.fr", Role.ADMINISTRATOR, establishments=[elsewhere])
    [row] = dui_clients.clients_of(db, administrator)
    client = logged_in(other)
    response = client.post(
        f"/usagers/acces-dui/{row.id}/revoke", data={"csrf_token": csrf_token(client, "/usagers/acces-dui")}
    )
    assert response.status_code == 404 and dui_clients.authenticate(db, dui_token) is not None


def test_the_ins_in_an_api_path_stays_out_of_the_request_logs():
    record = logging.LogRecord(
        "werkzeug", logging.INFO, "", 0, '%s - - [%s] "%s" %s %s',
        ("127.0.0.1", "now", f"GET /api/v1/usagers/{NIR}/dmp-status HTTP/1.1", "200", "-"), None,
    )  # fmt: skip
    for log_filter in logging.getLogger("werkzeug").filters:
        log_filter.filter(record)
    assert NIR not in record.getMessage() and "/api/v1/usagers/…/dmp-status" in record.getMessage()


def test_api_is_rate_limited_per_address(client):
    codes = [client.get("/api/v1/dmp-status/changes").status_code for _ in range(301)]
    assert codes[:300] == [401] * 300
    assert codes[300] == 429 and client.get("/api/v1/dmp-status/changes").mimetype == "application/problem+json"


def test_an_ins_names_its_holder_before_a_dui_id_that_looks_the_same(client, dui_token, make_usager):
    holder = make_usager("DUI-0001", ins=NIR, identity_status=IdentityStatus.QUALIFIEE)
    make_usager(NIR, birth_name="Durand")  # a DUI numbering its usagers like matricules
    answer = client.get(f"/api/v1/usagers/{NIR}/dmp-status", headers=bearer(dui_token)).json
    assert answer["local_id"] == holder.local_id
