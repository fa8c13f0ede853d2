"""Patient documents leave as an IHE_XDM.ZIP that our own reader (and any XDM reader) understands."""

import hashlib
import io
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from datetime import date

import pytest

from mail import xdm
from mail.mime import parse_message
from portal.ins import control_key

PDF = b"%PDF-1.4 synthetic\n" + bytes(range(256))
CDA = (
    b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
    b'<code code="74207-2" codeSystem="2.16.840.1.113883.6.1" displayName="DLU"/></ClinicalDocument>'
)
AUTHOR = xdm.Author("Martin", "Alice", "810000000017", "EHPAD Les Tilleuls", "720000001")


@dataclass(frozen=True)
class Usager:
    ins: str
    birth_name: str
    first_names: str
    birth_date: date
    sex: str
    qualified: bool = True


def matricule(first_13: str) -> str:
    return f"{first_13}{control_key(first_13):02d}"


LEA = Usager(matricule("2800175123456"), "Dupré", "Léa Marie", date(1980, 1, 1), "F")
DLU = xdm.Document("Dossier de liaison d'urgence", "74207-2", "Dossier de liaison d'urgence", PDF)


def metadata(package: bytes) -> ET.Element:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return ET.fromstring(archive.read(xdm.METADATA))


def test_package_read_back_names_the_patient_by_ins_and_lists_the_titles():
    package = xdm.build_package([DLU, xdm.Document("PPA", "80788-3", "Projet personnalisé", PDF)], LEA, AUTHOR)

    read = xdm.read_package(package)

    assert read.patient_id == LEA.ins and read.patient_id_is_ins
    assert read.patient_name == "Dupré Léa Marie" and read.birth_date == "19800101"
    assert read.document_titles == ("Dossier de liaison d'urgence", "PPA")


def test_package_holds_the_documents_byte_for_byte_with_their_loinc_type_and_hash():
    package = xdm.build_package([DLU], LEA, AUTHOR)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert {"README.TXT", "INDEX.HTM", xdm.METADATA} <= set(archive.namelist())
        entry = metadata(package).find(f".//{{{xdm.RIM}}}ExtrinsicObject")
        uri = entry.find(f"{{{xdm.RIM}}}Slot[@name='URI']/{{{xdm.RIM}}}ValueList/{{{xdm.RIM}}}Value").text
        assert archive.read(xdm.SUBSET + uri) == PDF
    slots = {slot.get("name"): slot.find(f".//{{{xdm.RIM}}}Value").text for slot in entry.iter(f"{{{xdm.RIM}}}Slot")}
    assert slots["hash"] == hashlib.sha1(PDF).hexdigest()
    assert slots["size"] == str(len(PDF))
    [type_code] = [c for c in entry if c.get("classificationScheme") == xdm.DOCUMENT_TYPE]
    assert type_code.get("nodeRepresentation") == "74207-2"


def test_patient_id_carries_the_nir_or_nia_authority():
    assert xdm.patient_id(LEA) == f"{LEA.ins}^^^&{xdm.INS_NIR_OID}&ISO"
    nia = Usager(matricule("7800175123456"), "Dupré", "Léa", date(1980, 1, 1), "F")
    assert xdm.patient_id(nia).endswith(f"&{xdm.INS_NIA_OID}&ISO")
    assert xdm.patient_id(LEA, authority=xdm.INS_TEST_OID).endswith(f"&{xdm.INS_TEST_OID}&ISO")


def test_an_unqualified_identity_is_refused():
    with pytest.raises(xdm.UnqualifiedIdentity):
        xdm.build_package([DLU], Usager(LEA.ins, "Dupré", "Léa", date(1980, 1, 1), "F", qualified=False), AUTHOR)


def test_subject_follows_the_mssante_convention_and_the_reader_hides_its_prefix():
    subject = xdm.subject([DLU.title], LEA)
    assert subject == "XDM/1.0/DDM+Dossier de liaison d'urgence DUPRE Lea 01/01/1980"
    assert xdm.subject(["a", "b"], LEA) == "XDM/1.0/DDM+2 documents DUPRE Lea 01/01/1980"
    assert xdm.subject(["x" * 60], LEA).startswith("XDM/1.0/DDM+" + "x" * 40 + " DUPRE")
    message = parse_message(f"Subject: {subject}\r\n\r\nDocuments.\r\n".encode())
    assert message.xdm_subject and message.subject == "Dossier de liaison d'urgence DUPRE Lea 01/01/1980"


def test_mss_headers_name_the_cda_codes_and_the_ins_status_only_when_a_cda_travels():
    cda = xdm.Document("DLU structuré", "74207-2", "DLU", CDA, "text/xml")
    assert xdm.headers([DLU], LEA) == {}
    assert xdm.headers([DLU, cda], LEA) == {"X-MSS-CODECDA": "74207-2", "X-MSS-INS": "O"}
    unqualified = Usager(LEA.ins, "Dupré", "Léa", date(1980, 1, 1), "F", qualified=False)
    assert xdm.headers([cda], unqualified)["X-MSS-INS"] == "N"


def test_a_cda_with_a_dtd_gives_no_code():
    hostile = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><ClinicalDocument xmlns="urn:hl7-org:v3"/>'
    assert xdm.Document("x", "1", "x", hostile, "text/xml").cda_code is None
