"""The OpenAPI 3 document, generated from the marshmallow schemas, and its docs page.

Every operation's ``operationId`` is the name of the view that serves it, and every
status a view can answer is listed, with its schema (tests check both against the URL
map and against real responses).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response, jsonify, render_template

from app.api import activities as _activities  # noqa: F401  (adds the activity routes)
from app.api import (
    activities_openapi,
    comments_openapi,
    companies_openapi,
    custom_fields_openapi,
    deals_openapi,
    duplicates_openapi,
    exports_openapi,
    imports_openapi,
    lists_openapi,
    loss_reasons_openapi,
    notifications_openapi,
    pipelines_openapi,
    reports_openapi,
    search_openapi,
)
from app.api import comments as _comments  # noqa: F401  (adds the comment routes)
from app.api import companies as _companies  # noqa: F401  (adds the company routes)
from app.api import custom_fields as _custom_fields  # noqa: F401  (adds the custom field routes)
from app.api import deals as _deals  # noqa: F401  (adds the deal routes)
from app.api import duplicates as _duplicates  # noqa: F401  (adds the duplicates routes)
from app.api import exports as _exports  # noqa: F401  (adds the export routes)
from app.api import imports as _imports  # noqa: F401  (adds the import routes)
from app.api import lists as _lists  # noqa: F401  (adds the segment and bulk edit routes)
from app.api import loss_reasons as _loss_reasons  # noqa: F401  (adds the loss reason routes)
from app.api import members as _members  # noqa: F401  (adds the team routes)
from app.api import notifications as _notifications  # noqa: F401  (adds notification routes)
from app.api import pipelines as _pipelines  # noqa: F401  (adds the pipeline routes)
from app.api import reports as _reports  # noqa: F401  (adds the report routes)
from app.api import search as _search  # noqa: F401  (adds the search route)
from app.api.openapi_parts import document_rate_limits
from app.api.views import bp
from app.contacts.schemas import ContactSchema
from billing.plans import LIMITS, PLAN_KEYS

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error has this shape; `details` maps field names to messages.",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "additionalProperties": False,
            "properties": {
                "code": {
                    "type": "string",
                    "example": "validation_error",
                    "description": (
                        "validation_error (400), unauthorized (401), plan_limit_exceeded (402), "
                        "forbidden (403), not_found (404), method_not_allowed (405), "
                        "conflict (409), payload_too_large (413), unsupported_media_type (415), "
                        "rate_limited (429), unavailable (503)."
                    ),
                },
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}

ME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "email", "name", "role", "tenant", "auth"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "format": "int64", "description": "Your user id."},
        "email": {"type": "string", "format": "email"},
        "name": {"type": "string"},
        "role": {"type": "string", "description": "Your role in this workspace."},
        "tenant": {
            "type": "object",
            "required": ["id", "slug", "name"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "format": "int64"},
                "slug": {"type": "string"},
                "name": {"type": "string"},
            },
        },
        "auth": {"type": "string", "enum": ["token", "session"]},
    },
}

_LIMIT_USAGE: dict[str, Any] = {
    "type": "object",
    "required": ["used", "max"],
    "additionalProperties": False,
    "properties": {
        "used": {
            "type": "integer",
            "format": "int64",
            "nullable": True,
            "description": "What the workspace uses now; null when not metered here.",
        },
        "max": {
            "type": "integer",
            "format": "int64",
            "nullable": True,
            "description": "The cap; null when unlimited.",
        },
    },
}

USAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["plan", "plan_version", "status", "limits"],
    "additionalProperties": False,
    "properties": {
        "plan": {"type": "string", "enum": list(PLAN_KEYS)},
        "plan_version": {
            "type": "integer",
            "description": "The catalog version of the plan this workspace is on.",
        },
        "status": {
            "type": "string",
            "description": "The workspace's status (`active`, `suspended`).",
        },
        "limits": {
            "type": "object",
            "required": list(LIMITS),
            "additionalProperties": False,
            "properties": {name: {"$ref": "#/components/schemas/LimitUsage"} for name in LIMITS},
        },
    },
}

LIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "additionalProperties": False,
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Contact"}},
        "next_cursor": {
            "type": "string",
            "nullable": True,
            "description": "Pass as `cursor` for the next page; null on the last page.",
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(ref: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }
    if headers:
        response["headers"] = headers
    return response


COMMON_ERRORS = {
    "401": _error("Missing, invalid or revoked credentials (or a token of another workspace)."),
    "403": _error(
        "Your role may not do this, the workspace is suspended, or the X-CSRFToken "
        "header is missing on a cookie-authenticated write."
    ),
    "404": _error("Not found: no such workspace, record, or a record outside your scope."),
}
PLAN_LIMIT_ERROR = {
    "402": _error(
        "The plan's cap is reached: `details` has `limit`, `used`, `max` and `plan`. "
        "Nothing was created; an admin can upgrade the plan."
    )
}
BODY_ERRORS = {
    "400": _error(
        "Malformed JSON, a body that is not an object, or invalid fields "
        "(`details` names each field)."
    ),
    "413": _error("The body is too large."),
    "415": _error("The body is not JSON (Content-Type: application/json)."),
}
ID_PARAM = {
    "name": "contact_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "format": "int64", "minimum": 1},
}


def _contact_components(spec: APISpec) -> None:
    """``Contact`` (as answered: every field present) and ``ContactInput`` (as accepted:
    writable fields only, all optional on PATCH, unknown fields refused)."""
    spec.components.schema("Contact", schema=ContactSchema)
    generated = spec.to_dict()["components"]["schemas"]["Contact"]
    contact = copy.deepcopy(generated)
    contact["required"] = sorted(contact["properties"])
    for name in ("id", "owner_id"):
        contact["properties"][name]["format"] = "int64"
    contact["description"] = "A contact. `owner_id` is the user id of the member who owns it."
    writable = {
        name: {k: v for k, v in prop.items() if k != "default"}
        for name, prop in contact["properties"].items()
        if not prop.get("readOnly")
    }
    for name in ("first_name", "last_name"):
        writable[name]["nullable"] = True  # null clears the name (stored as "")
    contact_input = {
        "type": "object",
        "additionalProperties": False,
        "properties": writable,
        "description": (
            "Writable contact fields; unknown or read-only fields are refused (400). "
            "A contact needs a first name, a last name or an email. `owner_id` defaults to "
            "you; it must be an active member of this workspace, and roles that only see "
            "their own records may only name themselves. Blank optional fields become null."
        ),
    }
    spec.components.schemas["Contact"] = contact
    spec.components.schema("ContactInput", component=contact_input)


@lru_cache(maxsize=1)
def build_spec() -> dict[str, Any]:
    """The OpenAPI document (built once per process)."""
    from app.api.team_openapi import TAG as TEAM_TAG
    from app.api.team_openapi import document_team

    spec = APISpec(
        title="CRM API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": (
                "Authenticate with `Authorization: Bearer <token>` (create one with "
                "`crm tokens create`) on any host, or with the session cookie on your "
                "workspace host (writes then need the page's CSRF token in `X-CSRFToken`). "
                "Lists are cursor-paginated: pass `next_cursor` back as `cursor`. Errors "
                'always have the shape `{"error": {code, message, details}}`. Query '
                "parameters are given once each; unknown ones are refused."
            )
        },
        tags=[
            {"name": "me", "description": "Who is calling."},
            {"name": "contacts", "description": "The people your team sells to."},
            {"name": "billing", "description": "Your plan, its limits and your usage."},
            TEAM_TAG,
            companies_openapi.TAG,
            deals_openapi.TAG,
            activities_openapi.TAG,
            lists_openapi.TAG,
            exports_openapi.TAG,
            pipelines_openapi.TAG,
            loss_reasons_openapi.TAG,
            comments_openapi.TAG,
            notifications_openapi.TAG,
            custom_fields_openapi.TAG,
            imports_openapi.TAG,
            duplicates_openapi.TAG,
            search_openapi.TAG,
            reports_openapi.TAG,
        ],
    )
    _contact_components(spec)
    spec.components.schema("ContactList", component=LIST_SCHEMA)
    spec.components.schema("Me", component=ME_SCHEMA)
    spec.components.schema("LimitUsage", component=_LIMIT_USAGE)
    spec.components.schema("Usage", component=USAGE_SCHEMA)
    spec.components.schema("Error", component=ERROR_SCHEMA)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme(
        "session",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "session",
            "description": "The workspace's sign-in cookie (workspace host only).",
        },
    )
    spec.path(
        path="/api/v1/me",
        operations={
            "get": {
                "operationId": "me",
                "summary": "The caller, their workspace and role",
                "tags": ["me"],
                "responses": {"200": _json("Me", "The caller."), **COMMON_ERRORS},
            }
        },
    )
    spec.path(
        path="/api/v1/usage",
        operations={
            "get": {
                "operationId": "usage",
                "summary": "Your plan, its limits and what the workspace uses",
                "description": (
                    "Per limit, `used` and `max` (null when unlimited). Contacts, seats "
                    "(members plus pending invitations), pipelines and custom fields are "
                    "counted exactly; `api_requests_per_minute` and `storage_mb` are not "
                    "metered here (`used` is null). Needs the billing view right (owners "
                    "and admins)."
                ),
                "tags": ["billing"],
                "responses": {"200": _json("Usage", "Plan, limits and usage."), **COMMON_ERRORS},
            }
        },
    )
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ContactInput"}}},
    }
    location = {
        "Location": {"description": "URL of the new contact.", "schema": {"type": "string"}}
    }
    spec.path(
        path="/api/v1/contacts",
        operations={
            "get": {
                "operationId": "list_contacts",
                "summary": "List contacts",
                "tags": ["contacts"],
                "parameters": lists_openapi.list_parameters("contact"),
                "responses": {
                    "200": _json("ContactList", "A page of contacts you may see."),
                    "400": _error(
                        "Invalid filter, sort, limit or cursor, or an unknown or "
                        "repeated parameter."
                    ),
                    **COMMON_ERRORS,
                },
            },
            "post": {
                "operationId": "create_contact",
                "summary": "Create a contact",
                "tags": ["contacts"],
                "requestBody": body,
                "responses": {
                    "201": _json("Contact", "Created.", headers=location),
                    **PLAN_LIMIT_ERROR,
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/contacts/{contact_id}",
        operations={
            "get": {
                "operationId": "get_contact",
                "summary": "Get a contact",
                "tags": ["contacts"],
                "parameters": [ID_PARAM],
                "responses": {"200": _json("Contact", "The contact."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_contact",
                "summary": "Update some fields of a contact",
                "tags": ["contacts"],
                "parameters": [ID_PARAM],
                "requestBody": body,
                "responses": {"200": _json("Contact", "Updated."), **BODY_ERRORS, **COMMON_ERRORS},
            },
            "delete": {
                "operationId": "delete_contact",
                "summary": "Delete a contact",
                "tags": ["contacts"],
                "parameters": [ID_PARAM],
                "responses": {"204": {"description": "Deleted."}, **COMMON_ERRORS},
            },
        },
    )
    document_team(spec)
    companies_openapi.document(spec)
    deals_openapi.document(spec)
    activities_openapi.document(spec)
    lists_openapi.document(spec)
    exports_openapi.document(spec)
    pipelines_openapi.document(spec)
    loss_reasons_openapi.document(spec)
    comments_openapi.document(spec)
    notifications_openapi.document(spec)
    custom_fields_openapi.document(spec)
    imports_openapi.document(spec)
    duplicates_openapi.document(spec)
    search_openapi.document(spec)
    reports_openapi.document(spec)
    document = spec.to_dict()
    document["security"] = [{"bearer": []}, {"session": []}]
    document_rate_limits(document)
    return document


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3 document."""
    return jsonify(build_spec())


@bp.get("/docs")
def docs() -> str:
    """Browsable API reference rendered from the same document."""
    return render_template("api/docs.html", spec=build_spec())
