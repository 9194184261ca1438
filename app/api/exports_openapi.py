"""OpenAPI documentation of the export endpoints.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.api.exports import DEFAULT_SORT, EXPORT_SORTS
from app.api.openapi_parts import NEXT_PAGE, list_schema
from app.api.openapi_parts import error_response as _error
from app.api.openapi_parts import json_response as _json
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.exports.models import (
    EXPORT_DELIVERIES,
    EXPORT_ENTITIES,
    EXPORT_FORMATS,
    EXPORT_STATUSES,
)
from app.input_rules import MAX_BIGINT

TAG: dict[str, Any] = {
    "name": "exports",
    "description": (
        "CSV and XLSX exports of a filtered list or a saved segment. Start one, poll it "
        "until `status` is `done`, then download its file (kept for 24 hours). Only the "
        "records you may export appear; a job is visible to the member who started it."
    ),
}

_NULLABLE_INT = {"type": "integer", "format": "int64", "nullable": True}
_NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}

EXPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "An export job.",
    "properties": {
        "id": {"type": "integer", "format": "int64"},
        "entity": {"type": "string", "enum": list(EXPORT_ENTITIES)},
        "format": {"type": "string", "enum": list(EXPORT_FORMATS)},
        "status": {
            "type": "string",
            "enum": list(EXPORT_STATUSES),
            "description": "queued -> running -> done or failed; done -> expired once the "
            "file is deleted.",
        },
        "delivery": {
            "type": "string",
            "enum": list(EXPORT_DELIVERIES),
            "description": "`file` (downloadable here) or `stream` (a small CSV downloaded "
            "from a list page when it was made; it has no file).",
        },
        "filter": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "The list filter used, normalised (a segment's, as it was).",
        },
        "segment_id": _NULLABLE_INT,
        "segment_name": {"type": "string", "nullable": True},
        "rows_total": {
            **_NULLABLE_INT,
            "description": "Rows to write, counted when the job starts; null before.",
        },
        "rows_written": {"type": "integer", "format": "int64"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "file_name": {"type": "string"},
        "file_size": {**_NULLABLE_INT, "description": "Bytes, once done."},
        "error": {"type": "string", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": _NULLABLE_TIME,
        "finished_at": _NULLABLE_TIME,
        "expires_at": {**_NULLABLE_TIME, "description": "When the file is deleted."},
        "download_url": {
            "type": "string",
            "nullable": True,
            "description": "Where to GET the file; null until it is ready.",
        },
    },
}
EXPORT_SCHEMA["required"] = sorted(EXPORT_SCHEMA["properties"])

EXPORT_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["format"],
    "description": (
        "What to export: `entity` with an optional `filter` (the list's query parameters, "
        'e.g. `{"q": "acme", "owner_id": "me", "tag": "VIP"}`, values as text; '
        "`sort`, `cursor` and `limit` are ignored), or `segment_id` (a segment you may "
        "see; its filter as it is now). Rows are in creation order. Every standard field "
        "is a column, the owner as name and email, linked records by name, tags joined "
        "with `, `, then one column per custom field. CSV is UTF-8 with a byte order mark "
        "and CRLF line ends; text that a spreadsheet would run as a formula (starting "
        "with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'` in CSV "
        "and is a plain text cell in XLSX."
    ),
    "properties": {
        "entity": {"type": "string", "enum": list(EXPORT_ENTITIES)},
        "format": {"type": "string", "enum": list(EXPORT_FORMATS)},
        "filter": {
            "type": "object",
            "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        },
        "segment_id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT},
    },
}


def document(spec: APISpec) -> None:
    """Add the export schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS

    spec.components.schema("Export", component=EXPORT_SCHEMA)
    spec.components.schema("ExportInput", component=EXPORT_INPUT)
    spec.components.schema(
        "ExportList",
        component=list_schema(
            "Export",
            cursor_description=NEXT_PAGE,
        ),
    )
    export_id = {
        "name": "export_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "format": "int64", "minimum": 1},
    }
    sorts = sorted(EXPORT_SORTS)
    paging = [
        {
            "name": "sort",
            "in": "query",
            "schema": {
                "type": "string",
                "default": DEFAULT_SORT,
                "enum": [*sorts, *(f"-{s}" for s in sorts)],
            },
        },
        {"name": "cursor", "in": "query", "schema": {"type": "string", "maxLength": 500}},
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
    ]
    location = {"Location": {"description": "URL of the job.", "schema": {"type": "string"}}}
    spec.path(
        path="/api/v1/exports",
        operations={
            "get": {
                "operationId": "list_exports",
                "summary": "List your exports",
                "tags": ["exports"],
                "parameters": paging,
                "responses": {
                    "200": _json("ExportList", "Your exports, newest first."),
                    "400": _error("Invalid sort, limit or cursor, or an unknown parameter."),
                    **COMMON_ERRORS,
                },
            },
            "post": {
                "operationId": "create_export",
                "summary": "Export a filtered list or a segment",
                "description": (
                    "Queues the export and answers at once with the job (202); poll "
                    "`GET /api/v1/exports/{export_id}`. Needs the export right on exports "
                    "and on the kind of record; only records within your export scope "
                    "are written."
                ),
                "tags": ["exports"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ExportInput"}}
                    },
                },
                "responses": {
                    "202": _json("Export", "Queued.", headers=location),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/exports/{export_id}",
        operations={
            "get": {
                "operationId": "get_export",
                "summary": "Get an export's status",
                "tags": ["exports"],
                "parameters": [export_id],
                "responses": {"200": _json("Export", "The job."), **COMMON_ERRORS},
            }
        },
    )
    spec.path(
        path="/api/v1/exports/{export_id}/download",
        operations={
            "get": {
                "operationId": "download_export",
                "summary": "Download an export's file",
                "tags": ["exports"],
                "parameters": [export_id],
                "responses": {
                    "200": {
                        "description": "The file, as an attachment.",
                        "content": {
                            "text/csv": {"schema": {"type": "string", "format": "binary"}},
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                    },
                    "409": _error(
                        "No file: the job is not done yet, failed, expired, or was "
                        "downloaded directly from a list page."
                    ),
                    **COMMON_ERRORS,
                },
            }
        },
    )
