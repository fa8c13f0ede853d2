"""Build an MSSanté IHE_XDM.ZIP attachment, and read the patient and document titles of one, defensively.

An XDM package (IHE ITI TF-1 § 16, TF-3 § 4.2) holds IHE_XDM/SUBSET01/METADATA.XML: an ebXML
SubmitObjectsRequest whose rim:ExtrinsicObject elements are the document entries. Each has
its title in rim:Name/rim:LocalizedString/@value, the patient in the XDSDocumentEntry.patientId
rim:ExternalIdentifier (identificationScheme urn:uuid:58a6f841-...) and in the sourcePatientId
and sourcePatientInfo slots ("PID-5|NOM^Prénom^^^", "PID-7|19800101"). Identifiers are HL7 CX
values, "<id>^^^&<assigning authority OID>&ISO"; in France the INS authority OIDs are below.
The archive and the XML come from strangers: sizes are capped and any DTD is refused, which
rules out entity expansion and external entities.

What an MSSanté client puts around a package (Référentiel socle MSSanté #2, clients de messagerie,
§ 3.1.3 and § 3.8, requirements ECO.2.1.3, ECO.2.4.1 and ECO.2.4.2) is built here too: the subject
"XDM/1.0/DDM+<label> <NOM> <prénom> <JJ/MM/AAAA>", and the X-MSS-CODECDA and X-MSS-INS headers,
which are set only when the package holds CDA documents.
"""

from __future__ import annotations

import hashlib
import html
import io
import unicodedata
import uuid
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from portal.ins import Kind, validate

FILENAME = "IHE_XDM.ZIP"
SUBSET = "IHE_XDM/SUBSET01/"
METADATA = SUBSET + "METADATA.XML"
MAX_MEMBERS = 1000
MAX_METADATA_BYTES = 4 * 1024 * 1024

DOCUMENT_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"  # XDSDocumentEntry.patientId
SUBMISSION_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"  # XDSSubmissionSet.patientId
PATIENT_ID_SCHEMES = {DOCUMENT_PATIENT_ID, SUBMISSION_PATIENT_ID}
INS_NIR_OID = "1.2.250.1.213.1.4.8"
INS_NIA_OID = "1.2.250.1.213.1.4.9"
INS_TEST_OID = "1.2.250.1.213.1.4.10"  # INS-NIR, test identities
INS_DEMO_OID = "1.2.250.1.213.1.4.11"  # INS-NIR, demonstration identities
INS_OIDS = {INS_NIR_OID, INS_NIA_OID, INS_TEST_OID, INS_DEMO_OID}


@dataclass(frozen=True, slots=True)
class XdmPackage:
    patient_id: str | None  # the INS matricule when the package carries one
    patient_id_is_ins: bool
    patient_name: str | None  # "NOM Prénom" from PID-5
    birth_date: str | None  # PID-7 as sent, YYYYMMDD
    document_titles: tuple[str, ...]


class _NoDtd(ET.TreeBuilder):
    def doctype(self, name, pubid, system):
        raise ValueError("DTD refused in XDM metadata")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _cx(value: str) -> tuple[str, str | None]:
    """'248092A0000^^^&1.2.250.1.213.1.4.8&ISO' -> ('248092A0000', '1.2.250.1.213.1.4.8')."""
    identifier, _, rest = value.partition("^")
    authority = rest.rsplit("^", 1)[-1].split("&")
    return identifier.strip(), (authority[1].strip() if len(authority) > 1 else None)


def _person_name(xpn: str | None) -> str | None:
    """HL7 XPN 'NOM^Prénom^^^' (first repetition) -> 'NOM Prénom'."""
    if not xpn:
        return None
    return " ".join(part.strip() for part in xpn.split("~")[0].split("^")[:2] if part.strip()) or None


def _slot(entry: ET.Element, name: str) -> list[str]:
    for slot in _children(entry, "Slot"):
        if slot.get("name") == name:
            return [(value.text or "").strip() for values in _children(slot, "ValueList") for value in values]
    return []


def _metadata(data: bytes) -> bytes | None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            return None
        wanted = [m for m in members if m.filename.replace("\\", "/").upper() == METADATA]
        if not wanted:
            return None
        # file_size comes from the archive itself, so the read is bounded too (zip bombs).
        with archive.open(wanted[0]) as member:
            content = member.read(MAX_METADATA_BYTES + 1)
        return content if len(content) <= MAX_METADATA_BYTES else None


