"""Login use-cases: check a password, check or enrol a second factor, lock out guessers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.service import FAILURE, SUCCESS, record
from portal.auth import passwords, totp
from portal.database import utcnow
from portal.models import User


class LoginRefused(Exception):
    """Why a login step failed: "invalid" (wrong credentials) or "locked"."""

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
        user.password_hash = passwords.hash_password(new)
        record(db, "auth.password_changed", outcome=SUCCESS, actor=user)
    finally:
        db.commit()


def record_logout(db: Session, user: User, reason: str) -> None:
    record(db, f"auth.{reason}", outcome=SUCCESS, actor=user)
    db.commit()


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
    user.last_login_at = utcnow()
    record(db, action, outcome=SUCCESS, actor=user)
