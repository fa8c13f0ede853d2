"""Login use-cases: password, second factor (check, enrol), lockout of guessers, and login with Pro Santé Connect."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from portal.audit.service import FAILURE, SUCCESS, record
from portal.auth import passwords, totp
from portal.auth.psc import Identity
from portal.database import utcnow
from portal.models import Establishment, Role, User

# The national ids a portal account can hold: 8 + the 11 digits of the RPPS, 0 + the 9 digits of ADELI.
NATIONAL_ID = re.compile(r"^(8\d{11}|0\d{9})$")
# The domain of the placeholder address of an account requested through PSC (RFC 2606 reserves .invalid):
# PSC gives no e-mail address, and the administrator enters the real one when approving.
PENDING_EMAIL_DOMAIN = "psc.invalid"


class LoginRefused(Exception):
    """Why a login step failed: "invalid" (wrong credentials), "locked", "psc_only" (local login disabled);
    with PSC: "unknown", "pending", "requested" (a pending account was just created), "inactive"."""

    def __init__(self, reason: str, locked_until: datetime | None = None):
        super().__init__(reason)
        self.reason = reason
        self.locked_until = locked_until


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int
    duration: timedelta


def find_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def check_password(db: Session, policy: LockoutPolicy, email: str, password: str) -> User:
    """First factor. Commits the failure counter and the audit line either way."""
    user = find_by_email(db, email)
    try:
        if user is None:
            passwords.verify_password(None, password)  # same work as for a real account
            record(db, "auth.password", outcome=FAILURE, actor_label=email[:254], detail={"reason": "unknown"})
            raise LoginRefused("invalid")
        _refuse_if_locked(db, user, "password")
        if not passwords.verify_password(user.password_hash, password):
            _count_failure(db, policy, user, "password")
            raise LoginRefused("invalid")
        if not user.is_active:
            record(db, "auth.password", outcome=FAILURE, actor=user, detail={"reason": "inactive"})
            raise LoginRefused("invalid")
        # Said only after the right password, so that it tells nothing to someone guessing.
        if not user.local_login_allowed:
            record(db, "auth.password", outcome=FAILURE, actor=user, detail={"reason": "local_login_disabled"})
            raise LoginRefused("psc_only")
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        record(db, "auth.password", outcome=SUCCESS, actor=user)
        return user
    finally:
        db.commit()


def check_code(db: Session, policy: LockoutPolicy, user: User, code: str) -> None:
    """Second factor of an enrolled user; completes the login."""
    try:
        step = _accepted_step(db, policy, user, user.totp_secret, code, user.totp_last_step, "totp")
        _complete_login(db, user, step, "auth.login")
    finally:
        db.commit()


def confirm_enrolment(db: Session, policy: LockoutPolicy, user: User, secret: str, code: str) -> None:
    """First login: the user proves their app holds the new secret; completes the login."""
    try:
        step = _accepted_step(db, policy, user, secret, code, None, "totp_enrolment")
        user.totp_secret = secret
        record(db, "auth.totp_enrolled", outcome=SUCCESS, actor=user)
        _complete_login(db, user, step, "auth.login")
    finally:
        db.commit()


def change_password(db: Session, policy: LockoutPolicy, user: User, current: str, new: str) -> None:
    """The user replaces their password; the current one is asked again, as a stolen session must not suffice."""
    try:
        _refuse_if_locked(db, user, "password_change")
        if not passwords.verify_password(user.password_hash, current):
            _count_failure(db, policy, user, "password_change")
            raise LoginRefused("invalid")
        user.password_hash, user.password_change_required = passwords.hash_password(new), False
        record(db, "auth.password_changed", outcome=SUCCESS, actor=user)
    finally:
        db.commit()


def reseal_seeds(db: Session, actor_label: str) -> int:
    """Seal every second-factor seed anew under the first data key, once a new key is put first."""
    users = list(db.scalars(select(User).where(User.totp_secret.is_not(None))))
    for user in users:
        flag_modified(user, "totp_secret")  # written again: sealed under the first key
    record(db, "auth.seeds_resealed", outcome=SUCCESS, actor_label=actor_label, detail={"seeds": len(users)})
    db.commit()
    return len(users)


def login_with_psc(db: Session, identity: Identity, unknown_user: str) -> User:
    """A professional authenticated by PSC: their account, or LoginRefused. PSC is strong authentication: no TOTP.

    `unknown_user` is the policy for a national id no account holds: "refuse", or "pending" (request an account).
    """
    try:
        user = db.scalar(select(User).where(User.national_id == identity.national_id))
        if user is None:
            if unknown_user == "pending" and _request_account(db, identity):
                raise LoginRefused("requested")
            _refuse_psc(db, identity.national_id, "unknown")
        if user.approval_pending:
            _refuse_psc(db, identity.national_id, "pending", user)
        if not user.is_active:
            _refuse_psc(db, identity.national_id, "inactive", user)
        changed = _follow_directory(user, identity)
        _stamp_login(user)
        record(db, "auth.psc_login", outcome=SUCCESS, actor=user, detail={"updated": changed} if changed else None)
        return user
    finally:
        db.commit()


def record_psc_failure(db: Session, reason: str) -> None:
    """PSC's answer was refused before anyone was identified (wrong state, nonce, signature, expiry...)."""
    record(db, "auth.psc_login", outcome=FAILURE, detail={"reason": reason})
    db.commit()


