"""The notices' indicators of an establishment: information given and oppositions per month, usagers informed, INS
statuses (wired into the portal's indicators page by notices.init_app)."""

from __future__ import annotations

from collections import Counter

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notices.models import GIVEN_STATUSES, IdentityStatus, Notice, Opposition, Usager
from portal.indicators.figures import Period, Table
from portal.models import Establishment, User


def tables(db: Session, _actor: User, establishment: Establishment, period: Period, _refresh: bool) -> list[Table]:
    return [_monthly(db, establishment, period), _information(db, establishment), _identities(db, establishment)]


def _monthly(db: Session, establishment: Establishment, period: Period) -> Table:
    # The moments of the period, counted by month in French time here rather than in SQL, alike on both databases.
    start, end = period.bounds()
    given = db.scalars(
        select(Notice.status_changed_at)
        .join(Usager, Usager.id == Notice.usager_id)
        .where(Usager.establishment_id == establishment.id, Notice.status.in_(GIVEN_STATUSES))
        .where(Notice.status_changed_at >= start, Notice.status_changed_at < end)
    )
    recorded = db.scalars(
        select(Opposition.recorded_at)
        .join(Usager, Usager.id == Opposition.usager_id)
        .where(Usager.establishment_id == establishment.id)
        .where(Opposition.recorded_at >= start, Opposition.recorded_at < end)
    )
    notices, oppositions = Counter(map(period.month_of, given)), Counter(map(period.month_of, recorded))
    return Table(
        key="notices-par-mois",
        caption=_("Notices d'information remises et oppositions, par mois"),
        headings=(_("Mois"), _("Notices remises"), _("Oppositions enregistrées")),
        rows=[(month, notices[month], oppositions[month]) for month in period.months],
        monthly=True,
        note=_("Une notice compte le mois où elle a été envoyée, distribuée, imprimée ou remise en main propre."),
    )


def _information(db: Session, establishment: Establishment) -> Table:
    usagers = select(Usager.id).where(Usager.establishment_id == establishment.id)
    opposed = set(
        db.scalars(
            select(Opposition.usager_id).where(Opposition.usager_id.in_(usagers), Opposition.withdrawn_at.is_(None))
        )
    )
    informed = set(
        db.scalars(select(Notice.usager_id).where(Notice.usager_id.in_(usagers), Notice.status.in_(GIVEN_STATUSES)))
    )
    total = db.scalar(select(func.count()).select_from(usagers.subquery()))
    counts = [
        (_("Informés, sans opposition"), len(informed - opposed)),
        (_("Opposés à l'alimentation du DMP"), len(opposed)),
        (_("Pas encore informés"), total - len(informed | opposed)),
    ]
    return Table(
        key="information-usagers",
        caption=_("Information des usagers, à ce jour"),
        headings=(_("Situation"), _("Usagers"), _("Part (%)")),
        rows=[(label, count, 100.0 * count / total if total else 0.0) for label, count in counts],
        note=_(
            "Informé : au moins une notice a été remise à l'usager ou à son représentant. %(total)d usagers.",
            total=total,
        ),
    )


def _identities(db: Session, establishment: Establishment) -> Table:
    counts = dict(
        db.execute(
            select(Usager.identity_status, func.count())
            .where(Usager.establishment_id == establishment.id)
            .group_by(Usager.identity_status)
        ).all()
    )
    total = sum(counts.values())
    return Table(
        key="statut-ins",
        caption=_("Statut de l'identité (INS) des usagers"),
        headings=(_("Statut"), _("Usagers"), _("Part (%)")),
        rows=[
            (status.label, counts.get(status, 0), 100.0 * counts.get(status, 0) / total if total else 0.0)
            for status in IdentityStatus
        ],
    )
