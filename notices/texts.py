"""Notice texts of an establishment: the versions of each variant, their edition by administrators, restoration.

An establishment starts with the portal's default texts (notices/default_texts/<variant>.md). Every
save adds a version numbered 1, 2, 3... for the establishment and the variant; versions are never
changed (notices.models.NoticeText). A notice records the id of the version it used:
version_for_notice() gives it, storing the default text as version 1 the first time.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notices import templating
from notices.models import NoticeText
from notices.plan import VARIANTS
from notices.rendering import NoticeContent, Recipient, Sender
from portal.access import PermissionDenied
from portal.audit.service import SUCCESS, record
from portal.models import Establishment, Role, User

DEFAULT_TEXTS = Path(__file__).resolve().parent / "default_texts"
DEFAULT_AUTHOR = "Texte par défaut du portail"
# What the preview shows in place of a real addressee.
SAMPLE_USAGER = "Camille EXEMPLE"
SAMPLE_CODE = "K7QF-3MZD-9TXA-R2PW"


class Conflict(Exception):
    """Another version of the same text was saved at the same moment; nothing was saved."""


@lru_cache(maxsize=len(VARIANTS))
def default_body(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown notice variant {variant!r}")
    return (DEFAULT_TEXTS / f"{variant}.md").read_text(encoding="utf-8")


def editable_establishments(actor: User) -> list[Establishment]:
    """The establishments whose texts the actor may edit: administrators, in their own establishments."""
    return list(actor.establishments) if _is_editor(actor) else []


def get_establishment(db: Session, actor: User, establishment_id: int) -> Establishment | None:
    """The establishment if the actor edits its texts; PermissionDenied for a non-administrator, None
    (a 404, which says nothing) for an administrator of other establishments."""
    _require_editor(actor, "notices.get_texts")
    if establishment_id not in {e.id for e in actor.establishments}:
        return None
    return db.get(Establishment, establishment_id)


def latest(db: Session, establishment_id: int, variant: str) -> NoticeText | None:
    return db.scalar(
        select(NoticeText)
        .where(NoticeText.establishment_id == establishment_id, NoticeText.variant == variant)
        .order_by(NoticeText.number.desc())
        .limit(1)
    )


def current_body(db: Session, establishment: Establishment, variant: str) -> str:
    version = latest(db, establishment.id, variant)
    return version.body if version else default_body(variant)


def versions(db: Session, actor: User, establishment: Establishment, variant: str) -> list[NoticeText]:
    """Every version of the text, newest first."""
    _require_member_editor(actor, establishment, "notices.text_versions")
    return list(
        db.scalars(
            select(NoticeText)
            .where(NoticeText.establishment_id == establishment.id, NoticeText.variant == _variant(variant))
            .order_by(NoticeText.number.desc())
        )
    )


def save_text(
    db: Session, actor: User, establishment: Establishment, variant: str, body: str, *, restored_from: int | None = None
) -> NoticeText | None:
    """A new version with this body, or None when the body is the current text already.

    templating.TextError when the body is not an acceptable text; Conflict when another version
    was saved at the same moment (the caller shows the text again: nothing is lost).
    """
    _require_member_editor(actor, establishment, "notices.save_text")
    variant = _variant(variant)
    body = _normalised(body)
    templating.check(body)
    if body == current_body(db, establishment, variant):
        return None
    version = _add_version(db, establishment.id, variant, body, actor=actor, restored_from=restored_from)
    if version is None:
        raise Conflict()
    record(
        db,
        "notices.text_saved",
        outcome=SUCCESS,
        actor=actor,
        target=f"establishment:{establishment.id}",
        detail={"variant": variant, "version": version.number, "restored_from": restored_from},
    )
    db.commit()
    return version


def restore(db: Session, actor: User, establishment: Establishment, variant: str, number: int) -> NoticeText | None:
    """Bring an old version's text back as a new version; LookupError if the establishment has no such version."""
    _require_member_editor(actor, establishment, "notices.restore_text")
    old = db.scalar(
        select(NoticeText).where(
            NoticeText.establishment_id == establishment.id,
            NoticeText.variant == _variant(variant),
            NoticeText.number == number,
        )
    )
    if old is None:
        raise LookupError(number)
    return save_text(db, actor, establishment, variant, old.body, restored_from=old.number)


def version_for_notice(db: Session, establishment_id: int, variant: str) -> NoticeText:
    """The version a notice issued now uses; the default text becomes version 1 if none was saved.

    Flushed, not committed: the caller commits it with the notice that records its id.
    """
    variant = _variant(variant)
    version = latest(db, establishment_id, variant)
    if version is None:
        # None from _add_version: a simultaneous notice stored it first.
        version = _add_version(db, establishment_id, variant, default_body(variant), actor=None)
        version = version or latest(db, establishment_id, variant)
    return version


def sender(establishment: Establishment) -> Sender:
    return Sender(
        name=establishment.name,
        finess=establishment.finess,
        address_lines=(establishment.address,) if establishment.address else (),
        postal_code=establishment.postal_code,
        city=establishment.city,
        phone=establishment.phone,
        email=establishment.email,
    )


def sample_content(
    establishment: Establishment, variant: str, body: str, *, base_url: str, may_oppose: bool, today: date
) -> NoticeContent:
    """A notice of this establishment with made-up addressee data, for the editor's preview."""
    return NoticeContent(
        sender=sender(establishment),
        recipient=Recipient(
            name=SAMPLE_USAGER, address_lines=("1 rue de l'Exemple",), postal_code="00000", city="Ville"
        ),
        variant=_variant(variant),
        usager_name=SAMPLE_USAGER,
        body=body,
        link=f"{base_url.rstrip('/')}/o/{SAMPLE_CODE}",
        reference="EXEMPLE",
        issued_on=today,
        may_oppose=may_oppose,
    )


def _add_version(
    db: Session, establishment_id: int, variant: str, body: str, *, actor: User | None, restored_from: int | None = None
) -> NoticeText | None:
    """The new version, or None if its number was taken by a simultaneous save (unique constraint)."""
    number = 1 + (
        db.scalar(
            select(func.max(NoticeText.number)).where(
                NoticeText.establishment_id == establishment_id, NoticeText.variant == variant
            )
        )
        or 0
    )
    version = NoticeText(
        establishment_id=establishment_id,
        variant=variant,
        number=number,
        body=body,
        restored_from_number=restored_from,
        author=actor,
        author_label=actor.email if actor else DEFAULT_AUTHOR,
    )
    try:
        with db.begin_nested():
            db.add(version)
    except IntegrityError:
        return None
    return version


def _normalised(body: str) -> str:
    # Browsers send CRLF; trailing spaces and blank lines at the ends carry no meaning.
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def _variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise LookupError(variant)
    return variant


def _is_editor(actor: User) -> bool:
    return actor.is_active and actor.has_role(Role.ADMINISTRATOR)


def _require_editor(actor: User, action: str) -> None:
    if not _is_editor(actor):
        raise PermissionDenied(action)


def _require_member_editor(actor: User, establishment: Establishment, action: str) -> None:
    _require_editor(actor, action)
    if establishment.id not in {e.id for e in actor.establishments}:
        raise PermissionDenied(action)
