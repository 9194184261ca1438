"""OpenAPI documentation of the custom field endpoints.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.api.openapi_parts import list_schema
from app.custom_fields.models import CUSTOM_FIELD_ENTITIES, FIELD_TYPES
from app.custom_fields.services import (
    MAX_KEY_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_OPTION_LENGTH,
    MAX_OPTIONS,
)
from app.input_rules import MAX_BIGINT

TAG: dict[str, Any] = {
    "name": "custom-fields",
    "description": (
        "Fields your workspace adds to contacts, companies and deals. Records carry their "
        "values in `custom_fields`, by key. Value shapes per type: `text` (one line, at "
        "most 500 characters), `long_text` (at most 20,000), `url` (http or https), "
        "`email`, `phone` and `single_select` (one of the options) are strings; `number` "
        'is a JSON number; `money` is `{"amount": "12.50", "currency": "EUR"}` '
        "(the currency's decimals at most); `date` is `YYYY-MM-DD` (years 1900-2200); "
        "`checkbox` is true or false; `multi_select` is a list of options. On a write, "
        "null (or blank text, an empty list) removes a value; a PATCH changes only the "
        "keys it names. Errors name the value as `custom_fields.<key>`."
    ),
}

_ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT}
_KEY = {
    "type": "string",
    "pattern": f"^[a-z][a-z0-9_]{{0,{MAX_KEY_LENGTH - 1}}}$",
    "description": "The key of the values in `custom_fields`; unique per entity, fixed.",
}
_OPTIONS = {
    "type": "array",
    "maxItems": MAX_OPTIONS,
    "items": {"type": "string", "minLength": 1, "maxLength": MAX_OPTION_LENGTH},
    "description": (
        "Choices of `single_select` and `multi_select` fields, in display order "
        "(distinct ignoring case); empty for other types."
    ),
}

CUSTOM_FIELD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "A custom field of contacts, companies or deals.",
    "properties": {
        "id": _ID,
        "entity": {"type": "string", "enum": list(CUSTOM_FIELD_ENTITIES)},
        "key": _KEY,
        "label": {"type": "string", "maxLength": MAX_LABEL_LENGTH},
        "type": {"type": "string", "enum": list(FIELD_TYPES)},
        "required": {"type": "boolean"},
        "options": _OPTIONS,
        "position": {"type": "integer", "minimum": 0, "description": "0 = first."},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
CUSTOM_FIELD_SCHEMA["required"] = sorted(CUSTOM_FIELD_SCHEMA["properties"])

CUSTOM_FIELD_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": (
        "On create, `entity`, `label` and `type` are required; `key` defaults to one made "
        "from the label (`Customer tier` -> `customer_tier`, with `_2`... when taken); "
        "`required` defaults to false; `position` to last. Selects need `options`. "
        "Creating counts against the plan's `custom_fields` limit (402 at the cap). "
        "On PATCH, `label`, `required`, `options` and `position` change; `entity`, `key` "
        "and `type` are fixed (the same value is accepted, another is refused). Options "
        "removed from a select are removed from every record holding them; an option "
        "changed only in letter case is renamed on the records. Unknown fields are "
        "refused (400)."
    ),
    "properties": {
        "entity": {"type": "string", "enum": list(CUSTOM_FIELD_ENTITIES)},
        "key": {**_KEY, "nullable": True},
        "label": {"type": "string", "minLength": 1, "maxLength": MAX_LABEL_LENGTH},
        "type": {"type": "string", "enum": list(FIELD_TYPES)},
        "required": {"type": "boolean"},
        "options": {**_OPTIONS, "nullable": True},
        "position": {"type": "integer", "minimum": 0, "maximum": 100_000},
    },
}

CUSTOM_FIELD_LIST_SCHEMA: dict[str, Any] = list_schema(
    "CustomField", cursor_description="Always null: every field is on the one page."
)

_PATH_ID = {"name": "field_id", "in": "path", "required": True, "schema": _ID}
_TAGS = [TAG["name"]]


def document(spec: APISpec) -> None:
    """Add the custom field schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS, PLAN_LIMIT_ERROR, _error, _json

    spec.components.schema("CustomField", component=CUSTOM_FIELD_SCHEMA)
    spec.components.schema("CustomFieldInput", component=CUSTOM_FIELD_INPUT_SCHEMA)
    spec.components.schema("CustomFieldList", component=CUSTOM_FIELD_LIST_SCHEMA)
    body = {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CustomFieldInput"}}
        },
    }
    location = {
        "Location": {"description": "URL of the new custom field.", "schema": {"type": "string"}}
    }
    spec.path(
        path="/api/v1/custom-fields",
        operations={
            "get": {
                "operationId": "list_custom_fields",
                "summary": "List custom fields",
                "description": "In display order: contacts', companies', then deals' fields.",
                "tags": _TAGS,
                "parameters": [
                    {
                        "name": "entity",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(CUSTOM_FIELD_ENTITIES)},
                        "description": "Only the fields of this record type.",
                    }
                ],
                "responses": {
                    "200": _json("CustomFieldList", "Every custom field (one page)."),
                    "400": _error("An unknown entity, or an unknown or repeated parameter."),
                    **COMMON_ERRORS,
                },
            },
            "post": {
                "operationId": "create_custom_field",
                "summary": "Create a custom field",
                "tags": _TAGS,
                "requestBody": body,
                "responses": {
                    "201": _json("CustomField", "Created.", headers=location),
                    **PLAN_LIMIT_ERROR,
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/custom-fields/{field_id}",
        operations={
            "get": {
                "operationId": "get_custom_field",
                "summary": "Get a custom field",
                "tags": _TAGS,
                "parameters": [_PATH_ID],
                "responses": {"200": _json("CustomField", "The field."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_custom_field",
                "summary": "Update a custom field",
                "tags": _TAGS,
                "parameters": [_PATH_ID],
                "requestBody": body,
                "responses": {
                    "200": _json("CustomField", "Updated."),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
            "delete": {
                "operationId": "delete_custom_field",
                "summary": "Delete a custom field",
                "description": (
                    "Removes the field's value from every record of its type, in the same "
                    "transaction, and frees one custom field of the plan's limit."
                ),
                "tags": _TAGS,
                "parameters": [_PATH_ID],
                "responses": {"204": {"description": "Deleted."}, **COMMON_ERRORS},
            },
        },
    )