def read_package(data: bytes) -> XdmPackage | None:
    """The package summary, or None when the archive or its metadata cannot be read safely."""
    try:
        content = _metadata(data)
        if content is None:
            return None
        parser = ET.XMLParser(target=_NoDtd())
        parser.feed(content)
        root = parser.close()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        ValueError,
        ET.ParseError,
    ):
        return None

    titles: list[str] = []
    candidates: list[str] = []  # CX patient identifiers, best sources first
    info: list[str] = []
    for element in root.iter():
        kind = _local(element.tag)
        if kind not in ("ExtrinsicObject", "RegistryPackage"):
            continue
        for identifier in _children(element, "ExternalIdentifier"):
            if identifier.get("identificationScheme") in PATIENT_ID_SCHEMES and identifier.get("value"):
                candidates.append(identifier.get("value"))
        if kind == "ExtrinsicObject":
            for name in _children(element, "Name"):
                titles.extend(s.get("value", "").strip() for s in _children(name, "LocalizedString"))
            candidates.extend(_slot(element, "sourcePatientId"))
            info.extend(_slot(element, "sourcePatientInfo"))
    candidates.extend(value[len("PID-3|") :] for value in info if value.startswith("PID-3|"))

    identifiers = [_cx(value) for value in candidates if value]
    ins = next((ident for ident, oid in identifiers if oid in INS_OIDS and ident), None)
    fallback = next((ident for ident, _ in identifiers if ident), None)
    name = next((value[len("PID-5|") :] for value in info if value.startswith("PID-5|")), None)
    birth = next((value[len("PID-7|") :] for value in info if value.startswith("PID-7|")), None)
    return XdmPackage(
        patient_id=ins or fallback,
        patient_id_is_ins=ins is not None,
        patient_name=_person_name(name),
        birth_date=birth or None,
        document_titles=tuple(dict.fromkeys(title for title in titles if title)),
    )


# --- building a package (ITI TF-3 § 4.2.3, ebRIM 3.0) ---------------------------------------------

LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
CDA = "urn:hl7-org:v3"
DOCUMENT_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
DOCUMENT_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
DOCUMENT_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DOCUMENT_FORMAT = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DOCUMENT_TYPE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DOCUMENT_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
SUBMISSION_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
SUBMISSION_CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SUBMISSION_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SUBMISSION_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
LOINC = "2.16.840.1.113883.6.1"
# IHE's format code for a document whose MIME type says all (ITI TF-2 Appendix Z); CI-SIS specific
# CDA formats would need the CDA's own template, which the portal does not produce.
FORMAT_CODE = ("urn:ihe:iti:xds:2017:mimeTypeSufficient", "1.3.6.1.4.1.19376.1.2.3")
CONFIDENTIALITY_NORMAL = ("N", "2.16.840.1.113883.5.25")
PS_NATIONAL_ID_OID = "1.2.250.1.71.4.2.1"  # RPPS / ADELI national ids (8 + RPPS, 0 + ADELI)
STRUCTURE_ID_OID = "1.2.250.1.71.4.2.2"  # structures: 1 + FINESS
SUBJECT_LABEL_LENGTH = 40
# The documents an ESSMS typically sends or feeds to the DMP, by LOINC type code (DOMAIN.md; the DMP's
# type codes), with the label written into the metadata.
DOCUMENT_TYPES = {
    "74207-2": "Document de liaison d'urgence (DLU)",
    "80788-3": "Projet personnalisé d'accompagnement (PPA)",
    "88348-8": "Lettre de liaison d'entrée en structure médico-sociale",
    "83981-1": "Lettre de liaison de sortie de structure médico-sociale",
    "34842-5": "Grille d'évaluation médico-sociale",
    "60591-5": "Synthèse médicale (VSM)",
    "87273-9": "Note de vaccination",
}
ET.register_namespace("lcm", LCM)
ET.register_namespace("rim", RIM)


class PatientIdentity(Protocol):
    """The identity traits of a usager that a package and its subject need."""

    ins: str  # matricule INS, 15 characters
    birth_name: str
    first_names: str  # birth first names, the first one first
    birth_date: date
    sex: str  # "M" / "F" (or the INS sex digit "1" / "2")
    qualified: bool  # RNIV status "qualifiée": only then may the INS be used to exchange data


@dataclass(frozen=True)
class Author:
    family_name: str
    given_name: str
    national_id: str | None  # 8 + RPPS or 0 + ADELI
    institution: str
    finess: str | None


