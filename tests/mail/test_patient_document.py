"""A usager's PDF leaves as MSSanté expects: with its IHE_XDM.ZIP naming the INS, under the conventional subject."""

import email
import io
from datetime import date
from email.policy import default

import pytest
from sqlalchemy import select

from mail import xdm
from mail.compose import draft_of
from notices.models import IdentityStatus, Sex, Usager
from tests.conftest import csrf_token, text
from portal.models import AuditEvent
from tests.mail.conftest import messages_with_id, wait_for, write
from tests.notices.conftest import NIR

# The label (the title, 40 characters at most), the birth name in capitals, the first first name, the
# birth date; no accents.
SUBJECT = "XDM/1.0/DDM+Document de liaison d'urgence (DLU) DUPRE Helene 09/03/1941"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n"


@pytest.fixture()
def usager(db, establishment) -> Usager:
    person = Usager(establishment=establishment, local_id="DUI-12", ins=NIR, identity_status=IdentityStatus.QUALIFIEE,
                    birth_name="Dupré", birth_first_names="Hélène Marie", birth_date=date(1941, 3, 9), sex=Sex.F)  # fmt: skip
    db.add(person)
    db.commit()
    return person


def prepare(client, mailbox, **fields):
    page = f"/mail/{mailbox.id}/patient-document"
    data = {"csrf_token": csrf_token(client, page), "action": "prepare", "type_code": "74207-2", "title": "", **fields}
    data.setdefault("file", (io.BytesIO(PDF), "dlu.pdf", "application/pdf"))
    return client.post(page, data=data, content_type="multipart/form-data")


def test_search_offers_only_usagers_with_a_qualified_ins(webmail, logged_in, professional, nominative, usager, db):
    client = logged_in(professional)
    page = f"/mail/{nominative.id}/patient-document"
    found = text(client.post(page, data={"csrf_token": csrf_token(client, page), "action": "search", "q": "dupré"}))
    assert f'value="{NIR}"' in found and "DUPRÉ Hélène Marie" in found

    usager.identity_status = IdentityStatus.VALIDEE
    db.commit()
    found = text(client.post(page, data={"csrf_token": csrf_token(client, page), "action": "search", "q": "dupré"}))
    assert f'value="{NIR}"' not in found and "tant que leur INS n'est pas qualifiée" in found


def test_prepared_document_is_sent_with_its_xdm_package_and_conventional_subject(
    webmail, sending, logged_in, professional, nominative, usager, new_imap_mailbox, imap_store, imap_server,
    imap_credential, db,
):
    client = logged_in(professional)
    response = prepare(client, nominative, ins=NIR)
    assert response.status_code == 302 and "/draft/" in response.location
    uid = int(response.location.rsplit("/", 1)[1])
    draft = draft_of(imap_store.raw_message(nominative.address, "Drafts", uid))
    assert draft.subject == SUBJECT

    colleague = new_imap_mailbox("medecin")
    sent = write(client, nominative, to=colleague, subject=draft.subject, body="Ci-joint le DLU.", keep=["0", "1"],
                 draft_uid=str(uid))  # fmt: skip  (the editor keeps both files of the prepared draft)
    assert sent.status_code == 302
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "mail.send")).all()
    [raw] = wait_for(lambda: messages_with_id(imap_server, imap_credential, colleague, event.detail["message_id"]))
    got = email.message_from_bytes(raw, policy=default)
    assert got["Subject"] == SUBJECT
    files = {part.get_filename(): part.get_content() for part in got.iter_attachments()}
    assert files["dlu.pdf"] == PDF
    package = xdm.read_package(files[xdm.FILENAME])
    assert (package.patient_id, package.patient_id_is_ins) == (NIR, True)
    assert package.document_titles == ("Document de liaison d'urgence (DLU)",)


def test_unqualified_usager_or_a_file_that_is_no_pdf_is_refused_and_nothing_is_drafted(
    webmail, logged_in, professional, nominative, usager, imap_store, db
):
    client = logged_in(professional)
    not_pdf = prepare(client, nominative, ins=NIR, file=(io.BytesIO(b"MZ\x90\x00"), "dlu.pdf", "application/pdf"))
    assert not_pdf.status_code == 422 and "n'est pas un PDF" in text(not_pdf)

    usager.identity_status = IdentityStatus.PROVISOIRE
    db.commit()
    unqualified = prepare(client, nominative, ins=NIR)
    assert unqualified.status_code == 422  # not among the choices any more: the form refuses it
    assert imap_store.sorted_uids(nominative.address, "Drafts") == []


def test_stranger_cannot_prepare_from_someone_elses_mailbox(webmail, logged_in, stranger, nominative):
    assert logged_in(stranger).get(f"/mail/{nominative.id}/patient-document").status_code == 404
