"""OpenAPI documentation of the deals endpoints."""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.api import lists_openapi
from app.api.openapi_parts import NEXT_PAGE, list_schema
from app.deals.models import DEAL_STATUSES
from app.input_rules import MAX_BIGINT

TAG: dict[str, Any] = {
    "name": "deals",
    "description": "Opportunities moving through a pipeline's stages.",
}

_ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT}
_NULLABLE_ID = {**_ID, "nullable": True}
_AMOUNT_OUT = {
    "type": "string",
    "nullable": True,
    "pattern": r"^[0-9]+(\.[0-9]+)?$",
    "example": "1234.50",
}
_AMOUNT_IN = {
    "nullable": True,
    "oneOf": [
        {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*$", "maxLength": 50},
        {"type": "number", "minimum": 0},
    ],
    "description": (
        'A decimal in major units, preferably as a string ("1234.50"). At most as many '
        "decimals as the currency has (EUR 2, JPY 0, KWD 3), not negative, at most 10^15; "
        "no exponent or grouping."
    ),
}
_TEXT = {"type": "string", "nullable": True}
_DATE_TIME = {"type": "string", "format": "date-time"}

DEAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": (
        "A deal. `amount`, `won_amount` and `weighted_amount` are decimal strings in the "
        "deal's currency. `weighted_amount` is the amount times `effective_probability` "
        "(100 when won, 0 when lost, else `probability` when set, else the stage's), "
        "rounded half up to the currency's minor units."
    ),
    "properties": {
        "id": _ID,
        "title": {"type": "string", "maxLength": 200},
        "amount": _AMOUNT_OUT,
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "example": "EUR"},
        "weighted_amount": _AMOUNT_OUT,
        "pipeline_id": _ID,
        "stage_id": _ID,
        "pipeline": {
            "type": "object",
            "nullable": True,
            "additionalProperties": False,
            "required": ["id", "name"],
            "properties": {"id": _ID, "name": {"type": "string"}},
        },
        "stage": {
            "type": "object",
            "nullable": True,
            "additionalProperties": False,
            "required": ["id", "name", "kind", "probability"],
            "properties": {
                "id": _ID,
                "name": {"type": "string"},
                "kind": {"type": "string", "enum": list(DEAL_STATUSES)},
                "probability": {"type": "integer", "minimum": 0, "maximum": 100},
            },
        },
        "status": {
            "type": "string",
            "enum": list(DEAL_STATUSES),
            "description": "The kind of the deal's stage.",
        },
        "probability": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "nullable": True,
            "description": "The deal's own probability; null: the stage's applies.",
        },
        "effective_probability": {"type": "integer", "minimum": 0, "maximum": 100},
        "expected_close_date": {"type": "string", "format": "date", "nullable": True},
        "owner_id": _NULLABLE_ID,
        "contact_id": _NULLABLE_ID,
        "company_id": _NULLABLE_ID,
        "source": _TEXT,
        "notes": _TEXT,
        "lost_reason": _TEXT,
        "lost_to_competitor": _TEXT,
        "won_amount": _AMOUNT_OUT,
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 50}},
        "custom_fields": {"type": "object", "additionalProperties": True},
        "closed_at": {**_DATE_TIME, "nullable": True},
        "stage_entered_at": _DATE_TIME,
        "created_at": _DATE_TIME,
        "updated_at": _DATE_TIME,
    },
}
DEAL_SCHEMA["required"] = sorted(DEAL_SCHEMA["properties"])