@dataclass(frozen=True)
class Document:
    title: str
    type_code: str  # LOINC code of the document type (DLU 74207-2, PPA 80788-3...)
    type_label: str
    content: bytes
    mime_type: str = "application/pdf"  # or text/xml for a CDA document

    @property
    def cda_code(self) -> str | None:
        """The code of a CDA document's header (ClinicalDocument/code/@code), None for anything else."""
        if self.mime_type != "text/xml":
            return None
        try:
            parser = ET.XMLParser(target=_NoDtd())
            parser.feed(self.content)
            root = parser.close()
        except (ValueError, ET.ParseError):
            return None
        code = root.find(f"{{{CDA}}}code") if root.tag == f"{{{CDA}}}ClinicalDocument" else None
        return code.get("code") if code is not None and code.get("code") else None


class UnqualifiedIdentity(ValueError):
    """Only a qualified INS may identify a patient in an exchange (référentiel INS)."""


def patient_id(patient: PatientIdentity, authority: str | None = None) -> str:
    """The HL7 CX patient identifier: '<matricule>^^^&<OID of INS-NIR or INS-NIA>&ISO'.

    `authority` names another of INS_OIDS: the national test and demonstration identities have their own.
    """
    matricule, kind = validate(patient.ins)
    return f"{matricule}^^^&{authority or (INS_NIR_OID if kind is Kind.NIR else INS_NIA_OID)}&ISO"


def build_package(
    documents: Sequence[Document], patient: PatientIdentity, author: Author, authority: str | None = None
) -> bytes:
    """IHE_XDM.ZIP holding the documents and their METADATA.XML; read_package() reads it back."""
    if not patient.qualified:
        raise UnqualifiedIdentity("l'INS du patient n'est pas qualifiée")
    if not documents:
        raise ValueError("a package holds at least one document")
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    files = {f"DOC{number:04d}.{_extension(document)}": document for number, document in enumerate(documents, 1)}
    metadata = _metadata_xml(files, patient_id(patient, authority), patient, author, now)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("README.TXT", README)
        package.writestr("INDEX.HTM", _index(files))
        package.writestr(METADATA, metadata)
        for name, document in files.items():
            package.writestr(SUBSET + name, document.content)
    return archive.getvalue()


def subject(titles: Sequence[str], patient: PatientIdentity) -> str:
    """'XDM/1.0/DDM+<label> <NOM> <prénom> <JJ/MM/AAAA>': the label is the title (40 characters at
    most) or "<n> documents"; names are written without accents, the birth name in capitals."""
    label = titles[0][:SUBJECT_LABEL_LENGTH].strip() if len(titles) == 1 else f"{len(titles)} documents"
    first_name = patient.first_names.split()[0] if patient.first_names.split() else ""
    birth = patient.birth_date.strftime("%d/%m/%Y")
    parts = [_ascii(label), _ascii(patient.birth_name).upper(), _ascii(first_name), birth]
    return "XDM/1.0/DDM+" + " ".join(part for part in parts if part)


def headers(documents: Sequence[Document], patient: PatientIdentity) -> dict[str, str]:
    """X-MSS-CODECDA (the CDA codes, comma-separated) and X-MSS-INS (O: qualified INS, N: not), only
    when the package holds CDA documents (ECO.2.4.1, ECO.2.4.2)."""
    codes = [document.cda_code for document in documents if document.cda_code]
    if not codes:
        return {}
    return {"X-MSS-CODECDA": ",".join(dict.fromkeys(codes)), "X-MSS-INS": "O" if patient.qualified else "N"}


README = (
    "IHE XDM package (IHE ITI TF-1 section 16): the documents and their metadata are in IHE_XDM/SUBSET01.\r\n"
    "Paquet IHE XDM : les documents et leurs metadonnees sont dans IHE_XDM/SUBSET01.\r\n"
)


def _index(files: dict[str, Document]) -> str:
    items = "".join(
        f'<li><a href="{SUBSET}{name}">{html.escape(document.title)}</a></li>' for name, document in files.items()
    )
    head = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>IHE XDM</title></head>'
    return f"{head}<body><ul>{items}</ul></body></html>"


def _extension(document: Document) -> str:
    return "XML" if document.mime_type == "text/xml" else "PDF"


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if c.isascii() and c.isprintable()).split())


def _oid() -> str:
    """A unique OID without a registered root: 2.25 followed by a UUID as an integer (ITU-T X.667)."""
    return f"2.25.{uuid.uuid4().int}"


def _rim(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{RIM}}}{tag}", attributes)


def _add_slot(parent: ET.Element, name: str, *values: str) -> None:
    value_list = _rim(_rim(parent, "Slot", name=name), "ValueList")
    for value in values:
        _rim(value_list, "Value").text = value


def _add_name(parent: ET.Element, text: str) -> None:
    _rim(_rim(parent, "Name"), "LocalizedString", value=text)


