"""The DUIs allowed to use the DMP status API: created and revoked by administrators, found by their bearer token."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from notices.models import DuiClient
from portal.access import PermissionDenied, require_role
from portal.audit.service import SUCCESS, record
from portal.database import utcnow
from portal.models import Establishment, Role, User

TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def establishments(actor: User) -> list[Establishment]:
    """The establishments whose DUI clients the actor manages."""
    require_role(actor, Role.ADMINISTRATOR, "notices.dui_clients")
    return list(actor.establishments)


def clients_of(db: Session, actor: User) -> list[DuiClient]:
    ids = [e.id for e in establishments(actor)]
    return list(
        db.scalars(
            select(DuiClient)
            .options(selectinload(DuiClient.establishment))
            .where(DuiClient.establishment_id.in_(ids))
            .order_by(DuiClient.revoked_at.is_not(None), DuiClient.name, DuiClient.id)
        )
    )


def get(db: Session, actor: User, client_id: int) -> DuiClient | None:
    """The client if the actor manages its establishment; None (a 404) otherwise."""
    client = db.get(DuiClient, client_id)
    if client is None or client.establishment_id not in {e.id for e in establishments(actor)}:
        return None
    return client


def create(db: Session, actor: User, establishment_id: int, name: str) -> tuple[DuiClient, str]:
    """The new client and its token, which is never stored and so can only be shown now."""
    if establishment_id not in {e.id for e in establishments(actor)}:
        raise PermissionDenied("notices.create_dui_client")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    client = DuiClient(
        establishment_id=establishment_id, name=name.strip(), token_sha256=token_hash(token), created_by_id=actor.id
    )
    db.add(client)
    db.flush()
    record(db, "notices.dui_client_created", outcome=SUCCESS, actor=actor, target=_target(client))
    db.commit()
    return client, token


def revoke(db: Session, actor: User, client: DuiClient) -> None:
    require_role(actor, Role.ADMINISTRATOR, "notices.revoke_dui_client")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        record(db, "notices.dui_client_revoked", outcome=SUCCESS, actor=actor, target=_target(client))
        db.commit()


def authenticate(db: Session, token: str) -> DuiClient | None:
    """The client holding this token, if it is not revoked; its last use is noted (the caller commits)."""
    if not token:
        return None
    client = db.scalar(select(DuiClient).where(DuiClient.token_sha256 == token_hash(token)))
    if client is None or client.revoked_at is not None:
        return None
    client.last_used_at = utcnow()
    return client


def _target(client: DuiClient) -> str:
    return f"dui_client:{client.id}"
