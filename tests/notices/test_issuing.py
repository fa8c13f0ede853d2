"""Issuing notices from the usager's page: the plan decides who and how, contents kept, statuses followed."""

import hashlib
import re

import pytest
from sqlalchemy import select

from notices import issuing, links
from notices.models import IdentityStatus, Notice, NoticeStatus, OppositionLink
from portal.access import PermissionDenied
from tests.conftest import csrf_token, text
from tests.notices.conftest import NIR


def issue(client, usager, *choices, confirm=True):
    data = {"choice": list(choices), "csrf_token": csrf_token(client, f"/usagers/{usager.id}")}
    if confirm:
        data["confirm"] = "1"
    return client.post(f"/usagers/{usager.id}/notices", data=data)


def notices_of(db, usager):
    return db.scalars(select(Notice).where(Notice.usager_id == usager.id).order_by(Notice.id)).all()


def test_reception_issues_the_guardians_letter_and_the_usagers_easy_read_version(
    db, logged_in, reception, usager_under_guardianship
):
    usager = usager_under_guardianship
    guardian = usager.representatives[0]
    client = logged_in(reception)

    response = issue(client, usager, f"{guardian.id}:courrier", "usager:remise_en_main_propre")
    assert response.status_code == 302, text(response)

    letter, easy_read = notices_of(db, usager)
    assert (letter.representative_id, letter.variant, letter.channel, letter.may_oppose) == (
        guardian.id, "representant", "courrier", True,
    )  # fmt: skip
    assert (easy_read.representative_id, easy_read.variant, easy_read.channel, easy_read.may_oppose) == (
        None, "facile_a_lire", "remise_en_main_propre", False,
    )  # fmt: skip
    for notice in (letter, easy_read):
        assert notice.status == NoticeStatus.PREPARED
        assert notice.text.variant == notice.variant and notice.issuer == reception
        assert (
            notice.content.startswith(b"%PDF") and notice.content_sha256 == hashlib.sha256(notice.content).hexdigest()
        )
    assert letter.reference != easy_read.reference

    page = text(client.get(f"/usagers/{usager.id}"))
    assert letter.reference in page and easy_read.reference in page
    assert "reste à informer" in page  # prepared is not yet given

    document = client.get(f"/usagers/notices/{letter.id}/document")
    assert document.mimetype == "application/pdf" and document.data == letter.content

    token = csrf_token(client, f"/usagers/{usager.id}")
    client.post(f"/usagers/notices/{letter.id}/mark", data={"status": "printed", "csrf_token": token})
    client.post(f"/usagers/notices/{easy_read.id}/mark", data={"status": "handed_over", "csrf_token": token})
    db.refresh(letter), db.refresh(easy_read)
    assert (letter.status, easy_read.status) == (NoticeStatus.PRINTED, NoticeStatus.HANDED_OVER)
    assert letter.printed_at and easy_read.handed_over_at
    assert "reste à informer" not in text(client.get(f"/usagers/{usager.id}"))


def test_each_notice_gets_its_own_link_stored_only_as_a_hash(db, logged_in, reception, usager_under_guardianship):
    usager = usager_under_guardianship
    issue(logged_in(reception), usager, f"{usager.representatives[0].id}:email")
    notice = notices_of(db, usager)[0]
    raw = notice.content.decode()
    token = re.search(r"/o/([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})", raw).group(1)
    link = db.scalar(select(OppositionLink).where(OppositionLink.notice_id == notice.id))
    assert link.token_sha256 == links.token_hash(token) != token
    assert links.token_hash(token.lower().replace("-", " ")) == link.token_sha256


def test_confirmation_page_lists_the_choices_and_issues_nothing(db, logged_in, reception, usager_under_guardianship):
    usager = usager_under_guardianship
    response = issue(logged_in(reception), usager, f"{usager.representatives[0].id}:courrier", confirm=False)
    assert response.status_code == 200 and "Confirmer l'émission" in text(response)
    assert notices_of(db, usager) == []


@pytest.mark.parametrize("choice", ["usager:email", "usager:courrier_recommande", "999999:courrier", "nobody"])
def test_a_choice_the_plan_does_not_allow_is_refused(db, logged_in, reception, usager_under_guardianship, choice):
    # The usager under guardianship has no e-mail address: the plan offers no e-mail to them.
    response = issue(logged_in(reception), usager_under_guardianship, choice)
    assert response.status_code == 302
    assert notices_of(db, usager_under_guardianship) == []
    with pytest.raises(issuing.NotAllowed):
        issuing.issue(
            db,
            reception,
            usager_under_guardianship,
            [issuing.Choice(None, "email")],
            base_url="http://x/",
            settings=None,
        )


def test_professional_reads_the_notices_but_may_not_issue(db, logged_in, professional, usager_under_guardianship):
    client = logged_in(professional)
    response = issue(client, usager_under_guardianship, "usager:remise_en_main_propre")
    assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        issuing.issue(
            db, professional, usager_under_guardianship, [issuing.Choice(None, "remise_en_main_propre")],
            base_url="http://x/", settings=None,
        )  # fmt: skip


def test_reception_of_another_establishment_gets_404(
    db, logged_in, reception, other_reception, usager_under_guardianship, settings
):
    [notice] = issuing.issue(
        db, reception, usager_under_guardianship, [issuing.Choice(None, "remise_en_main_propre")],
        base_url="http://portail.test/", settings=settings,
    )  # fmt: skip
    client = logged_in(other_reception)
    assert client.get(f"/usagers/notices/{notice.id}/document").status_code == 404


def test_a_letter_cannot_be_marked_as_handed_over(db, logged_in, reception, usager_under_guardianship):
    usager = usager_under_guardianship
    issue(logged_in(reception), usager, f"{usager.representatives[0].id}:courrier")
    notice = notices_of(db, usager)[0]
    with pytest.raises(issuing.NotAllowed):
        issuing.mark(db, reception, notice, NoticeStatus.HANDED_OVER)
    issuing.mark(db, reception, notice, NoticeStatus.PRINTED)
    with pytest.raises(issuing.NotAllowed):
        issuing.mark(db, reception, notice, NoticeStatus.PRINTED)


def test_each_notice_offers_its_content_as_given_a_message_or_a_letter(db, logged_in, reception, make_usager):
    usager = make_usager(ins=NIR, identity_status=IdentityStatus.QUALIFIEE, address_line1="3 rue Haute",
                         postal_code="72000", city="Le Mans")  # fmt: skip
    client = logged_in(reception)
    issue(client, usager, "usager:mssante", "usager:courrier")
    message, letter = notices_of(db, usager)

    page = client.get(f"/usagers/{usager.id}").get_data(as_text=True)

    assert re.search(rf'notices/{message.id}/document">Message envoyé<', page)
    assert re.search(rf'notices/{letter.id}/document">Lettre \(PDF\)<', page)


def test_an_email_without_smtp_server_fails_with_its_reason(db, logged_in, reception, usager_under_guardianship):
    usager = usager_under_guardianship
    issue(logged_in(reception), usager, f"{usager.representatives[0].id}:email")
    notice = notices_of(db, usager)[0]
    assert notice.status == NoticeStatus.FAILED and "PORTAL_SMTP_HOST" in notice.failure_reason
    assert notice.message_id and f"Message-ID: {notice.message_id}".encode() in notice.content