def _classification(parent: ET.Element, scheme: str, code: str, coding_scheme: str, label: str) -> None:
    node = _rim(
        parent, "Classification", id=f"urn:uuid:{uuid.uuid4()}", classificationScheme=scheme,
        classifiedObject=parent.get("id"), nodeRepresentation=code,
    )
    _add_slot(node, "codingScheme", coding_scheme)
    _add_name(node, label)


def _external_id(parent: ET.Element, scheme: str, value: str, label: str) -> None:
    node = _rim(
        parent, "ExternalIdentifier", id=f"urn:uuid:{uuid.uuid4()}", registryObject=parent.get("id"),
        identificationScheme=scheme, value=value,
    )
    _add_name(node, label)


def _author(parent: ET.Element, scheme: str, author: Author) -> None:
    node = _rim(
        parent, "Classification", id=f"urn:uuid:{uuid.uuid4()}", classificationScheme=scheme,
        classifiedObject=parent.get("id"), nodeRepresentation="",
    )
    person = f"{author.national_id or ''}^{author.family_name}^{author.given_name}^^^^^^"
    _add_slot(node, "authorPerson", person + (f"&{PS_NATIONAL_ID_OID}&ISO" if author.national_id else ""))
    institution = author.institution
    if author.finess:  # HL7 XON with the structure's national id, 1 + FINESS
        institution += f"^^^^^&{STRUCTURE_ID_OID}&ISO^IDNST^^^1{author.finess}"
    _add_slot(node, "authorInstitution", institution)


def _metadata_xml(files: dict[str, Document], cx: str, patient: PatientIdentity, author: Author, now: str) -> bytes:
    sex = {"1": "M", "2": "F"}.get(patient.sex, patient.sex.upper()[:1]) or "U"
    request = ET.Element(f"{{{LCM}}}SubmitObjectsRequest")
    objects = _rim(request, "RegistryObjectList")
    submission = _rim(objects, "RegistryPackage", id="SubmissionSet01")
    _add_slot(submission, "submissionTime", now)
    _author(submission, SUBMISSION_AUTHOR, author)
    first = next(iter(files.values()))
    _classification(submission, SUBMISSION_CONTENT_TYPE, first.type_code, LOINC, first.type_label)
    _external_id(submission, SUBMISSION_UNIQUE_ID, _oid(), "XDSSubmissionSet.uniqueId")
    source = f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, f'finess:{author.finess or author.institution}').int}"
    _external_id(submission, SUBMISSION_SOURCE_ID, source, "XDSSubmissionSet.sourceId")
    _external_id(submission, SUBMISSION_PATIENT_ID, cx, "XDSSubmissionSet.patientId")
    _rim(
        objects, "Classification", id="SubmissionSet01Classification", classifiedObject="SubmissionSet01",
        classificationNode=SUBMISSION_SET,
    )

    for number, (name, document) in enumerate(files.items(), 1):
        entry = _rim(
            objects, "ExtrinsicObject", id=f"Document{number:02d}", mimeType=document.mime_type,
            objectType=DOCUMENT_ENTRY,
        )
        _add_slot(entry, "creationTime", now)
        _add_slot(entry, "hash", hashlib.sha1(document.content).hexdigest())
        _add_slot(entry, "size", str(len(document.content)))
        _add_slot(entry, "URI", name)
        _add_slot(entry, "languageCode", "fr-FR")
        _add_slot(entry, "sourcePatientId", cx)
        _add_slot(
            entry, "sourcePatientInfo", f"PID-3|{cx}", f"PID-5|{patient.birth_name}^{patient.first_names}^^^^^L",
            f"PID-7|{patient.birth_date.strftime('%Y%m%d')}", f"PID-8|{sex}",
        )
        _add_name(entry, document.title)
        _author(entry, DOCUMENT_AUTHOR, author)
        _classification(entry, DOCUMENT_CONFIDENTIALITY, *CONFIDENTIALITY_NORMAL, "Normal")
        _classification(entry, DOCUMENT_FORMAT, *FORMAT_CODE, document.mime_type)
        _classification(entry, DOCUMENT_TYPE, document.type_code, LOINC, document.type_label)
        _external_id(entry, DOCUMENT_PATIENT_ID, cx, "XDSDocumentEntry.patientId")
        _external_id(entry, DOCUMENT_UNIQUE_ID, _oid(), "XDSDocumentEntry.uniqueId")
        association = _rim(
            objects, "Association", id=f"Association{number:02d}", associationType=HAS_MEMBER,
            sourceObject="SubmissionSet01", targetObject=entry.get("id"),
        )
        _add_slot(association, "SubmissionSetStatus", "Original")
    return ET.tostring(request, encoding="utf-8", xml_declaration=True)
