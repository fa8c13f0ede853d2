"""Opposition links in use (birth-date check, opposition, withdrawal), revocation, and the usager's DMP feeding status.

The public side has no account: the link's token names the notice, and the usager's birth date,
typed by the visitor, shows that they hold the letter or message and know whom it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notices import issuing, links, proof, service
from notices.models import Notice, Opposition, OppositionLink, Usager
from portal.access import PermissionDenied
from portal.audit.service import FAILURE, SUCCESS, record
from portal.database import utcnow
from portal.models import User

# The states the DUI will ask about (see the next issue): may it feed the DMP for this usager?
INFORMED, OPPOSITION, NOT_INFORMED = "informed", "opposition", "not_informed"


class LinkGone(Exception):
    """A link that exists but can no longer be used; `why` is "expired", "revoked" or "locked"."""

    def __init__(self, link: OppositionLink, why: str):
        super().__init__(why)
        self.link, self.why = link, why


@dataclass(frozen=True)
class FeedingStatus:
    state: str  # INFORMED, OPPOSITION or NOT_INFORMED
    since: datetime | None  # when the opposition was recorded, or the information given; None when not informed


def find_link(db: Session, token: str) -> OppositionLink | None:
    """The link of a token as given or typed; None if it is no link at all."""
    digest = links.token_hash(token)
    return db.scalar(select(OppositionLink).where(OppositionLink.token_sha256 == digest)) if digest else None


def usable(link: OppositionLink) -> OppositionLink:
    """The link itself, or LinkGone."""
    if link.revoked_at:
        raise LinkGone(link, "revoked")
    if link.expires_at <= utcnow():
        raise LinkGone(link, "expired")
    if link.failed_checks >= links.MAX_FAILED_CHECKS:
        raise LinkGone(link, "locked")
    return link


def check_birth_date(db: Session, link: OppositionLink, birth_date: date | None) -> bool:
    """True when the date is the usager's; a wrong one is counted (the link closes after a few). Committed."""
    usable(link)
    if birth_date == link.notice.usager.birth_date:
        return True
    link.failed_checks += 1
    record(db, "notices.link_check_failed", outcome=FAILURE, actor_label="lien", target=_target(link.notice))
    db.commit()
    return False


def active_opposition(db: Session, usager_id: int) -> Opposition | None:
    return db.scalar(
        select(Opposition)
        .where(Opposition.usager_id == usager_id, Opposition.withdrawn_at.is_(None))
        .order_by(Opposition.recorded_at.desc())
        .limit(1)
    )


def oppose(db: Session, link: OppositionLink, reason: str) -> Opposition:
    """Record the opposition of the link's addressee, with the reason as stated (never to be proved)."""
    notice = usable(link).notice
    if not notice.may_oppose:
        raise PermissionDenied("notices.oppose")
    existing = active_opposition(db, notice.usager_id)
    if existing:
        return existing
    opposition = Opposition(
        usager_id=notice.usager_id, notice=notice, opposed_by=_addressee(notice), reason=reason.strip()
    )
    db.add(opposition)
    db.flush()
    record(db, "notices.opposition_recorded", outcome=SUCCESS, actor_label="lien", target=_target(notice))
    proof.append(db, notice.usager.establishment, notice.usager_id, proof.opposition_event(opposition, "opposition"))
    db.commit()
    return opposition


def record_for(db: Session, actor: User, usager: Usager, opposed_by: str, reason: str) -> Opposition:
    """An opposition expressed to the staff (at the desk, on the phone, by the usager under a measure of
    representation, whose opinion counts), recorded by reception in the person's words."""
    if not service.may_edit(actor, usager):
        raise PermissionDenied("notices.record_opposition")
    existing = active_opposition(db, usager.id)
    if existing:
        return existing
    opposition = Opposition(
        usager_id=usager.id, usager=usager, recorded_by_id=actor.id, opposed_by=opposed_by.strip(),
        reason=reason.strip(), acknowledged_at=utcnow(),
    )  # fmt: skip
    db.add(opposition)
    db.flush()
    record(db, "notices.opposition_recorded", outcome=SUCCESS, actor=actor, target=f"usager:{usager.id}")
    event = {**proof.opposition_event(opposition, "opposition"), "by": actor.email}
    proof.append(db, usager.establishment, usager.id, event)
    db.commit()
    return opposition


