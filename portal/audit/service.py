"""Write audit events; let administrators search them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access import require_role
from portal.models import AuditEvent, Role, User
from portal.pagination import Page, paginate

SUCCESS = "success"
FAILURE = "failure"
DENIED = "denied"
# Who acted, for what an operator does at the command line (no account).
CLI_ACTOR = "ligne de commande"

# What administrators read in the log; an action without a label shows its code.
ACTION_LABELS = {
    "auth.password": _l("Vérification du mot de passe"),
    "auth.totp": _l("Vérification du code à usage unique"),
    "auth.totp_enrolment": _l("Enrôlement du second facteur"),
    "auth.totp_enrolled": _l("Second facteur activé"),
    "auth.login": _l("Connexion"),
    "auth.logout": _l("Déconnexion"),
    "auth.password_change": _l("Changement de mot de passe refusé"),
    "auth.password_changed": _l("Mot de passe changé"),
    "auth.idle_timeout": _l("Session verrouillée après inactivité"),
    "auth.locked": _l("Compte verrouillé après des échecs"),
    "auth.seeds_resealed": _l("Secrets du second facteur scellés sous une nouvelle clé"),
    "auth.psc_login": _l("Connexion avec Pro Santé Connect"),
    "auth.psc_account_requested": _l("Compte demandé avec Pro Santé Connect"),
    "auth.psc_refresh_refused": _l("Session fermée par Pro Santé Connect"),
    "access.denied": _l("Accès refusé"),
    "annuaire.import": _l("Import de l'annuaire"),
    "demo.seeded": _l("Données de démonstration créées"),
    "notices.usager_created": _l("Usager enregistré"),
    "notices.usager_updated": _l("Dossier d'usager modifié"),
    "notices.text_saved": _l("Texte de notice enregistré (nouvelle version)"),
    "notices.usager_import": _l("Import d'usagers depuis le DUI"),
    "notices.notice_prepared": _l("Notice d'information préparée"),
    "notices.notice_sent": _l("Notice d'information envoyée"),
    "notices.notice_failed": _l("Échec de l'envoi d'une notice d'information"),
    "notices.notice_marked": _l("Notice d'information imprimée ou remise"),
    "notices.link_check_failed": _l("Lien d'opposition : date de naissance erronée"),
    "notices.link_revoked": _l("Lien d'opposition désactivé"),
    "notices.opposition_recorded": _l("Opposition à l'alimentation du DMP enregistrée"),
    "notices.opposition_withdrawn": _l("Opposition à l'alimentation du DMP retirée"),
    "indicators.export": _l("Indicateurs exportés en CSV"),
    "mail.figures_computed": _l("Messages d'une boîte comptés pour les indicateurs"),
    "notices.dui_client_created": _l("Accès d'un DUI créé"),
    "notices.dui_client_revoked": _l("Accès d'un DUI révoqué"),
    "notices.api_refused": _l("Appel de l'API refusé (jeton absent, inconnu ou révoqué)"),
    "notices.api_dmp_status": _l("Statut DMP d'un usager demandé par un DUI"),
    "notices.api_dmp_changes": _l("Changements de statut DMP demandés par un DUI"),
}


def record(
    db: Session,
    action: str,
    *,
    outcome: str,
    target: str = "",
    actor: User | None = None,
    actor_label: str | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Add an event to the caller's transaction; the caller commits it with its work."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user._get_current_object()
    event = AuditEvent(
        actor=actor,
        actor_label=actor_label or (actor.email if actor else "anonyme"),
        action=action,
        target=target,
        outcome=outcome,
        client_ip=request.remote_addr if has_request_context() else None,
        detail=detail or {},
    )
    db.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None


def search(db: Session, actor: User, filters: AuditFilter, page: int) -> Page[AuditEvent]:
    require_role(actor, Role.ADMINISTRATOR, "audit.search")
    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if filters.actor:
        stmt = stmt.where(AuditEvent.actor_label.icontains(filters.actor, autoescape=True))
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.since:
        stmt = stmt.where(AuditEvent.at >= _day_start(filters.since))
    if filters.until:
        stmt = stmt.where(AuditEvent.at < _day_start(filters.until + timedelta(days=1)))
    return paginate(db, stmt, page, per_page=50)


def actions(db: Session, actor: User) -> list[str]:
    require_role(actor, Role.ADMINISTRATOR, "audit.search")
    return list(db.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def _day_start(day: date) -> datetime:
    # Days are chosen in French time, as the administrator reads them.
    return datetime.combine(day, time.min, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
