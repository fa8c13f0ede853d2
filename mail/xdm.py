"""Read the patient and document titles of an MSSanté IHE_XDM.ZIP attachment, defensively.

An XDM package (IHE ITI TF-1 § 16, TF-3 § 4.2) holds IHE_XDM/SUBSET01/METADATA.XML: an ebXML
SubmitObjectsRequest whose rim:ExtrinsicObject elements are the document entries. Each has
its title in rim:Name/rim:LocalizedString/@value, the patient in the XDSDocumentEntry.patientId
rim:ExternalIdentifier (identificationScheme urn:uuid:58a6f841-...) and in the sourcePatientId
and sourcePatientInfo slots ("PID-5|NOM^Prénom^^^", "PID-7|19800101"). Identifiers are HL7 CX
values, "<id>^^^&<assigning authority OID>&ISO"; in France the INS authority OIDs are below.
The archive and the XML come from strangers: sizes are capped and any DTD is refused, which
rules out entity expansion and external entities.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass

FILENAME = "IHE_XDM.ZIP"
METADATA = "IHE_XDM/SUBSET01/METADATA.XML"
MAX_MEMBERS = 1000
MAX_METADATA_BYTES = 4 * 1024 * 1024

PATIENT_ID_SCHEMES = {
    "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427",  # XDSDocumentEntry.patientId
    "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446",  # XDSSubmissionSet.patientId
}
INS_OIDS = {
    "1.2.250.1.213.1.4.8",  # INS-NIR
    "1.2.250.1.213.1.4.9",  # INS-NIA
    "1.2.250.1.213.1.4.10",  # INS-NIR, test identities
    "1.2.250.1.213.1.4.11",  # INS-NIR, demonstration identities
}


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