def withdraw(db: Session, link: OppositionLink) -> Opposition | None:
    """Withdraw the usager's opposition; the addressee of any notice who may oppose may do it."""
    notice = usable(link).notice
    if not notice.may_oppose:
        raise PermissionDenied("notices.withdraw_opposition")
    opposition = active_opposition(db, notice.usager_id)
    if opposition is None:
        return None
    opposition.withdrawn_at = utcnow()
    record(db, "notices.opposition_withdrawn", outcome=SUCCESS, actor_label="lien", target=_target(notice))
    event = proof.opposition_event(opposition, "opposition_withdrawn")
    proof.append(db, notice.usager.establishment, notice.usager_id, event)
    db.commit()
    return opposition


def revoke(db: Session, actor: User, notice: Notice) -> None:
    """Close the notice's link (a letter sent to a wrong address, a representative replaced)."""
    if not service.may_edit(actor, notice.usager):
        raise PermissionDenied("notices.revoke_link")
    link = db.scalar(select(OppositionLink).where(OppositionLink.notice_id == notice.id))
    if link.revoked_at is None:
        link.revoked_at, link.revoked_by_id = utcnow(), actor.id
        record(db, "notices.link_revoked", outcome=SUCCESS, actor=actor, target=_target(notice))
        db.commit()


def oppositions_of(db: Session, usager: Usager) -> list[Opposition]:
    return list(db.scalars(select(Opposition).where(Opposition.usager_id == usager.id).order_by(Opposition.id.desc())))


def unacknowledged(db: Session, actor: User) -> list[Opposition]:
    """Oppositions reception staff of the actor's establishments have not yet seen: their notification."""
    if not service.may_register(actor):
        return []
    establishments = {e.id for e in actor.establishments}
    return list(
        db.scalars(
            select(Opposition)
            .join(Usager, Usager.id == Opposition.usager_id)
            .where(Usager.establishment_id.in_(establishments), Opposition.acknowledged_at.is_(None))
            .order_by(Opposition.recorded_at)
        )
    )


def get_opposition(db: Session, actor: User, opposition_id: int) -> Opposition | None:
    """The opposition if the actor may read its usager; None (a 404) otherwise."""
    opposition = db.get(Opposition, opposition_id)
    if opposition is None or service.get_usager(db, actor, opposition.usager_id) is None:
        return None
    return opposition


def acknowledge(db: Session, actor: User, opposition: Opposition) -> None:
    if not service.may_edit(actor, opposition.usager):
        raise PermissionDenied("notices.acknowledge_opposition")
    if opposition.acknowledged_at is None:
        opposition.acknowledged_at = utcnow()
        db.commit()


def feeding_status(db: Session, usager: Usager) -> FeedingStatus:
    """May the establishment feed the DMP for this usager? Not while an opposition stands, nor before
    every addressee who may oppose has been given the information in the current follow-up."""
    opposition = active_opposition(db, usager.id)
    if opposition:
        return FeedingStatus(OPPOSITION, opposition.recorded_at)
    plan = service.plan_for(usager)
    statuses = [
        s for s in issuing.information_status(usager, plan, issuing.notices_of(db, usager)) if s.addressee.may_oppose
    ]
    if not statuses or not all(s.informed for s in statuses):
        return FeedingStatus(NOT_INFORMED, None)
    return FeedingStatus(INFORMED, max(min(n.status_changed_at for n in s.given) for s in statuses))


def _addressee(notice: Notice) -> str:
    return f"{notice.addressee_name} ({notice.addressee_capacity})"


def _target(notice: Notice) -> str:
    return f"notice:{notice.id}"
