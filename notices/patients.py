"""The usagers as portal.patients sees them: those holding an INS, in the acting user's establishments."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from notices.models import IdentityStatus, Usager
from notices.service import READERS
from portal.models import User
from portal.patients import PatientIdentity

SUGGESTIONS = 20


class UsagerDirectory:
    """portal.patients.PatientDirectory over the usagers registered in the notices feature."""

    def search(self, db: Session, user: User, text: str) -> list[PatientIdentity]:
        stmt = _visible(user).order_by(func.lower(Usager.birth_name), func.lower(Usager.birth_first_names), Usager.id)
        columns = (Usager.birth_name, Usager.birth_first_names, Usager.ins)
        for word in text.split():
            stmt = stmt.where(or_(*(column.icontains(word, autoescape=True) for column in columns)))
        return [_identity(usager) for usager in db.scalars(stmt.limit(SUGGESTIONS))]

    def get(self, db: Session, user: User, ins: str) -> PatientIdentity | None:
        # One INS may be registered in several of the user's establishments: the first qualified one answers.
        qualified_first = (Usager.identity_status != IdentityStatus.QUALIFIEE, Usager.id)
        stmt = _visible(user).where(Usager.ins == ins).order_by(*qualified_first)
        usager = db.scalars(stmt.limit(1)).first()
        return _identity(usager) if usager else None


def _visible(user: User) -> Select:
    if not (user.is_active and user.roles & READERS):
        return select(Usager).where(False)
    establishments = [e.id for e in user.establishments]
    return select(Usager).where(Usager.establishment_id.in_(establishments), Usager.ins.is_not(None))


def _identity(usager: Usager) -> PatientIdentity:
    return PatientIdentity(
        ins=usager.ins,
        birth_name=usager.birth_name,
        first_names=usager.birth_first_names,
        birth_date=usager.birth_date,
        sex=usager.sex.value,
        qualified=usager.identity_status == IdentityStatus.QUALIFIEE,
    )