def record_logout(db: Session, user: User, reason: str, detail: dict | None = None) -> None:
    record(db, f"auth.{reason}", outcome=SUCCESS, actor=user, detail=detail)
    db.commit()


def _refuse_psc(db: Session, national_id: str, reason: str, user: User | None = None) -> NoReturn:
    record(db, "auth.psc_login", outcome=FAILURE, actor=user, actor_label=national_id, detail={"reason": reason})
    raise LoginRefused(reason)


def _request_account(db: Session, identity: Identity) -> bool:
    """An inactive account for an administrator to approve, for someone PSC says works in one of our establishments."""
    establishments = list(
        db.scalars(select(Establishment).where(Establishment.finess.in_(identity.finess), Establishment.is_active))
    )
    if not establishments or not NATIONAL_ID.match(identity.national_id):
        return False
    user = User(
        email=f"{identity.national_id}@{PENDING_EMAIL_DOMAIN}",
        national_id=identity.national_id,
        first_name=identity.first_name[:100] or identity.national_id,
        last_name=identity.last_name[:100],
        profession_code=_profession(identity),
        is_active=False,
        approval_pending=True,
        local_login_allowed=False,
        establishments=establishments,
    )
    user.roles = {Role.PROFESSIONAL}
    db.add(user)
    record(
        db,
        "auth.psc_account_requested",
        outcome=SUCCESS,
        actor=user,
        actor_label=identity.national_id,
        detail={"finess": sorted(e.finess for e in establishments)},
    )
    return True


def _follow_directory(user: User, identity: Identity) -> list[str]:
    """Keep names and profession as the national directory has them; the fields that changed, for the audit log.

    Names differing only in case are left alone: PSC writes them in capitals, administrators often do not.
    """
    changed = []
    for name, value in (("first_name", identity.first_name[:100]), ("last_name", identity.last_name[:100])):
        if value and value.casefold() != getattr(user, name).casefold():
            setattr(user, name, value)
            changed.append(name)
    profession = _profession(identity)
    if profession and profession != user.profession_code:
        user.profession_code = profession
        changed.append("profession_code")
    return changed


def _profession(identity: Identity) -> str | None:
    codes = [code for code in identity.profession_codes if len(code) <= 4]
    return codes[0] if codes else None


def _refuse_if_locked(db: Session, user: User, factor: str) -> None:
    if user.locked_until is not None and user.locked_until > utcnow():
        record(db, f"auth.{factor}", outcome=FAILURE, actor=user, detail={"reason": "locked"})
        raise LoginRefused("locked", user.locked_until)


def _accepted_step(
    db: Session, policy: LockoutPolicy, user: User, secret: str | None, code: str, last_step: int | None, factor: str
) -> int:
    _refuse_if_locked(db, user, factor)
    step = totp.accepted_step(secret, code, last_step) if secret else None
    if step is None:
        _count_failure(db, policy, user, factor)
        raise LoginRefused("invalid")
    return step


def _count_failure(db: Session, policy: LockoutPolicy, user: User, factor: str) -> None:
    user.failed_logins += 1
    record(db, f"auth.{factor}", outcome=FAILURE, actor=user, detail={"failures": user.failed_logins})
    if user.failed_logins >= policy.threshold:
        user.locked_until = utcnow() + policy.duration
        user.failed_logins = 0
        record(db, "auth.locked", outcome=FAILURE, actor=user, detail={"until": user.locked_until.isoformat()})


def _complete_login(db: Session, user: User, step: int, action: str) -> None:
    user.totp_last_step = step
    user.failed_logins = 0
    user.locked_until = None
    _stamp_login(user)
    record(db, action, outcome=SUCCESS, actor=user)


def _stamp_login(user: User) -> None:
    user.previous_login_at, user.last_login_at = user.last_login_at, utcnow()
