"""Models of the shell: establishments, users and their roles, the audit log."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Column, Enum, ForeignKey, String, Table, event, false, true
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.database import Base, utcnow
from portal.sealing import Sealed


class Role(enum.StrEnum):
    PROFESSIONAL = "professional"
    RECEPTION = "reception"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.PROFESSIONAL: _l("Professionnel de santé ou du social"),
    Role.RECEPTION: _l("Accueil et admissions"),
    Role.ADMINISTRATOR: _l("Administrateur"),
}

memberships = Table(
    "memberships",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("establishment_id", ForeignKey("establishments.id", ondelete="CASCADE"), primary_key=True),
)


class Establishment(Base):
    __tablename__ = "establishments"

    id: Mapped[int] = mapped_column(primary_key=True)
    finess: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(5), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    # The contact given to usagers on notices and letters (reception or secretariat).
    phone: Mapped[str] = mapped_column(String(30), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(secondary=memberships, back_populates="establishments")


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        primary_key=True,
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # "8" + RPPS or "0" + ADELI; the key Pro Santé Connect gives us.
    national_id: Mapped[str | None] = mapped_column(String(12), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    profession_code: Mapped[str | None] = mapped_column(String(4))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # The second factor's seed, sealed (portal.sealing): 140 characters for the 32 of a base32 seed.
    totp_secret: Mapped[str | None] = mapped_column(Sealed(200))
    # Last accepted TOTP time step: a code is never accepted twice.
    totp_last_step: Mapped[int | None]
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    # False: the user logs in with Pro Santé Connect only, never with a password.
    local_login_allowed: Mapped[bool] = mapped_column(default=True, server_default=true())
    # The password was issued by an administrator (who has seen it): the user sets their own before anything else.
    password_change_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Created at a first Pro Santé Connect login; inactive until an administrator approves it.
    approval_pending: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # The login before the last one, shown to the user: a login that was not theirs stands out.
    previous_login_at: Mapped[datetime | None]

    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    establishments: Mapped[list[Establishment]] = relationship(
        secondary=memberships, back_populates="members", order_by=Establishment.name
    )

    @property
    def roles(self) -> set[Role]:
        return {row.role for row in self.role_rows}

    @roles.setter
    def roles(self, roles: set[Role]) -> None:
        kept = [row for row in self.role_rows if row.role in roles]
        added = [UserRole(role=role) for role in sorted(set(roles) - {r.role for r in kept})]
        self.role_rows = kept + added

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name.upper()}"

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class AuditEvent(Base):
    """One line of the append-only audit log (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Who acted as written at the time, kept even if the account is renamed later.
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _context, _instances) -> None:
    if any(isinstance(obj, AuditEvent) for obj in (*session.dirty, *session.deleted)):
        raise AuditLogIsAppendOnly("audit events cannot be changed or deleted")
