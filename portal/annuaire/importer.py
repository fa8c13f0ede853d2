"""Reading the ANS files: the MSSanté extraction, the RPPS activities and the trust-space domain list.

An adapter with no Flask and no database: it turns a path, a URL or a zip into rows
ready for staging, and reports the lines it cannot read.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import BinaryIO
from xml.etree import ElementTree

from portal.annuaire.text import FOLD_TABLE as _FOLD
from portal.annuaire.text import FoldCache

MSSANTE = "mssante"
RPPS = "rpps"
BAL_TYPES = {"PER", "ORG", "APP", "CAB"}
# Names the zip members we look for, and tells the two text files apart.
FILE_PREFIXES = {"Extraction_Correspondance_MSSante": MSSANTE, "PS_LibreAcces_Personne_activite": RPPS}
LISTE_BLANCHE_NS = "{https://listeblanche.mssante.fr/schema}"

# Columns this code needs; any other column is ignored, wherever it stands.
MSSANTE_REQUIRED = ("Type de BAL", "Adresse BAL")
RPPS_REQUIRED = ("Identification nationale PP", "Code profession", "Libellé profession")

# The order of the values of a staged MSSanté row: the entry's columns that the file gives.
ENTRY_FIELDS = (
    "address", "bal_type", "national_id", "civility", "last_name", "first_name", "profession_code",
    "profession", "specialty", "structure_id", "structure_name", "service", "street", "postal_code",
    "city", "department", "name_key", "first_key", "own_text",
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
        # utf-8-sig drops a BOM; newline="" splits lines at CR, LF or CRLF and leaves the ending to strip.
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
    lines = source.text()
    # The format has no quoting: a line is its values joined by "|".
    header = [name.strip() for name in next(lines, "").rstrip("\r\n").split("|")]
    if header == [""]:
        header = []
    if all(name in header for name in MSSANTE_REQUIRED):
        return MSSANTE, _mssante_rows(lines, header)
    if all(name in header for name in RPPS_REQUIRED):
        return RPPS, _rpps_rows(lines, header)
    raise UnreadableFile("en-tête non reconnu : ni extraction MSSanté ni fichier RPPS")


def _padded(line: str) -> bool:
    """Whether a value may have white space at either end: most lines have none, and keep their values as split."""
    return " |" in line or "| " in line or "\t" in line or "\xa0" in line or line[0] == " " or line[-1] == " "


def _records(lines: Iterator[str], header: list[str], names: tuple[str, ...]) -> Iterator[tuple[int, tuple] | Rejected]:
    """(line, the values of `names`) for each readable line; a column absent from an older file reads as empty."""
    index = {}
    for i, name in enumerate(header):
        if name:
            index[name] = i  # the last column of a repeated name, as a dict of the header would say
    width = len(header)
    pick = itemgetter(*(index.get(name, width) for name in names))
    for line_number, line in enumerate(lines, 2):
        line = line.rstrip("\r\n")
        if not line:
            continue  # a blank line is no row at all
        row = line.split("|")
        if len(row) != width:
            yield Rejected(line_number, f"{len(row)} colonnes au lieu de {width}")
            continue
        if "\ufffd" in line:
            yield Rejected(line_number, "caractères non UTF-8")
            continue
        if _padded(line):
            row = [value.strip() for value in row]
        row.append("")
        yield line_number, pick(row)


# Read by name; the first ones are those of a staged row, the others only add search words.
MSSANTE_COLUMNS = (
    "Adresse BAL", "Type de BAL", "Identification nationale PP", "Civilité d'exercice", "Nom d'exercice",
    "Prénom d'exercice", "Code Profession", "Libellé Profession", "Libellé savoir-faire", "Identification Structure",
    "Raison Sociale structure BAL", "Enseigne commerciale structure BAL", "Service de rattachement",
    "L4NUMEROVOIE structure BAL", "L4COMPLEMENTNUMEROVOIE structure BAL", "NL4TYPEVOIE structure BAL",
    "L4LIBELLEVOIE structure BAL", "Code postal structure BAL", "L6LIGNEACHEMINEMENT structure BAL",
    "Département structure BAL", "L2COMPLEMENTLOCALISATION structure BAL", "L3COMPLEMENTDISTRIBUTION structure BAL",
    "L5LIEUDITMENTION structure BAL",
)  # fmt: skip
# The values whose words are searched besides the address's: names, labels, structure and place (not the codes).
_SEARCHED = itemgetter(4, 5, 7, 8, *range(10, len(MSSANTE_COLUMNS)))


def _mssante_rows(lines: Iterator[str], header: list[str]) -> Iterator[tuple | Rejected]:
    # Names, labels and places come back on many lines: each value is folded once (see FoldCache).
    folded = FoldCache().__getitem__
    for record in _records(lines, header, MSSANTE_COLUMNS):
        if type(record) is Rejected:
            yield record
            continue
        line, values = record
        (raw_address, raw_type, national_id, civility, last, first, profession_code, profession, specialty,
         structure_id, raison, enseigne, service, number, number_complement, street_type, street_name, postal_code,
         l6, department, *_) = values  # fmt: skip
        address = raw_address.lower()
        local, _, domain = address.partition("@")
        if not local or "." not in domain or "@" in domain or " " in address:
            yield Rejected(line, f"adresse BAL invalide : {raw_address[:80]!r}")
            continue
        bal_type = raw_type.upper()
        if bal_type not in BAL_TYPES:
            yield Rejected(line, f"type de BAL inconnu : {raw_type[:10]!r}")
            continue
        structure = raison or enseigne
        if bal_type == "PER":
            name_key, first_key = folded(last), folded(first)
        else:  # a service's mailboxes sort under their structure
            name_key, first_key = folded(structure), folded(service)
        # The words of the address (the trust-space suffix is no search word), then of the other values.
        own_text = " ".join(
            filter(None, (local.translate(_FOLD), folded(domain.removesuffix(".mssante.fr")),
                          *map(folded, _SEARCHED(values))))
        )  # fmt: skip
        yield (
            line, address, bal_type, national_id, civility, last, first, profession_code, profession, specialty,
            structure_id, structure, service,
            " ".join(filter(None, (number, number_complement, street_type, street_name))),
            # L6 reads "72000 LE MANS": the town is what follows the postal code.
            postal_code, l6.removeprefix(postal_code).strip(), department, name_key[:100], first_key[:100], own_text,
        )  # fmt: skip


RPPS_COLUMNS = (
    "Identification nationale PP", "Code profession", "Libellé profession", "Code savoir-faire",
    "Libellé savoir-faire", "Code mode exercice", "Libellé mode exercice", "Raison sociale site",
    "Enseigne commerciale site", "Code postal (coord. structure)", "Libellé commune (coord. structure)",
)  # fmt: skip


def _rpps_rows(lines: Iterator[str], header: list[str]) -> Iterator[tuple | Rejected]:
    folded = FoldCache().__getitem__
    # The same labels, structure and town come back on many lines: their words are worked out once.
    summaries: dict[tuple[str, str, str, str], str] = {}
    for record in _records(lines, header, RPPS_COLUMNS):
        if type(record) is Rejected:
            yield record
            continue
        line, (national_id, profession_code, profession, specialty_code, specialty, mode_code, mode, raison, enseigne,
               postal_code, city) = record  # fmt: skip
        if not national_id.isdigit():
            yield Rejected(line, f"identification nationale invalide : {national_id[:20]!r}")
            continue
        structure = raison or enseigne
        key = (profession, specialty, structure, city)
        summary = summaries.get(key)
        if summary is None:
            if len(summaries) >= 200_000:
                summaries.clear()
            summary = summaries[key] = " ".join(dict.fromkeys(" ".join(map(folded, key)).split()))
        yield (line, national_id, profession_code, profession, specialty_code, specialty, mode_code, mode, structure,
               postal_code, city, summary)  # fmt: skip


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
