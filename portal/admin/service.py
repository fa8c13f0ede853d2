"""Administration of users and establishments: search, create, change, (de)activate, reset credentials."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.access import require_role
from portal.audit.service import SUCCESS, record
from portal.auth import passwords
from portal.models import Establishment, Role, User
from portal.pagination import Page, paginate

# Bytes of randomness of a generated password: 20 URL-safe characters, above passwords.MIN_LENGTH.
PASSWORD_BYTES = 15


class Duplicate(Exception):
    """Another record already holds this unique value; `field` names the form field."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


class SelfLockout(Exception):
    """An administrator tried to deactivate their own account or drop their own administrator role."""


@dataclass(frozen=True)
class Search:
    text: str = ""
    status: str = ""  # "", "active" or "inactive"


@dataclass(frozen=True)
class UserData:
    email: str
    first_name: str
    last_name: str
    national_id: str | None
    profession_code: str | None
    roles: frozenset[Role]
    establishment_ids: frozenset[int]
    # False: Pro Santé Connect only.
    local_login_allowed: bool = True


@dataclass(frozen=True)
class EstablishmentData:
    finess: str
    name: str
    address: str
    postal_code: str
    city: str
    phone: str = ""
    email: str = ""


# Users


def search_users(db: Session, actor: User, search: Search, page: int) -> Page[User]:
    require_role(actor, Role.ADMINISTRATOR, "admin.search_users")
    stmt = (
        select(User)
        .options(selectinload(User.establishments))
        .order_by(func.lower(User.last_name), func.lower(User.first_name), User.id)
    )
    stmt = _filter(stmt, User, search, (User.first_name, User.last_name, User.email, User.national_id))
    return paginate(db, stmt, page)


def get_user(db: Session, actor: User, user_id: int) -> User | None:
    require_role(actor, Role.ADMINISTRATOR, "admin.get_user")
    return db.get(User, user_id)


def establishment_choices(db: Session, actor: User) -> list[Establishment]:
    """Every establishment a user may be attached to, inactive ones included so that none is dropped silently."""
    require_role(actor, Role.ADMINISTRATOR, "admin.establishment_choices")
    return list(db.scalars(select(Establishment).order_by(Establishment.name, Establishment.id)))


def create_user(db: Session, actor: User, data: UserData) -> tuple[User, str]:
    """The new user and their initial password, which only the administrator's result page may show."""
    require_role(actor, Role.ADMINISTRATOR, "admin.create_user")
    data = _normalised(data)
    _refuse_duplicate_user(db, data, None)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    # No TOTP secret: the user enrols their second factor at first login.
    # local_login_allowed starts at the model's default, so that only a departure from it is audited as a change.
    user = User(
        password_hash=passwords.hash_password(password), local_login_allowed=True, password_change_required=True
    )
    changed = _apply(db, user, data)
    db.add(user)
    record(db, "admin.user_created", outcome=SUCCESS, actor=actor, target=user.email, detail={"fields": changed})
    _commit_unless_taken(db, lambda: _refuse_duplicate_user(db, data, None))
    return user, password


def update_user(db: Session, actor: User, user: User, data: UserData) -> None:
    require_role(actor, Role.ADMINISTRATOR, "admin.update_user")
    data = _normalised(data)
    if user.id == actor.id and Role.ADMINISTRATOR not in data.roles:
        raise SelfLockout()
    _refuse_duplicate_user(db, data, user.id)
    changed = _apply(db, user, data)
    if changed:
        record(db, "admin.user_updated", outcome=SUCCESS, actor=actor, target=user.email, detail={"fields": changed})
        _commit_unless_taken(db, lambda: _refuse_duplicate_user(db, data, user.id))


def deactivate_user(db: Session, actor: User, user: User) -> None:
    require_role(actor, Role.ADMINISTRATOR, "admin.deactivate_user")
    if user.id == actor.id:
        raise SelfLockout()
    # The login guard refuses inactive accounts, which also ends their open sessions.
    user.is_active = False
    record(db, "admin.user_deactivated", outcome=SUCCESS, actor=actor, target=user.email)
    db.commit()


def reactivate_user(db: Session, actor: User, user: User) -> None:
    """Reactivate a deactivated account, or approve one requested at a first Pro Santé Connect login."""
    require_role(actor, Role.ADMINISTRATOR, "admin.reactivate_user")
    action = "admin.user_approved" if user.approval_pending else "admin.user_reactivated"
    user.is_active = True
    user.approval_pending = False
    record(db, action, outcome=SUCCESS, actor=actor, target=user.email)
    db.commit()


def reset_totp(db: Session, actor: User, user: User) -> None:
    """The user enrols a new second factor at their next login (lost or replaced phone)."""
    require_role(actor, Role.ADMINISTRATOR, "admin.reset_totp")
    user.totp_secret = None
    user.totp_last_step = None
    record(db, "admin.user_totp_reset", outcome=SUCCESS, actor=actor, target=user.email)
    db.commit()


def reset_password(db: Session, actor: User, user: User) -> str:
    """A new random password, returned once for the administrator to hand over."""
    require_role(actor, Role.ADMINISTRATOR, "admin.reset_password")
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    user.password_hash, user.password_change_required = passwords.hash_password(password), True
    # The administrator is the way back in for a user who locked themselves out.
    user.failed_logins = 0
    user.locked_until = None
    record(db, "admin.user_password_reset", outcome=SUCCESS, actor=actor, target=user.email)
    db.commit()
    return password


