"""Parsing raw messages into the mail view model: headers, bodies, attachments, reports, XDM."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from mail.mime import UNREADABLE, parse_message
from mail.xdm import MAX_METADATA_BYTES

INS = "248092A000012"  # a test matricule, not a real person's


def message(headers: str, body: str | bytes = "Bonjour\n") -> bytes:
    head = "From: Dr Alice Martin <alice.martin@hopital.mssante.fr>\nTo: ehpad@ehpad.mssante.fr\n" + headers
    payload = body if isinstance(body, bytes) else body.encode("utf-8")
    return head.encode("utf-8") + b"\n" + payload


def multipart(subtype: str, *parts: str, boundary: str = "b1", headers: str = "") -> str:
    inner = "".join(f"--{boundary}\n{part}\n" for part in parts)
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n{headers}\n{inner}--{boundary}--\n'


# --- headers -----------------------------------------------------------------------------


def test_headers_are_read_into_the_view():
    parsed = parse_message(
        message(
            "Cc: =?utf-8?q?J=C3=A9r=C3=B4me?= <jerome@ehpad.mssante.fr>, b@ehpad.mssante.fr\n"
            "Reply-To: secretariat@hopital.mssante.fr\n"
            "Date: Tue, 04 Mar 2025 10:15:00 +0100\n"
            "Message-ID: <abc@hopital.mssante.fr>\n"
            "In-Reply-To: <prev@ehpad.mssante.fr>\n"
            "References: <first@ehpad.mssante.fr>\n <prev@ehpad.mssante.fr>\n"
            "Disposition-Notification-To: alice.martin@hopital.mssante.fr\n"
            "Subject: Compte rendu\n"
        )
    )
    assert parsed.from_[0].name == "Dr Alice Martin" and parsed.from_[0].email == "alice.martin@hopital.mssante.fr"
    assert [str(a) for a in parsed.cc] == ["Jérôme <jerome@ehpad.mssante.fr>", "b@ehpad.mssante.fr"]
    assert parsed.reply_to[0].email == "secretariat@hopital.mssante.fr"
    assert parsed.date == datetime(2025, 3, 4, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert parsed.message_id == "<abc@hopital.mssante.fr>"
    assert parsed.in_reply_to == "<prev@ehpad.mssante.fr>"
    assert parsed.references == ("<first@ehpad.mssante.fr>", "<prev@ehpad.mssante.fr>")
    assert parsed.disposition_notification_to[0].email == "alice.martin@hopital.mssante.fr"


def test_rfc2047_subject_is_decoded():
    parsed = parse_message(
        message("Subject: =?iso-8859-1?q?R=E9sultats_d'analyses?= =?utf-8?b?w6AgdHJhbnNtZXR0cmU=?=\n")
    )
    assert parsed.subject == "Résultats d'analysesà transmettre"


def test_raw_utf8_and_latin1_headers_are_decoded():
    utf8 = parse_message("Subject: Échographie\n\nx".encode())
    latin1 = parse_message("Subject: Échographie\n\nx".encode("latin-1"))
    assert utf8.subject == latin1.subject == "Échographie"


def test_xdm_subject_prefix_is_hidden():
    parsed = parse_message(message("Subject: XDM/1.0/DDM+Compte rendu DUPONT Jean 19450312\n"))
    assert parsed.subject == "Compte rendu DUPONT Jean 19450312"
    assert parsed.xdm_subject


def test_header_with_control_and_bidi_characters_is_flattened():
    parsed = parse_message(
        message("Subject: =?utf-8?b?" + base64.b64encode("a\u202eb\x07c\r\nd".encode()).decode() + "?=\n")
    )
    assert parsed.subject == "abc d"


def test_message_without_any_header_still_yields_its_text():
    parsed = parse_message(b"\nJust a body\n")
    assert parsed.from_ == () and parsed.subject == "" and parsed.date is None
    assert parsed.text == "Just a body\n"


def test_bad_date_is_ignored():
    assert parse_message(message("Date: Mon, 32 Foo 2020 27:99:00 +0100\n")).date is None


# --- charsets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("iso-8859-1", "Résumé à jour"),
        ("windows-1252", "Coût : 12 € – « devis »"),
        ("koi8-r", "Привет, мир"),
        ("iso-8859-15", "Œuvre €"),
        ("utf-8", "Ça va ✓"),
    ],
)
def test_text_body_is_decoded_from_its_charset(charset, text):
    parsed = parse_message(message(f"Content-Type: text/plain; charset={charset}\n", text.encode(charset)))
    assert parsed.text == text


def test_unknown_charset_falls_back_to_utf8_then_windows_1252():
    utf8 = parse_message(message("Content-Type: text/plain; charset=x-unknown-42\n", "déjà".encode()))
    cp1252 = parse_message(message("Content-Type: text/plain; charset=x-unknown-42\n", "déjà".encode("cp1252")))
    assert utf8.text == cp1252.text == "déjà"
    assert "CharsetGuessed" in cp1252.defects


def test_utf8_labelled_latin1_body_is_recovered():
    parsed = parse_message(message("Content-Type: text/plain; charset=utf-8\n", "café".encode("latin-1")))
    assert parsed.text == "café"


def test_python_only_codecs_are_not_accepted_as_charsets():
    parsed = parse_message(message("Content-Type: text/plain; charset=unicode_escape\n", b"\\u0041 caf\xc3\xa9"))
    assert parsed.text == "\\u0041 café"


def test_base64_and_quoted_printable_bodies_are_decoded():
    b64 = parse_message(message("Content-Transfer-Encoding: base64\n", base64.b64encode("Bonjour é".encode()) + b"\n"))
    qp = parse_message(
        message(
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n",
            b"Bonjour =C3=A9=\n!",
        )
    )
    assert b64.text == "Bonjour é" and qp.text == "Bonjour é!"


# --- structure ---------------------------------------------------------------------------

HTML_PART = 'Content-Type: text/html; charset=utf-8\n\n<p>Bonjour <img src="cid:logo@x"></p>'
TEXT_PART = "Content-Type: text/plain; charset=utf-8\n\nBonjour"
IMAGE_PART = (
    "Content-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n"
    + base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
)
PDF_PART = (
    'Content-Type: application/pdf; name="cr.pdf"\nContent-Disposition: attachment; filename="cr.pdf"\n'
    "Content-Transfer-Encoding: base64\n\n" + base64.b64encode(b"%PDF-1.4 fake").decode()
)


def test_html_is_preferred_and_plain_alternative_kept():
    parsed = parse_message(message(multipart("alternative", TEXT_PART, HTML_PART)))
    assert parsed.html.startswith("<p>Bonjour") and parsed.text == "Bonjour"


def test_nested_mixed_alternative_related_finds_body_images_and_attachments():
    related = multipart("related", HTML_PART, IMAGE_PART, boundary="b3")
    alternative = multipart("alternative", TEXT_PART, related, boundary="b2")
    parsed = parse_message(message(multipart("mixed", alternative, PDF_PART)))
    assert parsed.html.startswith("<p>Bonjour") and parsed.text == "Bonjour"
    image = parsed.attachment_by_cid("<logo@x>")
    assert image.inline and image.content_type == "image/png" and image.data.startswith(b"\x89PNG")
    assert [a.filename for a in parsed.attachments] == ["cr.pdf", "piece-jointe.png"]
    assert parsed.attachments[0].size == len(b"%PDF-1.4 fake")


def test_attached_message_is_parsed_recursively():
    inner = "Subject: Transfert\nFrom: b@ehpad.mssante.fr\nContent-Type: text/plain\n\nTexte joint"
    parsed = parse_message(message(multipart("mixed", TEXT_PART, f"Content-Type: message/rfc822\n\n{inner}")))
    (attached,) = parsed.attached_messages
    assert attached.subject == "Transfert" and attached.text == "Texte joint"


def test_deeply_nested_messages_stop_at_a_limit():
    raw = "Content-Type: text/plain\n\nfond"
    for _ in range(60):
        raw = f"Content-Type: message/rfc822\n\n{raw}"
    parsed = parse_message(message(multipart("mixed", raw)))
    depth, current = 0, parsed
    while current.attached_messages:
        depth, current = depth + 1, current.attached_messages[0]
    assert depth < 60


def test_rfc2231_filename_is_decoded():
    part = (
        "Content-Type: application/pdf\n"
        "Content-Disposition: attachment;\n filename*0*=utf-8''R%C3%A9sultat%20;\n filename*1*=d%27analyse.pdf\n\nx"
    )
    parsed = parse_message(message(multipart("mixed", TEXT_PART, part)))
    assert parsed.attachments[0].filename == "Résultat d'analyse.pdf"


def test_rfc2047_encoded_filename_is_decoded():
    part = 'Content-Type: application/pdf; name="=?utf-8?b?w6ljaG8ucGRm?="\nContent-Disposition: attachment\n\nx'
    parsed = parse_message(message(multipart("mixed", TEXT_PART, part)))
    assert parsed.attachments[0].filename == "écho.pdf"


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\\\Windows\\\\evil.exe", "evil.exe"),
        ("=?utf-8?q?facture=E2=80=AEfdp.exe?=", "facturefdp.exe"),
        ("=?utf-8?q?a=0D=0Ab=07.txt?=", "a b.txt"),
        ("..", "piece-jointe.pdf"),
    ],
)
def test_attachment_names_are_sanitised(declared, expected):
    part = f'Content-Type: application/pdf\nContent-Disposition: attachment; filename="{declared}"\n\nx'
    parsed = parse_message(message(multipart("mixed", TEXT_PART, part)))
    assert parsed.attachments[0].filename == expected


# --- reports -----------------------------------------------------------------------------


def test_delivery_status_notification_is_parsed():
    status = (
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.hopital.mssante.fr\n\n"
        "Final-Recipient: rfc822; inconnu@ehpad.mssante.fr\nAction: failed\nStatus: 5.1.1\n"
        "Remote-MTA: dns; mx.ehpad.mssante.fr\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n\n"
        "Final-Recipient: rfc822; lent@ehpad.mssante.fr\nAction: delayed\nStatus: 4.4.1\n"
    )
    original = "Content-Type: text/rfc822-headers\n\nSubject: Compte rendu\n"
    report = multipart("report", "Content-Type: text/plain\n\nNon distribué", status, original, headers="").replace(
        "multipart/report;", "multipart/report; report-type=delivery-status;"
    )
    parsed = parse_message(message(report))
    assert parsed.text == "Non distribué"
    dsn = parsed.delivery_report
    assert dsn.reporting_mta == "mx.hopital.mssante.fr"
    failed, delayed = dsn.recipients
    assert (failed.recipient, failed.action, failed.status, failed.failed) == (
        "inconnu@ehpad.mssante.fr",
        "failed",
        "5.1.1",
        True,
    )
    assert failed.diagnostic == "550 5.1.1 User unknown" and failed.remote_mta == "mx.ehpad.mssante.fr"
    assert (delayed.action, delayed.status, delayed.failed) == ("delayed", "4.4.1", False)


def test_base64_delivery_status_is_parsed_too():
    fields = b"Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; a@b.fr\nAction: failed\nStatus: 5.0.0\n"
    status = (
        "Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        + base64.b64encode(fields).decode()
    )
    parsed = parse_message(message(multipart("report", TEXT_PART, status)))
    assert parsed.delivery_report.recipients[0].recipient == "a@b.fr"


def test_read_receipt_is_parsed():
    notification = (
        "Content-Type: message/disposition-notification\n\n"
        "Reporting-UA: poste-12.ehpad.mssante.fr; Webmail\n"
        "Final-Recipient: rfc822; ehpad@ehpad.mssante.fr\n"
        "Original-Message-ID: <abc@hopital.mssante.fr>\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\n"
    )
    parsed = parse_message(message(multipart("report", "Content-Type: text/plain\n\nLu", notification)))
    receipt = parsed.read_receipt
    assert receipt.disposition == "displayed"
    assert receipt.mode == "manual-action/MDN-sent-manually"
    assert receipt.original_message_id == "<abc@hopital.mssante.fr>"
    assert receipt.final_recipient == "ehpad@ehpad.mssante.fr"


# --- MSSanté XDM -------------------------------------------------------------------------

METADATA = f"""<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
    xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
  <rim:RegistryObjectList>
    <rim:ExtrinsicObject id="Document01" mimeType="text/xml"
        objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
      <rim:Slot name="sourcePatientId"><rim:ValueList>
        <rim:Value>{INS}^^^&amp;1.2.250.1.213.1.4.10&amp;ISO</rim:Value>
      </rim:ValueList></rim:Slot>
      <rim:Slot name="sourcePatientInfo"><rim:ValueList>
        <rim:Value>PID-3|12345^^^&amp;1.2.250.1.71.4.2.7&amp;ISO^PI</rim:Value>
        <rim:Value>PID-5|DUPONT^Jeanne^^^^^L</rim:Value>
        <rim:Value>PID-7|19450312</rim:Value>
        <rim:Value>PID-8|F</rim:Value>
      </rim:ValueList></rim:Slot>
      <rim:Name><rim:LocalizedString value="Compte rendu de consultation" charset="UTF-8"/></rim:Name>
      <rim:ExternalIdentifier id="ei1" registryObject="Document01"
          identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
          value="{INS}^^^&amp;1.2.250.1.213.1.4.10&amp;ISO">
        <rim:Name><rim:LocalizedString value="XDSDocumentEntry.patientId"/></rim:Name>
      </rim:ExternalIdentifier>
    </rim:ExtrinsicObject>
    <rim:ExtrinsicObject id="Document02" mimeType="text/xml"
        objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
      <rim:Name><rim:LocalizedString value="Lettre de liaison"/></rim:Name>
    </rim:ExtrinsicObject>
  </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
