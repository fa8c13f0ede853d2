"""The proof chain: every notice and opposition signed and chained, checked by `portal notices verify`, exported."""

import hashlib
import subprocess

import pytest
from sqlalchemy import select, text

from notices import issuing, oppositions, proof
from notices.models import NoticeStatus, ProofRecord
from portal.cli import main


@pytest.fixture()
def informed(db, reception, settings, usager_under_guardianship):
    """The guardian's letter (printed) and the usager's easy-read version (handed over), as in the issue's example."""
    usager = usager_under_guardianship
    letter, easy_read = issuing.issue(
        db, reception, usager,
        [issuing.Choice(usager.representatives[0].id, "courrier"), issuing.Choice(None, "remise_en_main_propre")],
        base_url="http://portail.test/", settings=settings,
    )  # fmt: skip
    issuing.mark(db, reception, letter, NoticeStatus.PRINTED)
    issuing.mark(db, reception, easy_read, NoticeStatus.HANDED_OVER)
    return usager, letter, easy_read


def verify(app, *args):
    return app.test_cli_runner().invoke(main, ["notices", "verify", *args])


def records(db, establishment):
    return db.scalars(
        select(ProofRecord).where(ProofRecord.establishment_id == establishment.id).order_by(ProofRecord.sequence)
    ).all()


def test_issue_and_status_changes_are_chained_and_signed(app, db, establishment, informed):
    _usager, letter, _easy_read = informed
    chain = records(db, establishment)
    kinds = [proof.json.loads(r.payload)["kind"] for r in chain]
    assert kinds == ["notice_issued", "notice_issued", "notice_status", "notice_status"]
    first = proof.json.loads(chain[0].payload)
    assert (first["notice"], first["capacity"], first["channel"], first["content_sha256"], first["status"]) == (
        letter.reference, "tuteur", "courrier", hashlib.sha256(letter.content).hexdigest(), "prepared",
    )  # fmt: skip
    assert chain[1].previous_hash == chain[0].record_hash
    assert "BEGIN PGP SIGNATURE" in chain[0].signature

    result = verify(app, "--establishment", establishment.finess)
    assert result.exit_code == 0, result.output
    assert "4 enregistrement(s) vérifié(s)" in result.output


def test_an_opposition_and_its_withdrawal_are_in_the_chain(app, db, establishment, informed):
    _usager, letter, _easy_read = informed
    oppositions.oppose(db, letter.link, "Raison personnelle")
    oppositions.withdraw(db, letter.link)
    kinds = [proof.json.loads(r.payload)["kind"] for r in records(db, establishment)]
    assert kinds[-2:] == ["opposition", "opposition_withdrawn"]
    assert "Raison personnelle" not in records(db, establishment)[-1].payload
    assert verify(app).exit_code == 0


def test_a_record_changed_in_the_database_is_detected(app, db, establishment, informed):
    chain = records(db, establishment)
    tampered = chain[2].payload.replace('"printed"', '"handed_over"')
    db.execute(text("UPDATE proof_records SET payload = :p WHERE id = :id"), {"p": tampered, "id": chain[2].id})
    db.commit()
    result = verify(app, "--establishment", establishment.finess)
    assert result.exit_code == 1
    assert f"n° 3 (id {chain[2].id})" in result.output and "hash does not match" in result.output


def test_a_rehashed_record_without_the_key_is_detected(app, db, establishment, informed):
    chain = records(db, establishment)
    payload = chain[1].payload.replace('"remise_en_main_propre"', '"courrier"')
    new_hash = proof.chained_hash(chain[1].previous_hash, payload)
    db.execute(
        text("UPDATE proof_records SET payload = :p, record_hash = :h WHERE id = :id"),
        {"p": payload, "h": new_hash, "id": chain[1].id},
    )
    db.commit()
    result = verify(app)
    assert result.exit_code == 1 and "n° 2" in result.output


def test_a_deleted_record_is_detected(app, db, establishment, informed):
    chain = records(db, establishment)
    db.execute(text("DELETE FROM proof_records WHERE id = :id"), {"id": chain[1].id})
    db.commit()
    result = verify(app)
    assert result.exit_code == 1 and "n° 3" in result.output


def test_export_gives_the_csv_the_contents_and_a_signed_manifest(app, db, establishment, informed, tmp_path):
    usager, letter, easy_read = informed
    result = app.test_cli_runner().invoke(
        main, ["notices", "export", "--establishment", establishment.finess, "--usager", usager.local_id, str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    csv_text = (tmp_path / "proof.csv").read_text()
    assert letter.reference in csv_text and "handed_over" in csv_text
    assert (tmp_path / f"notice-{letter.reference}.pdf").read_bytes() == letter.content
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    keyring = proof.Keyring(tmp_path / "auditor")  # an auditor's own keyring, with only the public key
    keyring.gpg.import_keys((tmp_path / "key.asc").read_text())
    manifest = (tmp_path / "MANIFEST.sha256").read_text()
    assert keyring.verify((tmp_path / "MANIFEST.sha256.asc").read_text(), manifest)
    assert not keyring.verify((tmp_path / "MANIFEST.sha256.asc").read_text(), manifest + "x  ajout\n")
