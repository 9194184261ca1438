"""The OpenAPI 3 document, generated from the marshmallow schemas, and its docs page."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response, jsonify, render_template

from app.api.views import bp
from app.contacts.schemas import ContactSchema

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "example": "validation_error"},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


COMMON_ERRORS = {
    "401": _error("Missing, invalid or revoked credentials."),
    "403": _error("Your role may not do this, or the workspace is suspended."),
}
ID_PARAM = {"name": "contact_id", "in": "path", "required": True, "schema": {"type": "integer"}}


@lru_cache(maxsize=1)
def build_spec() -> dict[str, Any]:
    """The OpenAPI document (built once per process)."""
    spec = APISpec(
        title="CRM API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": (
                "Authenticate with `Authorization: Bearer <token>` (create one with "
                "`crm tokens create`) on any host, or with the session cookie on your "
                "workspace host. Lists are cursor-paginated: pass `next_cursor` back as "
                "`cursor`. Errors always have the shape `{\"error\": {code, message, details}}`."
            )
        },
    )
    spec.components.schema("Contact", schema=ContactSchema)
    spec.components.schema("Error", component=ERROR_SCHEMA)
    spec.components.schema(
        "ContactList",
        component={
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Contact"}},
                "next_cursor": {"type": "string", "nullable": True},
            },
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.path(
        path="/api/v1/me",
        operations={
            "get": {
                "summary": "The caller, their workspace and role",
                "tags": ["me"],
                "responses": {"200": {"description": "The caller."}, **COMMON_ERRORS},
            }
        },
    )
    list_params = [
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Search name, email, phone, company."},
        {"name": "owner_id", "in": "query", "schema": {"type": "integer"}},
        {"name": "email", "in": "query", "schema": {"type": "string"}},
        {"name": "sort", "in": "query", "schema": {"type": "string", "default": "-created_at"},
         "description": "created_at, updated_at, last_name, first_name or email; '-' for descending."},
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
    ]
    body = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Contact"}}}}
    spec.path(
        path="/api/v1/contacts",
        operations={
            "get": {
                "summary": "List contacts",
                "tags": ["contacts"],
                "parameters": list_params,
                "responses": {"200": _json("ContactList", "A page of contacts."), "400": _error("Invalid filter, sort or cursor."), **COMMON_ERRORS},
            },
            "post": {
                "summary": "Create a contact",
                "tags": ["contacts"],
                "requestBody": body,
                "responses": {"201": _json("Contact", "Created."), "400": _error("Invalid fields."), **COMMON_ERRORS},
            },
        },
    )
    spec.path(
        path="/api/v1/contacts/{contact_id}",
        operations={
            "get": {
                "summary": "Get a contact",
                "tags": ["contacts"],
                "parameters": [ID_PARAM],
                "responses": {"200": _json("Contact", "The contact."), "404": _error("No such contact here."), **COMMON_ERRORS},
            },
            "patch": {
                "summary": "Update a contact",
                "tags": ["contacts"],
                "parameters": [ID_PARAM],
                "requestBody": body,
                "responses": {"200": _json("Contact", "Updated."), "400": _error("Invalid fields."), "404": _error("No such contact here."), **COMMON_ERRORS},
            },
            "delete": {
                "summary": "Delete a contact",
                "tags": ["contacts"],
                "parameters": [ID_PARAM],
                "responses": {"204": {"description": "Deleted."}, "404": _error("No such contact here."), **COMMON_ERRORS},
            },
        },
    )
    document = spec.to_dict()
    document["security"] = [{"bearer": []}]
    return document


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3 document."""
    return jsonify(build_spec())


@bp.get("/docs")
def docs() -> str:
    """Browsable API reference rendered from the same document."""
    return render_template("api/docs.html", spec=build_spec())
