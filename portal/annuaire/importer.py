"""Reading the ANS files: the MSSanté extraction, the RPPS activities and the trust-space domain list.

An adapter with no Flask and no database: it turns a path, a URL or a zip into rows
ready for staging, and reports the lines it cannot read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO
from xml.etree import ElementTree

from portal.annuaire.text import fold, words

MSSANTE = "mssante"
RPPS = "rpps"
BAL_TYPES = {"PER", "ORG", "APP", "CAB"}
# Names the zip members we look for, and tells the two text files apart.
FILE_PREFIXES = {"Extraction_Correspondance_MSSante": MSSANTE, "PS_LibreAcces_Personne_activite": RPPS}
LISTE_BLANCHE_NS = "{https://listeblanche.mssante.fr/schema}"

# Columns this code needs; any other column is ignored, wherever it stands.
MSSANTE_REQUIRED = ("Type de BAL", "Adresse BAL")
RPPS_REQUIRED = ("Identification nationale PP", "Code profession", "Libellé profession")

# The order of the values of a staged MSSanté row (see sync.STAGED_ENTRY_COLUMNS).
ENTRY_FIELDS = (
    "address", "bal_type", "national_id", "civility", "last_name", "first_name", "profession_code",
    "profession", "specialty", "structure_id", "structure_name", "service", "street", "postal_code",
    "city", "department", "name_key", "first_key", "own_text", "row_hash",
)  # fmt: skip
ACTIVITY_FIELDS = (
    "national_id", "profession_code", "profession", "specialty_code", "specialty", "mode_code", "mode",
    "structure_name", "postal_code", "city", "words",
)  # fmt: skip


class UnreadableFile(Exception):
    """The file is not one of the ANS files, or lacks a column we need."""


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True)
class Domain:
    name: str
    description: str
    operator_dn: str
    updated: str


class _CountingReader(io.RawIOBase):
    """Counts the bytes read, for a progress bar on any stream (file, zip member)."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        read = self.raw.readinto(buffer)
        self.count += read
        return read


@dataclass
class Source:
    name: str
    size: int
    reader: _CountingReader

    @property
    def bytes_read(self) -> int:
        return self.reader.count

    def text(self) -> io.TextIOWrapper:
        # utf-8-sig drops a BOM; newline="" leaves CRLF to the csv reader, which strips it.
        return io.TextIOWrapper(io.BufferedReader(self.reader, 1 << 20), encoding="utf-8-sig", errors="replace", newline="")


@contextmanager
def open_source(location: str) -> Iterator[Source]:
    """A local path or an http(s) URL, plain or zipped."""
    with tempfile.TemporaryDirectory() as scratch:
        path = location
        if location.startswith(("https://", "http://")):
            path = os.path.join(scratch, os.path.basename(location.split("?")[0]) or "download")
            with urllib.request.urlopen(location, timeout=60) as response, open(path, "wb") as out:
                shutil.copyfileobj(response, out)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = _zip_member(archive)
                with archive.open(member) as raw:
                    yield Source(os.path.basename(member.filename), member.file_size, _CountingReader(raw))
            return
        with open(path, "rb") as raw:
            yield Source(os.path.basename(location), os.path.getsize(path), _CountingReader(raw))


def _zip_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    for member in archive.infolist():
        name = os.path.basename(member.filename)
        if name.startswith(tuple(FILE_PREFIXES)) or name.endswith(".xml"):
            return member
    raise UnreadableFile("l'archive ne contient aucun fichier de l'annuaire")


def rows(source: Source) -> tuple[str, Iterator[tuple | Rejected]]:
    """The kind of file (MSSANTE or RPPS), and its rows as (line, *FIELDS) tuples or rejections."""
    reader = csv.reader(source.text(), delimiter="|", quoting=csv.QUOTE_NONE)
    header = [name.strip() for name in next(reader, [])]
    if all(name in header for name in MSSANTE_REQUIRED):
        return MSSANTE, _records(reader, header, _mssante_row)
    if all(name in header for name in RPPS_REQUIRED):
        return RPPS, _records(reader, header, _rpps_row)
    raise UnreadableFile("en-tête non reconnu : ni extraction MSSanté ni fichier RPPS")