"""


def xdm_zip(metadata: str | bytes = METADATA, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", metadata)
        archive.writestr("IHE_XDM/SUBSET01/DOC0001.XML", "<ClinicalDocument/>")
        archive.writestr("INDEX.HTM", "<html></html>")
        archive.writestr("README.TXT", "XDM")
    return buffer.getvalue()


def xdm_message(archive: bytes) -> bytes:
    zip_part = (
        'Content-Type: application/zip; name="IHE_XDM.ZIP"\nContent-Disposition: attachment; filename="IHE_XDM.ZIP"\n'
        "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(archive).decode()
    )
    return message(
        "Subject: XDM/1.0/DDM+Compte rendu DUPONT Jeanne 19450312\nX-MSS-INS: O\n"
        + multipart("mixed", TEXT_PART, zip_part, PDF_PART)
    )


def test_xdm_package_exposes_patient_and_document_titles_with_pdf_first():
    parsed = parse_message(xdm_message(xdm_zip()))
    assert parsed.xdm.patient_id == INS and parsed.xdm.patient_id_is_ins
    assert parsed.xdm.patient_name == "DUPONT Jeanne"
    assert parsed.xdm.birth_date == "19450312"
    assert parsed.xdm.document_titles == ("Compte rendu de consultation", "Lettre de liaison")
    assert [a.filename for a in parsed.attachments] == ["cr.pdf", "IHE_XDM.ZIP"]


def test_xdm_without_ins_falls_back_to_the_local_identifier():
    metadata = METADATA.replace("1.2.250.1.213.1.4.10", "1.2.250.1.71.4.2.7")
    package = parse_message(xdm_message(xdm_zip(metadata))).xdm
    assert package.patient_id == INS and not package.patient_id_is_ins


def test_xdm_metadata_with_a_dtd_is_refused():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>'
    )
    parsed = parse_message(xdm_message(xdm_zip(bomb)))
    assert parsed.xdm is None and "XdmUnreadable" in parsed.defects


def test_xdm_metadata_larger_than_the_limit_is_not_read():
    parsed = parse_message(xdm_message(xdm_zip(b" " * (MAX_METADATA_BYTES + 1) + METADATA.encode())))
    assert parsed.xdm is None


def test_broken_xdm_archive_is_reported_not_raised():
    parsed = parse_message(xdm_message(b"PK\x03\x04 not really a zip"))
    assert parsed.xdm is None and "XdmUnreadable" in parsed.defects
    assert [a.filename for a in parsed.attachments] == ["cr.pdf", "IHE_XDM.ZIP"]


# --- malformed input ---------------------------------------------------------------------


def test_truncated_multipart_keeps_what_was_read():
    raw = message('Content-Type: multipart/mixed; boundary="b1"\n', "--b1\nContent-Type: text/plain\n\nDébut du texte")
    parsed = parse_message(raw)
    assert parsed.text.startswith("Début du texte")
    assert "CloseBoundaryNotFoundDefect" in parsed.defects


def test_missing_boundary_keeps_the_body_as_text():
    parsed = parse_message(message("Content-Type: multipart/mixed\n", "pas de frontière"))
    assert "pas de frontière" in parsed.text
    assert parsed.defects


def test_bad_base64_is_decoded_as_far_as_possible():
    parsed = parse_message(message("Content-Transfer-Encoding: base64\n", b"Qm9uam91cg=@@!!=\n"))
    assert parsed.text.startswith("Bonjour")
    assert any("Base64" in defect or "Padding" in defect for defect in parsed.defects)


@pytest.mark.parametrize(
    "raw", [b"", b"\x00\xff" * 50, b"From: \xff\xfe\n\n\xff", b'Content-Type: multipart/mixed; boundary=""\n\n--\n--']
)
def test_garbage_never_raises_and_yields_a_body(raw):
    parsed = parse_message(raw)
    assert parsed.text is not None or parsed.html is not None


def test_unreadable_marker_is_a_clear_french_text():
    assert "illisible" in UNREADABLE
