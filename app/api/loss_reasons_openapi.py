"""OpenAPI documentation of the loss reasons endpoints.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.board.models import LOSS_REASON_NAME_MAX
from app.input_rules import MAX_BIGINT

TAG: dict[str, Any] = {
    "name": "loss-reasons",
    "description": (
        "The workspace's list of reasons why deals are lost, offered when a deal moves "
        "to a lost stage. A deal's `lost_reason` that matches an entry "
        "(case-insensitively) is stored with the entry's spelling; other text is kept "
        "as typed. Names are unique case-insensitively."
    ),
}

_ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT}
_NAME = {"type": "string", "minLength": 1, "maxLength": LOSS_REASON_NAME_MAX}

LOSS_REASON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": _ID,
        "name": _NAME,
        "position": {"type": "integer", "minimum": 0, "description": "0 first, no gaps."},
        "active": {
            "type": "boolean",
            "description": "Offered when a deal is lost; retired reasons stay for history.",
        },
        "created_at": {"type": "string", "format": "date-time"},
    },
}
LOSS_REASON_SCHEMA["required"] = sorted(LOSS_REASON_SCHEMA["properties"])

LOSS_REASON_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "`name` is required on create; a new reason goes last.",
    "properties": {
        "name": _NAME,
        "active": {"type": "boolean"},
        "position": {
            "type": "integer",
            "minimum": 0,
            "description": "Where to move the reason (0-based, below the list's length).",
        },
    },
}

LOSS_REASON_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/LossReason"}},
        "next_cursor": {"type": "string", "nullable": True, "description": "Always null."},
    },
}


def document(spec: APISpec) -> None:
    """Add the loss reasons schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS, _error, _json

    spec.components.schema("LossReason", component=LOSS_REASON_SCHEMA)
    spec.components.schema("LossReasonInput", component=LOSS_REASON_INPUT)
    spec.components.schema("LossReasonList", component=LOSS_REASON_LIST)
    tags = [TAG["name"]]
    body = {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/LossReasonInput"}}
        },
    }
    reason_id = {"name": "reason_id", "in": "path", "required": True, "schema": _ID}
    location = {"Location": {"description": "URL of the new reason.", "schema": {"type": "string"}}}
    spec.path(
        path="/api/v1/loss-reasons",
        operations={
            "get": {
                "operationId": "list_loss_reasons",
                "summary": "List the loss reasons",
                "tags": tags,
                "parameters": [
                    {
                        "name": "active",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "boolean"},
                        "description": "true: only the reasons offered when a deal is lost.",
                    }
                ],
                "responses": {
                    "200": _json("LossReasonList", "The list, in order."),
                    "400": _error("An unknown or repeated query parameter."),
                    **COMMON_ERRORS,
                },
            },
            "post": {
                "operationId": "create_loss_reason",
                "summary": "Add a loss reason",
                "tags": tags,
                "requestBody": body,
                "responses": {
                    "201": _json("LossReason", "Added (last in the list).", location),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/loss-reasons/{reason_id}",
        operations={
            "get": {
                "operationId": "get_loss_reason",
                "summary": "Get a loss reason",
                "tags": tags,
                "parameters": [reason_id],
                "responses": {"200": _json("LossReason", "The reason."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_loss_reason",
                "summary": "Rename, retire or move a loss reason",
                "tags": tags,
                "parameters": [reason_id],
                "requestBody": body,
                "responses": {
                    "200": _json("LossReason", "Updated."),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
            "delete": {
                "operationId": "delete_loss_reason",
                "summary": "Delete a loss reason (lost deals keep their text)",
                "tags": tags,
                "parameters": [reason_id],
                "responses": {"204": {"description": "Deleted."}, **COMMON_ERRORS},
            },
        },
    )