def _records(reader, header: list[str], convert) -> Iterator[tuple | Rejected]:
    index = {name: i for i, name in enumerate(header) if name}
    width = len(header)
    for row in reader:
        line = reader.line_num
        if len(row) != width:
            if row:  # a blank line is no row at all
                yield Rejected(line, f"{len(row)} colonnes au lieu de {width}")
            continue
        if any("\ufffd" in value for value in row):
            yield Rejected(line, "caractères non UTF-8")
            continue
        # Columns absent from an older file read as empty.
        yield convert(line, defaultdict(str, {name: row[i].strip() for name, i in index.items()}))


def _mssante_row(line: int, get: defaultdict[str, str]) -> tuple | Rejected:
    address = get["Adresse BAL"].lower()
    local, _, domain = address.partition("@")
    if not local or "." not in domain or "@" in domain or " " in address:
        return Rejected(line, f"adresse BAL invalide : {get['Adresse BAL'][:80]!r}")
    bal_type = get["Type de BAL"].upper()
    if bal_type not in BAL_TYPES:
        return Rejected(line, f"type de BAL inconnu : {get['Type de BAL'][:10]!r}")
    structure = get["Raison Sociale structure BAL"] or get["Enseigne commerciale structure BAL"]
    street = " ".join(
        part
        for part in (
            get["L4NUMEROVOIE structure BAL"], get["L4COMPLEMENTNUMEROVOIE structure BAL"],
            get["NL4TYPEVOIE structure BAL"], get["L4LIBELLEVOIE structure BAL"],
        )
        if part
    )  # fmt: skip
    postal_code = get["Code postal structure BAL"]
    # L6 reads "72000 LE MANS": the town is what follows the postal code.
    city = get["L6LIGNEACHEMINEMENT structure BAL"].removeprefix(postal_code).strip()
    last, first, service = get["Nom d'exercice"], get["Prénom d'exercice"], get["Service de rattachement"]
    if bal_type == "PER":
        name_key, first_key = fold(last), fold(first)
    else:  # a service's mailboxes sort under their structure
        name_key, first_key = fold(structure), fold(service)
    fields = (
        address, bal_type, get["Identification nationale PP"], get["Civilité d'exercice"], last, first,
        get["Code Profession"], get["Libellé Profession"], get["Libellé savoir-faire"],
        get["Identification Structure"], structure, service, street, postal_code, city,
        get["Département structure BAL"],
    )  # fmt: skip
    own_text = " ".join(
        words(
            local, domain.removesuffix(".mssante.fr"), last, first, *fields[7:9], structure,
            get["Enseigne commerciale structure BAL"], service, get["L2COMPLEMENTLOCALISATION structure BAL"],
            get["L3COMPLEMENTDISTRIBUTION structure BAL"], street, get["L5LIEUDITMENTION structure BAL"],
            postal_code, city, fields[15],
        )
    )
    digest = hashlib.blake2b("|".join(fields).encode(), digest_size=8).hexdigest()
    return (line, *fields, name_key[:100], first_key[:100], own_text, digest)


def _rpps_row(line: int, get: defaultdict[str, str]) -> tuple | Rejected:
    national_id = get["Identification nationale PP"]
    if not national_id.isdigit():
        return Rejected(line, f"identification nationale invalide : {national_id[:20]!r}")
    fields = (
        national_id, get["Code profession"], get["Libellé profession"], get["Code savoir-faire"],
        get["Libellé savoir-faire"], get["Code mode exercice"], get["Libellé mode exercice"],
        get["Raison sociale site"] or get["Enseigne commerciale site"],
        get["Code postal (coord. structure)"], get["Libellé commune (coord. structure)"],
    )  # fmt: skip
    return (line, *fields, " ".join(words(fields[2], fields[4], fields[7], fields[9])))


def parse_domains(stream: BinaryIO) -> list[Domain]:
    """The domains of listeblanchemssante.xml (expat fetches no external entity)."""
    root = ElementTree.parse(stream).getroot()
    if root.tag != f"{LISTE_BLANCHE_NS}ListeBlancheMSSante":
        raise UnreadableFile("ce fichier n'est pas la liste blanche MSSanté")
    domains = {}
    for element in root.iter(f"{LISTE_BLANCHE_NS}Domaine"):
        name, description, operator_dn, updated = (
            (element.findtext(f"{LISTE_BLANCHE_NS}{tag}") or "").strip()
            for tag in ("Nom", "Description", "DNCertificatOperateur", "DateMAJ")
        )
        if name:
            domains[name.lower()] = Domain(name.lower(), description, operator_dn, updated)
    return list(domains.values())
