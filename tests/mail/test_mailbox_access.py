"""Who opens which mailbox: owner, delegate, responsible person, stranger, administrator."""

import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from mail.access import load_mailbox, readable_mailboxes
from mail.models import Delegation, Mailbox, MailboxKind
from portal.models import AuditEvent, Role


@pytest.fixture()
def boxes(db, establishment, professional, reception, administrator):
    nominative = Mailbox(address="infirmiere@tilleuls.test.mssante.fr", kind=MailboxKind.PER, display_name="Infirmière",
                         establishment=establishment, owner=professional)
    secretariat = Mailbox(address="secretariat@tilleuls.test.mssante.fr", kind=MailboxKind.ORG, display_name="Secrétariat",
                          establishment=establishment, owner=administrator)
    notices = Mailbox(address="notices@tilleuls.test.mssante.fr", kind=MailboxKind.APP, display_name="Notices",
                      establishment=establishment)
    secretariat.delegations.append(Delegation(user=reception))
    db.add_all([nominative, secretariat, notices])
    db.commit()
    return nominative, secretariat, notices


def addresses(mailboxes):
    return [m.address.split("@")[0] for m in mailboxes]


def test_owner_reads_their_nominative_mailbox_only(db, boxes, professional):
    assert addresses(readable_mailboxes(db, professional)) == ["infirmiere"]


def test_delegate_reads_the_organisational_mailbox(db, boxes, reception):
    assert addresses(readable_mailboxes(db, reception)) == ["secretariat"]


def test_responsible_person_reads_the_organisational_mailbox_and_administrator_the_applicative(db, boxes, administrator):
    assert addresses(readable_mailboxes(db, administrator)) == ["secretariat", "notices"]


def test_stranger_gets_404_and_the_refusal_is_audited(db, boxes, stranger):
    nominative, _secretariat, _notices = boxes
    assert readable_mailboxes(db, stranger) == []
    with pytest.raises(NotFound):
        load_mailbox(db, stranger, nominative.id)
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "mail.open")).one()
    assert (event.outcome, event.actor_id, event.target) == ("denied", stranger.id, str(nominative.id))


def test_non_administrator_never_reads_the_applicative_mailbox(db, boxes, professional):
    professional.roles = {Role.PROFESSIONAL, Role.RECEPTION}
    db.commit()
    with pytest.raises(NotFound):
        load_mailbox(db, professional, boxes[2].id)


def test_deactivated_mailbox_is_closed_to_everyone(db, boxes, professional):
    boxes[0].is_active = False
    db.commit()
    assert readable_mailboxes(db, professional) == []


def test_deactivated_user_reads_nothing(db, boxes, reception):
    reception.is_active = False
    db.commit()
    assert readable_mailboxes(db, reception) == []