def _normalised(data: UserData) -> UserData:
    return UserData(
        email=data.email.strip().lower(),
        first_name=data.first_name.strip(),
        last_name=data.last_name.strip(),
        national_id=(data.national_id or "").strip() or None,
        profession_code=(data.profession_code or "").strip() or None,
        roles=data.roles,
        establishment_ids=data.establishment_ids,
        local_login_allowed=data.local_login_allowed,
    )


def _commit_unless_taken(db: Session, check: Callable[[], None]) -> None:
    """Commit, or say which unique value another administrator saved since `check` last passed.

    Two administrators saving the same e-mail or FINESS at once both pass the check; the database's
    unique constraint refuses the second commit, and the check, run again, names the field.
    """
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        check()
        raise


def _refuse_duplicate_user(db: Session, data: UserData, user_id: int | None) -> None:
    others = select(User.id)
    if user_id:
        others = others.where(User.id != user_id)
    # Older rows may hold mixed-case e-mails: compare as login does.
    if db.scalar(others.where(func.lower(User.email) == data.email)):
        raise Duplicate("email")
    if data.national_id and db.scalar(others.where(User.national_id == data.national_id)):
        raise Duplicate("national_id")


def _apply(db: Session, user: User, data: UserData) -> list[str]:
    """Copy the data onto the user; the names of the fields that changed, for the audit log."""
    changed = []
    for name in ("email", "first_name", "last_name", "national_id", "profession_code", "local_login_allowed"):
        if getattr(user, name) != getattr(data, name):
            setattr(user, name, getattr(data, name))
            changed.append(name)
    if user.roles != data.roles:
        user.roles = set(data.roles)
        changed.append("roles")
    if {e.id for e in user.establishments} != data.establishment_ids:
        chosen = select(Establishment).where(Establishment.id.in_(data.establishment_ids))
        user.establishments = list(db.scalars(chosen))
        changed.append("establishments")
    return changed


# Establishments


def search_establishments(db: Session, actor: User, search: Search, page: int) -> Page[Establishment]:
    require_role(actor, Role.ADMINISTRATOR, "admin.search_establishments")
    stmt = select(Establishment).order_by(func.lower(Establishment.name), Establishment.id)
    stmt = _filter(stmt, Establishment, search, (Establishment.name, Establishment.finess, Establishment.city))
    return paginate(db, stmt, page)


def get_establishment(db: Session, actor: User, establishment_id: int) -> Establishment | None:
    require_role(actor, Role.ADMINISTRATOR, "admin.get_establishment")
    return db.get(Establishment, establishment_id)


def create_establishment(db: Session, actor: User, data: EstablishmentData) -> Establishment:
    require_role(actor, Role.ADMINISTRATOR, "admin.create_establishment")
    data = _normalised_establishment(data)
    _refuse_duplicate_finess(db, data, None)
    establishment = Establishment()
    changed = _apply_establishment(establishment, data)
    db.add(establishment)
    record(
        db, "admin.establishment_created", outcome=SUCCESS, actor=actor, target=data.finess, detail={"fields": changed}
    )
    _commit_unless_taken(db, lambda: _refuse_duplicate_finess(db, data, None))
    return establishment


def update_establishment(db: Session, actor: User, establishment: Establishment, data: EstablishmentData) -> None:
    require_role(actor, Role.ADMINISTRATOR, "admin.update_establishment")
    data = _normalised_establishment(data)
    _refuse_duplicate_finess(db, data, establishment.id)
    changed = _apply_establishment(establishment, data)
    if changed:
        record(
            db,
            "admin.establishment_updated",
            outcome=SUCCESS,
            actor=actor,
            target=establishment.finess,
            detail={"fields": changed},
        )
        _commit_unless_taken(db, lambda: _refuse_duplicate_finess(db, data, establishment.id))


def deactivate_establishment(db: Session, actor: User, establishment: Establishment) -> None:
    require_role(actor, Role.ADMINISTRATOR, "admin.deactivate_establishment")
    establishment.is_active = False
    record(db, "admin.establishment_deactivated", outcome=SUCCESS, actor=actor, target=establishment.finess)
    db.commit()


def reactivate_establishment(db: Session, actor: User, establishment: Establishment) -> None:
    require_role(actor, Role.ADMINISTRATOR, "admin.reactivate_establishment")
    establishment.is_active = True
    record(db, "admin.establishment_reactivated", outcome=SUCCESS, actor=actor, target=establishment.finess)
    db.commit()


def _normalised_establishment(data: EstablishmentData) -> EstablishmentData:
    return EstablishmentData(
        finess=data.finess.strip().upper(),
        name=data.name.strip(),
        address=data.address.strip(),
        postal_code=data.postal_code.strip(),
        city=data.city.strip(),
        phone=data.phone.strip(),
        email=data.email.strip(),
    )


def _refuse_duplicate_finess(db: Session, data: EstablishmentData, establishment_id: int | None) -> None:
    stmt = select(Establishment.id).where(Establishment.finess == data.finess)
    if establishment_id:
        stmt = stmt.where(Establishment.id != establishment_id)
    if db.scalar(stmt):
        raise Duplicate("finess")


def _apply_establishment(establishment: Establishment, data: EstablishmentData) -> list[str]:
    changed = []
    for name in ("finess", "name", "address", "postal_code", "city", "phone", "email"):
        if getattr(establishment, name) != getattr(data, name):
            setattr(establishment, name, getattr(data, name))
            changed.append(name)
    return changed


def _filter(stmt: Select, model: type[User] | type[Establishment], search: Search, columns: tuple) -> Select:
    # Each word must appear in one of the columns, so "claire durand" finds Claire Durand.
    for word in search.text.split():
        stmt = stmt.where(or_(*(column.icontains(word, autoescape=True) for column in columns)))
    if search.status:
        stmt = stmt.where(model.is_active == (search.status == "active"))
    return stmt
