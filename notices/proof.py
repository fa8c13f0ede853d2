"""The proof chain: every issued notice, status change, opposition and withdrawal as a signed, chained record.

Each establishment has its own chain. A record's payload is canonical JSON (sorted keys, no
spaces, UTF-8); its hash is SHA-256 of the previous record's hash, a newline and the payload;
that hash is signed (detached, ASCII-armoured OpenPGP) with the establishment's GnuPG key.
Changing, removing or inserting a record breaks a hash or a signature: verify() names the
first bad record. The key is made on first use (ed25519, no passphrase) in the GnuPG home of
the settings, or an existing key whose user id holds the establishment's proof address is used.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import gnupg
from flask import Flask
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from notices.models import Notice, Opposition, ProofRecord
from portal.database import utcnow
from portal.models import Establishment, User
from portal.settings import Settings

GENESIS = "0" * 64
_lock = threading.Lock()


class Keyring:
    """The establishments' signing keys in one GnuPG home."""

    def __init__(self, home: Path):
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.gpg = gnupg.GPG(gnupghome=str(home))
        self._fingerprints: dict[str, str] = {}

    def fingerprint(self, establishment: Establishment) -> str:
        """The fingerprint of the establishment's key, made if there is none yet."""
        with _lock:
            if establishment.finess not in self._fingerprints:
                self._fingerprints[establishment.finess] = self._find(establishment) or self._make(establishment)
            return self._fingerprints[establishment.finess]

    def sign(self, establishment: Establishment, data: str) -> tuple[str, str]:
        fingerprint = self.fingerprint(establishment)
        signed = self.gpg.sign(data, keyid=fingerprint, detach=True, binary=False)
        if not signed.data:
            raise RuntimeError(f"GnuPG could not sign with {fingerprint}: {signed.status}")
        return str(signed), fingerprint

    def verify(self, signature: str, data: str) -> str | None:
        """The fingerprint of the key that made this valid signature of data; None if it is not valid."""
        with tempfile.NamedTemporaryFile("w", suffix=".asc") as file:
            file.write(signature)
            file.flush()
            verified = self.gpg.verify_data(file.name, data.encode())
        return verified.pubkey_fingerprint if verified.valid else None

    def public_key(self, establishment: Establishment) -> str:
        return self.gpg.export_keys(self.fingerprint(establishment))

    def _find(self, establishment: Establishment) -> str | None:
        address = f"<{proof_address(establishment)}>"
        for key in self.gpg.list_keys(secret=True):
            if any(uid.endswith(address) for uid in key["uids"]):
                return key["fingerprint"]
        return None

    def _make(self, establishment: Establishment) -> str:
        made = self.gpg.gen_key(
            self.gpg.gen_key_input(
                key_type="EDDSA",
                key_curve="ed25519",
                key_usage="sign",
                name_real=f"{establishment.name} - preuves DMP",
                name_email=proof_address(establishment),
                expire_date=0,
                no_protection=True,
            )
        )
        if not made.fingerprint:
            raise RuntimeError(f"GnuPG could not make a key: {made.stderr}")
        return made.fingerprint


def proof_address(establishment: Establishment) -> str:
    return f"preuves-{establishment.finess}@portail.invalid"


# The keyring of each app's database: services get a session, not the app, and a test process
# runs several apps, each with its own instance path.
_keyrings: weakref.WeakKeyDictionary[Engine, Keyring] = weakref.WeakKeyDictionary()


def init_app(app: Flask, settings: Settings) -> None:
    _keyrings[app.extensions["database"].engine] = Keyring(settings.gnupg_home or settings.instance_path / "gnupg")


def keyring(db: Session) -> Keyring:
    return _keyrings[db.get_bind().engine]


@dataclass(frozen=True)
class BadRecord:
    sequence: int
    record_id: int
    reason: str


