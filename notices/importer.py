"""Reading the DUI's exports of usagers: a CSV file or a FHIR R4 Bundle of Patient resources (FR Core).

An adapter with no database: it turns the bytes of an untrusted file into records of text values,
named by the fields of `service.UsagerData`, and notes what it cannot read. Reasons are French,
translatable, and never repeat a name, a date or a number of the file: reports end up on screens
and in terminals, the line number is enough to find the row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l

from notices.forms import MAX_REPRESENTATIVES
from notices.models import IdentityStatus, Protection, RepresentativeRole, Sex
from portal import ins

CSV = "csv"
FHIR = "fhir"
MAX_BYTES = 10 * 1024 * 1024
# A large establishment has a few thousand usagers; beyond this, the file is split or the wrong one.
MAX_ROWS = 5000

# CSV column -> field of UsagerData. A column absent from the file leaves the stored value as it is.
USAGER_COLUMNS = {
    "identifiant_dui": "local_id",
    "ins": "ins",
    "statut_identite": "identity_status",
    "nom_naissance": "birth_name",
    "prenoms_naissance": "birth_first_names",
    "date_naissance": "birth_date",
    "sexe": "sex",
    "code_lieu_naissance": "birth_place_code",
    "date_admission": "admission_date",
    "adresse1": "address_line1",
    "adresse2": "address_line2",
    "code_postal": "postal_code",
    "ville": "city",
    "email": "email",
    "protection": "protection",
}
# The identity traits without which a usager cannot be registered.
REQUIRED_COLUMNS = (
    "identifiant_dui",
    "statut_identite",
    "nom_naissance",
    "prenoms_naissance",
    "date_naissance",
    "sexe",
)
# representant<N>_<suffix> -> field of RepresentativeData, N from 1 to MAX_REPRESENTATIVES.
REPRESENTATIVE_COLUMNS = {
    "role": "role",
    "nom": "last_name",
    "prenoms": "first_names",
    "adresse1": "address_line1",
    "adresse2": "address_line2",
    "code_postal": "postal_code",
    "ville": "city",
    "email": "email",
    "type_mesure": "judgment_type",
    "etendue_mesure": "judgment_scope",
    "reference_jugement": "judgment_reference",
    "date_jugement": "judgment_date",
    "fin_mesure": "measure_end_date",
}
COLUMN_OF = {name: column for column, name in USAGER_COLUMNS.items()}
SUFFIX_OF = {name: suffix for suffix, name in REPRESENTATIVE_COLUMNS.items()}
REPRESENTATIVE_RE = re.compile(r"^representant(\d+)_(\w+)$")
DATE_FIELDS = {"birth_date", "admission_date", "judgment_date", "measure_end_date"}
DAY_FIRST_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
DELIMITERS = (";", ",", "\t")


def fold(text: str) -> str:
    """Lower case without accents: how headers and coded values are compared."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Accepted spellings of the coded values, compared folded (see fold); the first is the documented one.
CODES = {
    "identity_status": {
        IdentityStatus.PROVISOIRE: ("provisoire", "prov"),
        IdentityStatus.RECUPEREE: ("recuperee", "recup"),
        IdentityStatus.VALIDEE: ("validee", "vali"),
        IdentityStatus.QUALIFIEE: ("qualifiee", "qual"),
    },
    "sex": {Sex.F: ("F", "féminin"), Sex.M: ("M", "masculin")},
    "protection": {
        Protection.NONE: ("aucune", "", "none"),
        Protection.CURATELLE: ("curatelle",),
        Protection.REPRESENTATION_BIENS: ("representation_biens",),
        Protection.REPRESENTATION_PERSONNE: ("representation_personne",),
    },
    "role": {role: (role.value,) for role in RepresentativeRole},
}
# Folded spelling -> stored value, by field.
CODE_VALUES = {
    name: {fold(spelling): value.value for value, spellings in codes.items() for spelling in spellings}
    for name, codes in CODES.items()
}

