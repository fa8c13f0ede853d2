"""Administrators read the audit log, filtered by user, action and date."""

from datetime import UTC, datetime, timedelta

from portal.audit.service import FAILURE, SUCCESS, record
from portal.models import AuditEvent
from tests.conftest import text


def add_event(db, action, label, at=None, outcome=SUCCESS):
    event = record(db, action, outcome=outcome, actor_label=label)
    if at:
        event.at = at
    db.commit()
    return event


def test_administrator_sees_logins_with_french_labels(logged_in, administrator):
    page = text(logged_in(administrator).get("/admin/audit/"))
    assert "Connexion" in page and "auth.login" in page and administrator.email in page


def test_filter_by_user_keeps_only_that_user(logged_in, administrator, db):
    add_event(db, "test.alpha", "alice@tilleuls.test.mssante.fr")
    add_event(db, "test.beta", "bob@tilleuls.test.mssante.fr")
    page = text(logged_in(administrator).get("/admin/audit/?actor=ALICE"))
    assert "alice@tilleuls.test.mssante.fr" in page and "bob@tilleuls.test.mssante.fr" not in page


def test_filter_by_action(logged_in, administrator, db):
    add_event(db, "test.alpha", "alice@tilleuls.test.mssante.fr")
    add_event(db, "test.beta", "bob@tilleuls.test.mssante.fr", outcome=FAILURE)
    page = text(logged_in(administrator).get("/admin/audit/?action=test.beta"))
    assert "bob@tilleuls.test.mssante.fr" in page and "alice@tilleuls.test.mssante.fr" not in page


def test_filter_by_date_uses_french_days(logged_in, administrator, db):
    # 23:30 UTC on 1 March is 2 March in Paris.
    add_event(db, "test.late", "late@tilleuls.test.mssante.fr", at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    add_event(db, "test.early", "early@tilleuls.test.mssante.fr", at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    page = text(logged_in(administrator).get("/admin/audit/?since=2026-03-02&until=2026-03-02"))
    assert "late@tilleuls.test.mssante.fr" in page and "early@tilleuls.test.mssante.fr" not in page


def test_log_is_paginated_newest_first(logged_in, administrator, db):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(60):
        add_event(db, "test.many", f"user{i:02d}@tilleuls.test.mssante.fr", at=base + timedelta(minutes=i))
    client = logged_in(administrator)
    first = text(client.get("/admin/audit/?action=test.many"))
    assert "user59@" in first and "user09@" not in first and "Page 1 sur 2" in first
    second = text(client.get("/admin/audit/?action=test.many&page=2"))
    assert "user09@" in second and "user59@" not in second


def test_htmx_filter_returns_only_the_results_fragment(logged_in, administrator):
    response = logged_in(administrator).get("/admin/audit/?actor=x", headers={"HX-Request": "true"})
    assert "<html" not in response.get_data(as_text=True)
    assert "Aucun événement ne correspond à ces critères." in text(response)
    assert "HX-Request" in response.headers["Vary"]


def test_invalid_date_is_explained_in_french_and_the_log_still_shows(logged_in, administrator):
    response = logged_in(administrator).get("/admin/audit/?since=pas-une-date")
    assert response.status_code == 200
    page = text(response)
    assert "N'est pas une date valide." in page and administrator.email in page


def test_professional_cannot_read_the_log(logged_in, professional, db):
    assert logged_in(professional).get("/admin/audit/").status_code == 403
    assert db.query(AuditEvent).filter_by(action="access.denied").count() == 1
