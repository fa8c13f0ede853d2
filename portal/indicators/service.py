"""Who reads the indicators of which establishment: administrators and reception staff of its own members."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.access import PermissionDenied
from portal.audit.service import SUCCESS, record
from portal.models import Establishment, Role, User

READERS = frozenset({Role.ADMINISTRATOR, Role.RECEPTION})


def establishments(actor: User) -> list[Establishment]:
    if not (actor.is_active and actor.roles & READERS):
        raise PermissionDenied("indicators.read")
    return list(actor.establishments)


def get_establishment(actor: User, establishment_id: int) -> Establishment | None:
    """The establishment if the actor may read its indicators; None (a 404) otherwise."""
    return next((e for e in establishments(actor) if e.id == establishment_id), None)


def record_export(db: Session, actor: User, establishment: Establishment, key: str) -> None:
    record(db, "indicators.export", outcome=SUCCESS, actor=actor, target=f"establishment:{establishment.id}",
           detail={"table": key})  # fmt: skip
    db.commit()