def canonical(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chained_hash(previous_hash: str, payload: str) -> str:
    return hashlib.sha256(f"{previous_hash}\n{payload}".encode()).hexdigest()


def append(db: Session, establishment: Establishment, usager_id: int | None, event: dict) -> ProofRecord:
    """Add the next record of the establishment's chain to the caller's transaction.

    The establishment's row is locked until the caller commits (PostgreSQL; SQLite writes one
    transaction at a time anyway): two requests appending at once take turns instead of one
    failing on the sequence's unique constraint.
    """
    db.execute(select(Establishment.id).where(Establishment.id == establishment.id).with_for_update())
    last = db.scalar(
        select(ProofRecord)
        .where(ProofRecord.establishment_id == establishment.id)
        .order_by(ProofRecord.sequence.desc())
        .limit(1)
    )
    sequence = last.sequence + 1 if last else 1
    previous_hash = last.record_hash if last else GENESIS
    payload = canonical(
        {**event, "sequence": sequence, "establishment": establishment.finess, "recorded_at": utcnow().isoformat()}
    )
    record_hash = chained_hash(previous_hash, payload)
    signature, fingerprint = keyring(db).sign(establishment, record_hash)
    proof = ProofRecord(
        establishment_id=establishment.id,
        sequence=sequence,
        usager_id=usager_id,
        payload=payload,
        previous_hash=previous_hash,
        record_hash=record_hash,
        signature=signature,
        key_fingerprint=fingerprint,
    )
    db.add(proof)
    db.flush()
    return proof


def notice_event(notice: Notice, kind: str, actor: User | None = None) -> dict:
    """What a record says of a notice: who, in which capacity, how, which text, which content, which status."""
    return {
        "kind": kind,
        "notice": notice.reference,
        "usager": notice.usager.local_id,
        "addressee": notice.addressee_name,
        "capacity": notice.addressee_capacity,
        "variant": notice.variant,
        "channel": notice.channel,
        "text_version_id": notice.text_id,
        "text_version_number": notice.text.number,
        "content_sha256": notice.content_sha256,
        "status": notice.status.value,
        "failure_reason": notice.failure_reason,
        "by": actor.email if actor else notice.issuer_label,
    }


def opposition_event(opposition: Opposition, kind: str) -> dict:
    return {
        "kind": kind,
        "usager": opposition.usager.local_id,
        "notice": opposition.notice.reference if opposition.notice else None,
        "opposed_by": opposition.opposed_by,
        # The reason is the person's own words about their health: the chain keeps its hash only.
        "reason_sha256": hashlib.sha256(opposition.reason.encode()).hexdigest(),
        "opposed_at": opposition.recorded_at.isoformat(),
        "withdrawn_at": opposition.withdrawn_at.isoformat() if opposition.withdrawn_at else None,
    }


def verify(db: Session, establishment: Establishment) -> tuple[int, BadRecord | None]:
    """(records checked, the first bad record or None)."""
    fingerprint = keyring(db).fingerprint(establishment)
    previous_hash, count = GENESIS, 0
    records = db.scalars(
        select(ProofRecord).where(ProofRecord.establishment_id == establishment.id).order_by(ProofRecord.sequence)
    )
    for count, record in enumerate(records, start=1):
        reason = None
        if record.sequence != count:
            reason = f"record {count} is missing"
        elif record.previous_hash != previous_hash:
            reason = "previous hash does not match the previous record"
        elif chained_hash(record.previous_hash, record.payload) != record.record_hash:
            reason = "hash does not match the payload"
        elif keyring(db).verify(record.signature, record.record_hash) != fingerprint:
            reason = "signature is not valid for the establishment's key"
        elif json.loads(record.payload).get("sequence") != record.sequence:
            reason = "sequence differs from the signed payload"
        if reason:
            return count, BadRecord(record.sequence, record.id, reason)
        previous_hash = record.record_hash
    return count, None


def export(db: Session, establishment: Establishment, usager_id: int, directory: Path) -> list[Path]:
    """The usager's records as proof.csv, the contents given (PDF, .eml), the establishment's public key,
    and MANIFEST.sha256 (sha256sum format) signed as MANIFEST.sha256.asc."""
    directory.mkdir(parents=True, exist_ok=True)
    records = db.scalars(
        select(ProofRecord)
        .where(ProofRecord.establishment_id == establishment.id, ProofRecord.usager_id == usager_id)
        .order_by(ProofRecord.sequence)
    ).all()
    rows = io.StringIO()
    columns = ("sequence", "recorded_at", "kind", "notice", "addressee", "capacity", "opposed_by", "channel",
               "variant", "text_version_number", "content_sha256", "status", "by", "record_hash")  # fmt: skip
    writer = csv.writer(rows)
    writer.writerow(columns)
    for record in records:
        payload = json.loads(record.payload)
        writer.writerow([payload.get(c, "") if c != "record_hash" else record.record_hash for c in columns])
    files = {"proof.csv": rows.getvalue().encode(), "key.asc": keyring(db).public_key(establishment).encode()}
    for notice in db.scalars(select(Notice).where(Notice.usager_id == usager_id).order_by(Notice.id)):
        files[notice.file_name] = notice.content
    for name, content in files.items():
        (directory / name).write_bytes(content)
    manifest = "".join(f"{hashlib.sha256(content).hexdigest()}  {name}\n" for name, content in sorted(files.items()))
    (directory / "MANIFEST.sha256").write_text(manifest)
    signature, _fingerprint = keyring(db).sign(establishment, manifest)
    (directory / "MANIFEST.sha256.asc").write_text(signature)
    return sorted(directory.iterdir())
