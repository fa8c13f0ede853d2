"""Access rules shared by every service: who may do what."""

from __future__ import annotations

from portal.models import Role, User


class PermissionDenied(Exception):
    """The acting user may not do this; views answer 403."""

    def __init__(self, action: str):
        super().__init__(action)
        self.action = action


def require_role(actor: User, role: Role, action: str) -> None:
    if not (actor.is_active and actor.has_role(role)):
        raise PermissionDenied(action)
