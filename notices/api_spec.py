"""The OpenAPI 3.1 description of the DUI's API, served at /api/v1/openapi.json (a test checks every route is in it)."""

from __future__ import annotations

from notices.dmp_status import MAX_PAGE

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_STATUS_FIELDS = {
    "local_id": {"type": "string", "description": "The DUI's own id of the usager."},
    "status": {"type": "string", "enum": ["informed", "opposition", "not_informed"]},
    "since": {
        "type": ["string", "null"],
        "format": "date-time",
        "description": "When the opposition was recorded, or when the information was given; null when not informed.",
    },
    "opposed_by": {
        "type": ["string", "null"],
        "enum": ["usager", "representative", "staff", None],
        "description": "Who opposed: the usager or a legal representative through their notice's link, or "
        "a staff member recording what the person said. Null unless status is opposition.",
    },
    "identity_qualified": {"type": "boolean", "description": "The usager's INS is qualified (RNIV)."},
    "may_feed": {
        "type": "boolean",
        "description": "status is informed and the INS is qualified: the DUI may send documents to the DMP.",
    },
}


def spec() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Portail MSSanté: DMP status for the DUI",
            "version": "1.0.0",
            "description": (
                "May the establishment feed the DMP (Mon espace santé) for a usager? The law (art. L.1111-15 CSP) "
                "lets it once the usager, or whoever acts for them, has been informed, and not after an opposition. "
                "Each DUI has its own token, created by an administrator of the portal for one establishment "
                "(Usagers > Accès des DUI); it sees that establishment's usagers only.\n\n"
                "**Stopping as soon as an opposition is recorded.** Ask `GET /usagers/{identifier}/dmp-status` "
                "right before each sending to the DMP, and poll `GET /dmp-status/changes`: the first call gives "
                "`since` (for instance the date of the DUI's last full synchronisation); every answer gives a "
                "`cursor`, which the DUI stores and sends alone in its next call. While `more` is true, call again "
                "at once; then wait (a minute or a few) and call again with the last cursor. An opposition appears "
                "in the feed at the next poll after it is recorded. A status can also change with time alone "
                "(a minor coming of age changes who must be informed): ask the status before each sending."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/usagers/{identifier}/dmp-status": {
                "get": {
                    "operationId": "dmpStatus",
                    "summary": "The DMP feeding status of one usager, as JSON or as a FHIR R4 Consent",
                    "parameters": [
                        {
                            "name": "identifier",
                            "in": "path",
                            "required": True,
                            "description": "The matricule INS (15 characters, key checked) or the DUI's own id.",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The status. `Accept: application/fhir+json` answers a FHIR R4 Consent "
                            "(scope patient-privacy, category LOINC 59284-0, action disclose): active with provision "
                            "permit when informed, active with provision deny after an opposition, draft before "
                            "the information.",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/DmpStatus"}},
                                "application/fhir+json": {"schema": {"$ref": "#/components/schemas/FhirConsent"}},
                            },
                        },
                        "401": _PROBLEM,
                        "404": _PROBLEM,
                        "429": _PROBLEM,
                    },
                }
            },
            "/dmp-status/changes": {
                "get": {
                    "operationId": "dmpStatusChanges",
                    "summary": "The usagers whose status may have changed, oldest change first, by pages",
                    "parameters": [
                        {
                            "name": "since",
                            "in": "query",
                            "description": "RFC 3339 date-time with its offset (URL-encode a +), for the first call.",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "The cursor of the previous answer; takes the place of since.",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of changes. An item means something that decides the status "
                            "changed (an opposition recorded or withdrawn, a notice given, the usager's record "
                            "edited); it gives the status now, which may be the same as before.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Changes"}}},
                        },
                        "400": _PROBLEM,
                        "401": _PROBLEM,
                        "429": _PROBLEM,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The DUI's token, shown once when an administrator creates it.",
                }
            },
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
            },
            "schemas": {
                "DmpStatus": {
                    "type": "object",
                    "required": list(_STATUS_FIELDS),
                    "properties": _STATUS_FIELDS,
                },
                "Change": {
                    "type": "object",
                    "required": [*_STATUS_FIELDS, "changed_at"],
                    "properties": {**_STATUS_FIELDS, "changed_at": {"type": "string", "format": "date-time"}},
                },
                "Changes": {
                    "type": "object",
                    "required": ["items", "cursor", "more"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                        "cursor": {"type": "string", "description": "Send it as cursor in the next call."},
                        "more": {"type": "boolean", "description": "Another page is ready: call again at once."},
                    },
                },
                "FhirConsent": {
                    "type": "object",
                    "description": "A FHIR R4 Consent resource (http://hl7.org/fhir/R4/consent.html).",
                    "required": ["resourceType", "status", "scope", "category", "patient", "provision"],
                    "properties": {"resourceType": {"const": "Consent"}},
                },
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    }