# FR Core (hl7.fr/ig/fhir/core): the INS slices of FRCorePatientINSProfile, by identifier system.
NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"  # type INS-NIR, use official
NIA_SYSTEM = "urn:oid:1.2.250.1.213.1.4.9"  # type INS-NIA, use temp
TEST_SYSTEMS = {"urn:oid:1.2.250.1.213.1.4.10", "urn:oid:1.2.250.1.213.1.4.11"}  # fictitious INSi test/demo patients
INS_KINDS = {NIR_SYSTEM: ins.Kind.NIR, NIA_SYSTEM: ins.Kind.NIA}
IDENTITY_RELIABILITY = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
BIRTH_LIST_GIVEN_NAME = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name"
BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
INSEE_CODE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
FHIR_STATUSES = {
    "PROV": IdentityStatus.PROVISOIRE,
    "RECUP": IdentityStatus.RECUPEREE,
    "VALI": IdentityStatus.VALIDEE,
    "QUAL": IdentityStatus.QUALIFIEE,
}
FHIR_GENDERS = {"female": Sex.F, "male": Sex.M}
# Where each field comes from in a Patient, to name it in the report.
FHIR_PATHS = {
    "local_id": "identifier (PI)",
    "ins": "identifier (INS-NIR / INS-NIA)",
    "identity_status": "extension identityReliability.identityStatus",
    "birth_name": "name (official).family",
    "birth_first_names": "name (official).given",
    "birth_date": "birthDate",
    "sex": "gender",
    "birth_place_code": "extension birthPlace",
    "address_line1": "address.line",
    "address_line2": "address.line",
    "postal_code": "address.postalCode",
    "city": "address.city",
    "email": "telecom (email)",
    "active": "active",
    "resource": "resource",
}

ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": _l("UTF-8 avec BOM"),
    "utf-16": "UTF-16",
    "cp1252": _l("Windows-1252 (export Windows ou Excel)"),
}
DELIMITER_LABELS = {";": _l("point-virgule"), ",": _l("virgule"), "\t": _l("tabulation")}


class UnreadableFile(ValueError):
    """The whole file is refused: nothing of it can be imported. The message is for the person who sent it."""


@dataclass(frozen=True)
class Problem:
    field: str  # the column or FHIR element, as the report names it
    reason: str


@dataclass
class Record:
    """One usager of the file, before validation."""

    position: int  # CSV line number, or index of the Bundle entry
    # Fields of UsagerData the file carries, as text (dates in ISO form, coded values as stored).
    values: dict[str, str]
    # (N, fields of RepresentativeData) in file order; None when the file says nothing of representatives.
    representatives: list[tuple[int, dict[str, str]]] | None
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Reading:
    format: str
    encoding: str
    delimiter: str | None
    records: list[Record]
    warnings: list[str]

    def label(self, name: str, representative: int | None = None) -> str:
        """How the report names a field of UsagerData (or of representative N) for this kind of file."""
        if self.format == FHIR:
            return FHIR_PATHS.get(name, name)
        if representative is not None:
            return f"representant{representative}_{SUFFIX_OF.get(name, name)}"
        return COLUMN_OF.get(name, name)

    def where(self, position: int) -> str:
        return str(
            _l("entrée %(index)d", index=position) if self.format == FHIR else _l("ligne %(line)d", line=position)
        )


