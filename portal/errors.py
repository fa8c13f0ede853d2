"""Error pages in French, full page or htmx fragment, and an audit line for refused access."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal import database
from portal.access import PermissionDenied
from portal.audit.service import DENIED, record


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(PermissionDenied, _permission_denied)


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Requête incorrecte"), _("La demande envoyée n'a pas pu être comprise.")),
        403: (_("Accès refusé"), _("Vous n'avez pas les droits nécessaires pour cette page.")),
        404: (_("Page introuvable"), _("Cette page n'existe pas ou vous n'y avez pas accès.")),
        405: (_("Action impossible"), _("Cette action n'est pas possible sur cette page.")),
        429: (
            _("Trop de tentatives"),
            _("Vous avez fait trop de demandes en peu de temps. Patientez une minute avant de réessayer."),
        ),
        500: (_("Erreur du portail"), _("Une erreur inattendue s'est produite. Elle a été enregistrée.")),
    }


def _render(code: int, title: str | None = None, message: str | None = None):
    default_title, default_message = _messages().get(code, (_("Erreur"), ""))
    return (
        render_template("errors/error.html", code=code, title=title or default_title, message=message or default_message),
        code,
    )


def _http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    return _render(error.code)


def _csrf_error(_error: CSRFError):
    return _render(
        400,
        _("Formulaire expiré"),
        _("Le formulaire a expiré ou ne vient pas de ce portail. Rechargez la page et recommencez : rien n'a été enregistré."),
    )


def _permission_denied(error: PermissionDenied):
    db = database.session()
    db.rollback()
    record(db, "access.denied", outcome=DENIED, target=request.path, detail={"action": error.action})
    db.commit()
    return _render(403)