DEAL_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": (
        "Writable deal fields; unknown or read-only fields are refused (400). `title` is "
        "required on create. `currency` defaults to EUR. Without `pipeline_id` and "
        "`stage_id` a deal starts in the default pipeline's first open stage; with only "
        "`pipeline_id`, in that pipeline's first open stage; a `stage_id` must belong to "
        "the `pipeline_id` when both are given. A new stage moves the deal: its `status` "
        "follows the stage's kind; a lost stage needs `lost_reason`; a won stage sets "
        "`closed_at` and `won_amount` (default: the amount); an open stage clears them. "
        "`contact_id` and `company_id` must be records you may see. `owner_id` defaults "
        "to you; roles limited to their own deals may only name themselves."
    ),
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "amount": _AMOUNT_IN,
        "currency": {
            "type": "string",
            "nullable": True,
            "maxLength": 3,
            "description": "ISO 4217 code (case-insensitive).",
        },
        "pipeline_id": _NULLABLE_ID,
        "stage_id": _NULLABLE_ID,
        "probability": {"type": "integer", "minimum": 0, "maximum": 100, "nullable": True},
        "expected_close_date": {"type": "string", "format": "date", "nullable": True},
        "owner_id": _NULLABLE_ID,
        "contact_id": _NULLABLE_ID,
        "company_id": _NULLABLE_ID,
        "source": {**_TEXT, "maxLength": 100},
        "notes": {**_TEXT, "maxLength": 20000},
        "lost_reason": {**_TEXT, "maxLength": 200},
        "lost_to_competitor": {**_TEXT, "maxLength": 200},
        "won_amount": _AMOUNT_IN,
        "from_stage_id": {
            **_NULLABLE_ID,
            "description": (
                "PATCH only (refused on create): the stage you saw the deal in. When the "
                "deal has moved since, the answer is 409 `conflict` with the current "
                "`details.stage_id` and nothing changes. A lost stage's `lost_reason` "
                "matching an entry of `/loss-reasons` (case-insensitively) is stored "
                "with its spelling; other text is accepted as typed."
            ),
        },
        "tags": {
            "nullable": True,
            "oneOf": [
                {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 30},
                {"type": "string", "description": "Comma-separated."},
            ],
        },
        "custom_fields": {
            "type": "object",
            "additionalProperties": True,
            "description": (
                "Values of the workspace's deal fields by key (see /api/v1/custom-fields); "
                "a required one must be given on create. On PATCH only the keys given "
                "change; null removes a value."
            ),
        },
    },
}

DEAL_LIST_SCHEMA: dict[str, Any] = list_schema("Deal", cursor_description=NEXT_PAGE)

_PATH_ID = {"name": "deal_id", "in": "path", "required": True, "schema": _ID}


def document(spec: APISpec) -> None:
    """Add the deals schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS, _error, _json

    spec.components.schema("Deal", component=DEAL_SCHEMA)
    spec.components.schema("DealInput", component=DEAL_INPUT_SCHEMA)
    spec.components.schema("DealList", component=DEAL_LIST_SCHEMA)
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DealInput"}}},
    }
    location = {"Location": {"description": "URL of the new deal.", "schema": {"type": "string"}}}
    spec.path(
        path="/api/v1/deals",
        operations={
            "get": {
                "operationId": "list_deals",
                "summary": "List deals",
                "tags": ["deals"],
                "parameters": lists_openapi.list_parameters("deal"),
                "responses": {
                    "200": _json("DealList", "A page of deals you may see."),
                    "400": _error(
                        "Invalid filter, sort, limit or cursor, or an unknown or "
                        "repeated parameter."
                    ),
                    **COMMON_ERRORS,
                },
            },
            "post": {
                "operationId": "create_deal",
                "summary": "Create a deal",
                "tags": ["deals"],
                "requestBody": body,
                "responses": {
                    "201": _json("Deal", "Created.", headers=location),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/deals/{deal_id}",
        operations={
            "get": {
                "operationId": "get_deal",
                "summary": "Get a deal",
                "tags": ["deals"],
                "parameters": [_PATH_ID],
                "responses": {"200": _json("Deal", "The deal."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_deal",
                "summary": "Update a deal or move it to another stage",
                "tags": ["deals"],
                "parameters": [_PATH_ID],
                "requestBody": body,
                "responses": {
                    "200": _json("Deal", "Updated."),
                    "409": _error(
                        "The deal is no longer in `from_stage_id` (someone else moved it): "
                        "nothing changed; `details.stage_id` is where it is now."
                    ),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
            "delete": {
                "operationId": "delete_deal",
                "summary": "Delete a deal",
                "tags": ["deals"],
                "parameters": [_PATH_ID],
                "responses": {"204": {"description": "Deleted."}, **COMMON_ERRORS},
            },
        },
    )
