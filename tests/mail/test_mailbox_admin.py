"""Administrators register mailboxes and name the delegates of organisational ones."""

from sqlalchemy import select

from mail.models import Mailbox, MailboxKind
from portal.models import AuditEvent
from tests.conftest import csrf_token, text


def create(client, **fields):
    data = {"address": "Secretariat@Tilleuls.test.mssante.fr", "kind": "ORG", "display_name": "Secrétariat médical",
            "csrf_token": csrf_token(client, "/admin/mailboxes/new")}
    data.update(fields)
    return client.post("/admin/mailboxes/new", data=data)


def test_administrator_registers_an_organisational_mailbox(logged_in, administrator, establishment, db):
    client = logged_in(administrator)
    response = create(client, establishment_id=establishment.id, owner_id=administrator.id)
    assert response.status_code == 302
    mailbox = db.scalar(select(Mailbox))
    assert (mailbox.address, mailbox.kind, mailbox.owner_id) == ("secretariat@tilleuls.test.mssante.fr", MailboxKind.ORG, administrator.id)
    assert db.scalar(select(AuditEvent.action).where(AuditEvent.action == "mail.mailbox_created"))


def test_nominative_mailbox_without_owner_is_refused_and_nothing_saved(logged_in, administrator, establishment, db):
    response = create(logged_in(administrator), kind="PER", establishment_id=establishment.id, owner_id="")
    assert response.status_code == 200
    assert "Une boîte nominative a besoin de son titulaire." in text(response)
    assert db.scalar(select(Mailbox)) is None


def test_duplicate_address_is_refused(logged_in, administrator, establishment, db):
    client = logged_in(administrator)
    create(client, establishment_id=establishment.id, owner_id=administrator.id)
    response = create(client, establishment_id=establishment.id, owner_id=administrator.id)
    assert "Cette adresse est déjà enregistrée." in text(response)


def test_delegation_granted_and_revoked_is_audited(logged_in, administrator, reception, establishment, db):
    client = logged_in(administrator)
    create(client, establishment_id=establishment.id, owner_id=administrator.id)
    mailbox = db.scalar(select(Mailbox))
    page = f"/admin/mailboxes/{mailbox.id}"
    client.post(f"{page}/delegates", data={"user_id": reception.id, "csrf_token": csrf_token(client, page)})
    db.refresh(mailbox)
    assert [d.user_id for d in mailbox.delegations] == [reception.id]
    assert reception.full_name in text(client.get(page))
    client.post(f"{page}/delegates/{reception.id}/remove", data={"csrf_token": csrf_token(client, page)})
    db.refresh(mailbox)
    assert mailbox.delegations == []
    actions = list(db.scalars(select(AuditEvent.action).where(AuditEvent.action.like("mail.delegation%")).order_by(AuditEvent.id)))
    assert actions == ["mail.delegation_granted", "mail.delegation_revoked"]


def test_non_administrators_get_403_on_mailbox_administration(logged_in, reception, professional):
    for user in (reception, professional):
        client = logged_in(user)
        assert client.get("/admin/mailboxes").status_code == 403
        assert client.get("/admin/mailboxes/new").status_code == 403
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_empty_list_says_so(logged_in, administrator):
    assert "Aucune boîte n'est encore enregistrée." in text(logged_in(administrator).get("/admin/mailboxes"))