def read(data: bytes) -> Reading:
    """The records of a CSV or FHIR JSON export, told apart by their content; UnreadableFile if neither."""
    if len(data) > MAX_BYTES:
        raise UnreadableFile(_l("Le fichier dépasse %(size)d Mo.", size=MAX_BYTES // (1024 * 1024)))
    if not data.strip():
        raise UnreadableFile(_l("Le fichier est vide."))
    if data.startswith(b"PK\x03\x04"):
        raise UnreadableFile(
            _l("Ce fichier est un classeur (Excel, LibreOffice) : enregistrez-le au format CSV, puis importez le CSV.")
        )
    text, encoding = _decode(data)
    if "\x00" in text:
        raise UnreadableFile(_l("Ce fichier n'est pas un texte : importez un export CSV ou JSON du dossier usager."))
    if text.lstrip().startswith(("{", "[")):
        return _read_fhir(text, encoding)
    return _read_csv(text, encoding)


def csv_template() -> str:
    """The header line of the documented CSV, with two representatives, separated by ';' as French Excel does."""
    columns = [*USAGER_COLUMNS] + [f"representant{n}_{suffix}" for n in (1, 2) for suffix in REPRESENTATIVE_COLUMNS]
    return ";".join(columns) + "\r\n"


def _decode(data: bytes) -> tuple[str, str]:
    # A BOM says what it is; otherwise strict UTF-8, and Windows-1252 when the bytes are not UTF-8
    # (an accented letter in Windows-1252 is never followed by what UTF-8 requires).
    if data.startswith(codecs.BOM_UTF8):
        candidates = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    else:
        candidates = ("utf-8", "cp1252")
    for encoding in candidates:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(_l("Encodage du fichier non reconnu : enregistrez-le en UTF-8 (ou Windows-1252)."))


# CSV


def _read_csv(text: str, encoding: str) -> Reading:
    lines = io.StringIO(text, newline="")
    first = lines.readline()
    delimiter, header = _header(first)
    warnings = []
    seen = set()
    for name in header:
        if name in seen:
            raise UnreadableFile(_l("La colonne %(column)s apparaît deux fois dans l'en-tête.", column=name))
        seen.add(name)
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise UnreadableFile(_l("Colonnes obligatoires absentes : %(columns)s.", columns=", ".join(missing)))
    usager_columns, representative_columns, unknown = {}, {}, []
    for index, name in enumerate(header):
        match = REPRESENTATIVE_RE.match(name)
        if name in USAGER_COLUMNS:
            usager_columns[index] = USAGER_COLUMNS[name]
        elif match and match[2] in REPRESENTATIVE_COLUMNS and 1 <= int(match[1]) <= MAX_REPRESENTATIVES:
            representative_columns[index] = (int(match[1]), REPRESENTATIVE_COLUMNS[match[2]])
        elif name:
            unknown.append(name)
    if unknown:
        warnings.append(str(_l("Colonnes inconnues, ignorées : %(columns)s.", columns=", ".join(unknown))))
    numbers = sorted({number for number, _name in representative_columns.values()})

    records = []
    # strict: an unclosed quote is an error, not the rest of the file swallowed into one cell.
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    while True:
        position = reader.line_num + 2  # where the next record starts: the header was line 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            raise UnreadableFile(
                _l("Ligne %(line)d illisible : guillemet non refermé ou valeur trop longue.", line=position)
            ) from None
        if not any(cell.strip() for cell in row):
            continue
        if len(records) >= MAX_ROWS:
            raise UnreadableFile(_l("Le fichier compte plus de %(rows)d usagers : découpez-le.", rows=MAX_ROWS))
        records.append(_csv_record(position, row, len(header), usager_columns, representative_columns, numbers))
    return Reading(CSV, encoding, delimiter, records, warnings)


def _header(first_line: str) -> tuple[str, list[str]]:
    """The separator that names the most known columns, and the folded column names."""
    best = None
    for delimiter in DELIMITERS:
        cells = next(csv.reader([first_line], delimiter=delimiter), [])
        names = [re.sub(r"[\s-]+", "_", fold(cell)) for cell in cells]
        known = sum(1 for name in names if name in USAGER_COLUMNS or REPRESENTATIVE_RE.match(name))
        if known and (best is None or known > best[0]):
            best = (known, delimiter, names)
    if best is None:
        raise UnreadableFile(
            _l(
                "En-tête non reconnu : la première ligne nomme les colonnes (%(example)s…), séparées par "
                "des points-virgules ou des virgules.",
                example=";".join(REQUIRED_COLUMNS[:3]),
            )
        )
    return best[1], best[2]


def _csv_record(position, row, width, usager_columns, representative_columns, numbers) -> Record:
    record = Record(position, {}, [] if numbers else None)
    # Excel may end a line with empty cells past the header; anything else out of place shifts the columns.
    while len(row) > width and not row[-1].strip():
        row.pop()
    if len(row) != width:
        reason = _l("%(found)d valeurs pour %(expected)d colonnes.", found=len(row), expected=width)
        record.problems.append(Problem(str(_l("toute la ligne")), reason))
        return record
    for index, name in usager_columns.items():
        record.values[name] = _value(record, name, row[index], COLUMN_OF[name])
    groups = {number: {} for number in numbers}
    for index, (number, name) in representative_columns.items():
        groups[number][name] = _value(record, name, row[index], f"representant{number}_{SUFFIX_OF[name]}")
    for number, values in groups.items():
        if not any(values.values()):
            continue  # no such representative on this line
        if not values.get("last_name"):
            record.problems.append(Problem(f"representant{number}_nom", _l("Nom du représentant manquant.")))
        if not values.get("role"):
            record.problems.append(Problem(f"representant{number}_role", _l("Qualité du représentant manquante.")))
        record.representatives.append((number, values))
    return record


def _value(record: Record, name: str, raw: str, label: str) -> str:
    """The cell as the form takes it: coded values and dates normalised; a problem noted if it cannot be."""
    text = raw.strip()
    if name in DATE_FIELDS:
        parsed = _date(text)
        if parsed is None:
            record.problems.append(Problem(label, _l("Date invalide : JJ/MM/AAAA ou AAAA-MM-JJ attendu.")))
            return ""
        return parsed
    codes = CODES.get(name)
    if codes is None:
        return text
    folded = fold(text)
    if not folded and name == "role":
        return ""  # an empty representative is no representative; a named one without role is reported once
    if folded in CODE_VALUES[name]:
        return CODE_VALUES[name][folded]
    documented = ", ".join(spellings[0] for spellings in codes.values())
    reason = (
        _l("Valeur manquante ; valeurs possibles : %(values)s.", values=documented)
        if not folded
        else _l("Valeur inconnue ; valeurs possibles : %(values)s.", values=documented)
    )
    record.problems.append(Problem(label, reason))
    return text


def _date(text: str) -> str | None:
    """ISO text of a JJ/MM/AAAA or AAAA-MM-JJ date; "" for an empty cell, None when not a date."""
    if not text:
        return ""
    day_first, iso = DAY_FIRST_RE.match(text), ISO_RE.match(text)
    if day_first:
        day, month, year = day_first.groups()
    elif iso:
        year, month, day = iso.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


# FHIR R4


def _read_fhir(text: str, encoding: str) -> Reading:
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFile(
            _l("JSON invalide (ligne %(line)d, colonne %(column)d).", line=error.lineno, column=error.colno)
        ) from None
    except RecursionError:
        raise UnreadableFile(_l("JSON trop profondément imbriqué.")) from None
    kind = bundle.get("resourceType") if isinstance(bundle, dict) else None
    if kind != "Bundle":
        raise UnreadableFile(
            _l(
                "Ce JSON n'est pas un Bundle FHIR (resourceType « %(kind)s ») : "
                "exportez un Bundle de ressources Patient.",
                kind=kind if isinstance(kind, str) else "?",
            )
        )
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise UnreadableFile(_l("Le Bundle FHIR n'a pas de liste « entry »."))
    records, warnings = [], []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
        if resource_type != "Patient":
            # An OperationOutcome of a search, a Practitioner...: not a usager, not an error of the file.
            warnings.append(str(_l("Entrée %(index)d ignorée : ce n'est pas une ressource Patient.", index=index)))
            continue
        if len(records) >= MAX_ROWS:
            raise UnreadableFile(_l("Le fichier compte plus de %(rows)d usagers : découpez-le.", rows=MAX_ROWS))
        records.append(_patient(index, resource))
    return Reading(FHIR, encoding, None, records, warnings)


def _patient(index: int, patient: dict) -> Record:
    record = Record(index, {}, None)  # FR Core carries no legal protection: representatives stay as stored
    problems = record.problems
    if patient.get("active") is False:
        problems.append(
            Problem(FHIR_PATHS["active"], _l("Patient inactif (identité désactivée, doublon) : non importé."))
        )
    identifiers = [i for i in _dicts(patient.get("identifier")) if i.get("use") != "old"]

    local_ids = {_text(i.get("value")) for i in identifiers if "PI" in _codes(i.get("type"))} - {""}
    if not local_ids:
        problems.append(Problem(FHIR_PATHS["local_id"], _l("Identifiant du dossier absent (identifier de type PI).")))
    elif len(local_ids) > 1:
        problems.append(
            Problem(FHIR_PATHS["local_id"], _l("Plusieurs identifiants de dossier (identifier de type PI)."))
        )
    record.values["local_id"] = local_ids.pop() if len(local_ids) == 1 else ""
    record.values["ins"] = _ins(identifiers, problems)

    statuses = {
        _text(_dict(sub.get("valueCoding")).get("code"))
        for extension in _extensions(patient, IDENTITY_RELIABILITY)
        for sub in _extensions(extension, "identityStatus")
    }
    if len(statuses) != 1 or next(iter(statuses)) not in FHIR_STATUSES:
        problems.append(
            Problem(
                FHIR_PATHS["identity_status"],
                _l("Statut de l'identité absent ou inconnu : PROV, RECUP, VALI ou QUAL attendu."),
            )
        )
        record.values["identity_status"] = ""
    else:
        record.values["identity_status"] = FHIR_STATUSES[statuses.pop()].value

    official = [name for name in _dicts(patient.get("name")) if name.get("use") == "official"]
    if len(official) != 1:
        problems.append(
            Problem(FHIR_PATHS["birth_name"], _l("Un nom de naissance attendu (name avec use = official)."))
        )
    name = official[0] if official else {}
    record.values["birth_name"] = _text(name.get("family"))
    listed = [_text(e.get("valueString")) for e in _extensions(name, BIRTH_LIST_GIVEN_NAME)]
    record.values["birth_first_names"] = listed[0] if listed else " ".join(_strings(name.get("given")))

    # FHIR allows a year or a year and month alone; an INS birth date is a whole date.
    birth_date = _text(patient.get("birthDate"))
    parsed = _date(birth_date) if not birth_date or ISO_RE.match(birth_date) else None
    if parsed is None:
        problems.append(Problem(FHIR_PATHS["birth_date"], _l("Date de naissance incomplète ou invalide.")))
    record.values["birth_date"] = parsed or ""
    gender = FHIR_GENDERS.get(_text(patient.get("gender")))
    if gender is None:
        problems.append(Problem(FHIR_PATHS["sex"], _l("Sexe : female ou male attendu (trait INS).")))
    record.values["sex"] = gender.value if gender else ""

    places = [_dict(e.get("valueAddress")) for e in _extensions(patient, BIRTH_PLACE)]
    codes = [_text(_dict(e.get("valueCoding")).get("code")) for place in places for e in _extensions(place, INSEE_CODE)]
    record.values["birth_place_code"] = codes[0] if codes else ""

    addresses = [a for a in _dicts(patient.get("address")) if a.get("use") not in ("old", "temp", "billing")]
    address = next((a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else {})
    lines = _strings(address.get("line"))
    record.values["address_line1"] = lines[0] if lines else ""
    record.values["address_line2"] = " ".join(lines[1:])
    record.values["postal_code"] = _text(address.get("postalCode"))
    record.values["city"] = _text(address.get("city"))
    emails = [t for t in _dicts(patient.get("telecom")) if t.get("system") == "email" and t.get("use") != "old"]
    record.values["email"] = _text(emails[0].get("value")) if emails else ""
    return record


def _ins(identifiers: list[dict], problems: list[Problem]) -> str:
    """The matricule of the INS identifiers; the NIR when a person has both (the NIA was temporary)."""
    found = {}
    for identifier in identifiers:
        system = identifier.get("system")
        if system in TEST_SYSTEMS:
            problems.append(Problem(FHIR_PATHS["ins"], _l("Matricule INS de test ou de démonstration : non importé.")))
            continue
        # FR Core's NSS slice (type NH: the billing number, maybe the insured parent's) shares the NIR's system.
        if system not in INS_KINDS or "NH" in _codes(identifier.get("type")):
            continue
        value = ins.normalise(_text(identifier.get("value")))
        try:
            _matricule, kind = ins.validate(value)
        except ins.InvalidMatricule:
            kind = None  # the form says what is wrong with it
        if kind is not None and kind != INS_KINDS[system]:
            problems.append(
                Problem(
                    FHIR_PATHS["ins"], _l("Le matricule ne correspond pas à son système (NIR en 1.4.8, NIA en 1.4.9).")
                )
            )
        found.setdefault(INS_KINDS[system], set()).add(value)
    values = found.get(ins.Kind.NIR) or found.get(ins.Kind.NIA) or set()
    if len(values) > 1:
        problems.append(Problem(FHIR_PATHS["ins"], _l("Plusieurs matricules INS différents pour ce patient.")))
        return ""
    return next(iter(values), "")


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _strings(value) -> list[str]:
    return [text for text in map(_text, value) if text] if isinstance(value, list) else []


def _codes(concept) -> set[str]:
    return {_text(coding.get("code")) for coding in _dicts(_dict(concept).get("coding"))}


def _extensions(element: dict, url: str) -> list[dict]:
    return [extension for extension in _dicts(element.get("extension")) if extension.get("url") == url]
