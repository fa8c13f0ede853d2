"""The DUI's API (`/api/v1`): bearer token per DUI, no cookie, no session, no CSRF; JSON, FHIR and problem answers.

Every call is audited under the client's name; an INS never goes into the audit log (the target
is the usager's id) nor into request logs (the path is redacted).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from notices import dmp_status, dui_clients
from notices.api_spec import spec
from portal import database
from portal.audit.service import DENIED, FAILURE, SUCCESS, record
from portal.redaction import redact_request_logs
from portal.security import csrf, limiter, public

bp = Blueprint("notices_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens only: no cookie a browser could send on another site's behalf
limiter.limit("300/minute")(bp)
redact_request_logs(r"/api/v1/usagers/[^\s/?\"]+", "/api/v1/usagers/…")

FHIR_JSON = "application/fhir+json"
PROBLEM_JSON = "application/problem+json"
DEFAULT_PAGE = 100


class Problem(HTTPException):
    """An RFC 9457 problem detail, answered as application/problem+json."""

    def __init__(self, status: int, title: str, detail: str = ""):
        super().__init__(detail or title)
        self.code, self.title, self.detail = status, title, detail

    def get_response(self, environ=None, scope=None) -> Response:
        body = {"type": "about:blank", "title": self.title, "status": self.code}
        if self.detail:
            body["detail"] = self.detail
        response = jsonify(body)
        response.status_code = self.code
        response.mimetype = PROBLEM_JSON
        if self.code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="dmp-status"'
        return response


@bp.errorhandler(HTTPException)
def _problem(error: HTTPException):
    # Also the 429 of the rate limit: this API answers no HTML.
    if isinstance(error, Problem):
        return error
    return Problem(error.code or 500, error.name, error.description or "")


@bp.get("/openapi.json")
@public
def openapi():
    return jsonify(spec())


@bp.get("/usagers/<identifier>/dmp-status")
@public
def dmp_status_of(identifier: str):
    client = _client()
    db = database.session()
    usager = dmp_status.find_usager(db, client, identifier)
    if usager is None:
        _audit("notices.api_dmp_status", FAILURE)
        db.commit()
        raise Problem(404, "Unknown usager", "No usager of the establishment has this identifier.")
    status = dmp_status.status_of(db, usager)
    fhir = request.accept_mimetypes.best_match(["application/json", FHIR_JSON]) == FHIR_JSON
    _audit("notices.api_dmp_status", SUCCESS, f"usager:{usager.id}", {"format": "fhir" if fhir else "json"})
    db.commit()
    if fhir:
        response = jsonify(dmp_status.as_consent(status))
        response.mimetype = FHIR_JSON
        return response
    return jsonify(dmp_status.as_json(status))


@bp.get("/dmp-status/changes")
@public
def dmp_status_changes():
    client = _client()
    db = database.session()
    since, cursor = _since(), request.args.get("cursor") or None
    if since is None and cursor is None:
        raise Problem(400, "Missing parameter", "Give since (an RFC 3339 date-time) or cursor.")
    limit = request.args.get("limit", DEFAULT_PAGE, type=int)
    if not 1 <= limit <= dmp_status.MAX_PAGE:
        raise Problem(400, "Invalid parameter", f"limit goes from 1 to {dmp_status.MAX_PAGE}.")
    try:
        page = dmp_status.changes(db, client, since, cursor, limit)
    except dmp_status.BadCursor as error:
        raise Problem(400, "Invalid parameter", "This cursor was not given by this portal.") from error
    _audit("notices.api_dmp_changes", SUCCESS, detail={"items": len(page.items)})
    db.commit()
    return jsonify(
        {
            "items": [dmp_status.change_as_json(change) for change in page.items],
            "cursor": page.cursor,
            "more": page.more,
        }
    )


def _client():
    """The DUI client of the bearer token, or a 401 problem (audited)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    db = database.session()
    client = dui_clients.authenticate(db, token.strip()) if scheme.lower() == "bearer" else None
    if client is None:
        record(db, "notices.api_refused", outcome=DENIED, actor_label="api", target=request.endpoint or "")
        db.commit()
        raise Problem(401, "Authentication required", "Send the DUI's token: Authorization: Bearer <token>.")
    g.dui_client = client
    return client


def _audit(action: str, outcome: str, target: str = "", detail: dict | None = None) -> None:
    client = g.dui_client
    record(
        database.session(), action, outcome=outcome, actor_label=client.name, target=target,
        detail={"client": client.id, **(detail or {})},
    )  # fmt: skip


def _since() -> datetime | None:
    text = request.args.get("since")
    if not text:
        return None
    # An offset's "+" left unencoded in a query string arrives as a space.
    text = text.replace(" ", "+")
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        since = None
    if since is None or since.tzinfo is None:
        raise Problem(
            400, "Invalid parameter", "since is an RFC 3339 date-time with its offset (2026-01-31T08:00:00Z)."
        )
    return since
