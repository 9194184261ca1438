"""OpenAPI documentation of the imports endpoints.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.api.openapi_parts import error_response as _error
from app.api.openapi_parts import list_schema
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.imports.models import DEDUP_POLICIES, IMPORT_ENTITIES, IMPORT_STATUSES
from app.imports.services import MATCH_KEYS

TAG: dict[str, Any] = {
    "name": "imports",
    "description": (
        "Contacts and companies from CSV or XLSX files: upload, check the mapping, start, "
        "poll, download the rows that were not imported."
    ),
}

_COUNT = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": "date-time"}
_ALL_MATCH_KEYS = sorted({key for keys in MATCH_KEYS.values() for key in keys})

JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "entity",
        "status",
        "file_name",
        "file_kind",
        "file_size",
        "encoding",
        "delimiter",
        "sheet_name",
        "notices",
        "headers",
        "mapping",
        "dedup_policy",
        "match_on",
        "total_rows",
        "processed_rows",
        "progress",
        "counts",
        "error",
        "created_by_id",
        "created_at",
        "started_at",
        "finished_at",
    ],
    "description": (
        "An import job. `status`: uploaded (mapping guessed), mapped (settings given), "
        "queued, running, done, failed (the whole job: `error` says why; start it again "
        "to resume), cancelled. Every processed row is counted once in `counts`."
    ),
    "properties": {
        "id": {"type": "integer", "format": "int64"},
        "entity": {"type": "string", "enum": list(IMPORT_ENTITIES)},
        "status": {"type": "string", "enum": list(IMPORT_STATUSES)},
        "file_name": {"type": "string"},
        "file_kind": {"type": "string", "enum": ["csv", "xlsx"]},
        "file_size": {"type": "integer", "format": "int64"},
        "encoding": {
            "type": "string",
            "nullable": True,
            "description": "CSV: the encoding the file was read with.",
        },
        "delimiter": {"type": "string", "nullable": True},
        "sheet_name": {"type": "string", "nullable": True},
        "notices": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Things to check, e.g. a file read as Windows-1252.",
        },
        "headers": {"type": "array", "items": {"type": "string"}},
        "mapping": {
            "type": "object",
            "additionalProperties": {"type": "string", "nullable": True},
            "description": "Column name -> target key (see `targets`), null: ignored.",
        },
        "dedup_policy": {"type": "string", "enum": list(DEDUP_POLICIES)},
        "match_on": {"type": "array", "items": {"type": "string", "enum": _ALL_MATCH_KEYS}},
        "total_rows": _COUNT,
        "processed_rows": _COUNT,
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "counts": {
            "type": "object",
            "additionalProperties": False,
            "required": ["created", "updated", "skipped", "failed"],
            "properties": {k: _COUNT for k in ("created", "updated", "skipped", "failed")},
        },
        "error": {
            "type": "object",
            "nullable": True,
            "additionalProperties": True,
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
        },
        "created_by_id": {"type": "integer", "format": "int64"},
        "created_at": _TIME,
        "started_at": {**_TIME, "nullable": True},
        "finished_at": {**_TIME, "nullable": True},
        "targets": {
            "type": "array",
            "description": "What a column may map to (custom fields as `cf:<key>`).",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "label"],
                "properties": {"key": {"type": "string"}, "label": {"type": "string"}},
            },
        },
        "errors": {
            "type": "array",
            "description": "The first failed rows (all of them: `failed-rows`).",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["row", "reason"],
                "properties": {"row": {"type": "integer"}, "reason": {"type": "string"}},
            },
        },
    },
}

PREVIEW_ROW: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["row", "cells", "outcome", "messages"],
    "properties": {
        "row": {"type": "integer"},
        "cells": {"type": "array", "items": {"type": "string"}},
        "outcome": {"type": "string", "enum": ["create", "update", "skip", "fail"]},
        "messages": {"type": "array", "items": {"type": "string"}},
    },
}
PREVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": PREVIEW_ROW}},
}

_SETTINGS: dict[str, dict[str, Any]] = {
    "mapping": {
        "description": (
            "Column name -> target key or null (columns not named are ignored); or a list "
            "with one target or null per column."
        ),
    },
    "dedup_policy": {
        "type": "string",
        "enum": list(DEDUP_POLICIES),
        "description": (
            "A row matching a record you may see (or an earlier row): skip it, update the "
            "record with the row's non-empty values (tags are added), or create anyway."
        ),
    },
    "match_on": {
        "type": "array",
        "items": {"type": "string", "enum": _ALL_MATCH_KEYS},
        "description": (
            "Contacts: email (ignoring case), phone (digits), name_company (first and last "
            "name with the company, ignoring case). Companies: domain, name."
        ),
    },
}


def _job(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportJob"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def document(spec: APISpec) -> None:
    """Add the imports schemas and paths to ``spec``."""
    from app.api.openapi import COMMON_ERRORS, PLAN_LIMIT_ERROR

    spec.components.schema("ImportJob", component=JOB_SCHEMA)
    spec.components.schema(
        "ImportJobList",
        component=list_schema("ImportJob"),
    )
    import_id = {
        "name": "import_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "format": "int64", "minimum": 1},
    }
    upload = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": (
                                "CSV (UTF-8, UTF-16 with a BOM, or a Windows/Latin "
                                "encoding; comma, semicolon, tab or pipe delimited) or XLSX "
                                "(the first visible sheet, or `sheet`). The first row holds "
                                "the column names. Up to IMPORT_MAX_BYTES (200 MB) and "
                                "1,000,000 rows."
                            ),
                        },
                        "entity": {
                            "type": "string",
                            "enum": list(IMPORT_ENTITIES),
                            "default": "contact",
                        },
                        "sheet": {"type": "string"},
                        "mapping": {
                            "type": "string",
                            "description": "JSON: " + _SETTINGS["mapping"]["description"],
                        },
                        "dedup_policy": _SETTINGS["dedup_policy"],
                        "match_on": {
                            "type": "string",
                            "description": "Comma-separated (or a JSON list): "
                            + _SETTINGS["match_on"]["description"],
                        },
                    },
                }
            }
        },
    }
    start_body = {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "mapping": {
                            "oneOf": [
                                {
                                    "type": "object",
                                    "additionalProperties": {"type": "string", "nullable": True},
                                },
                                {
                                    "type": "array",
                                    "items": {"type": "string", "nullable": True},
                                },
                            ],
                            **_SETTINGS["mapping"],
                        },
                        "dedup_policy": _SETTINGS["dedup_policy"],
                        "match_on": _SETTINGS["match_on"],
                    },
                }
            }
        },
    }
    location = {"Location": {"description": "URL of the new job.", "schema": {"type": "string"}}}
    spec.path(
        path="/api/v1/imports",
        operations={
            "get": {
                "operationId": "list_imports",
                "summary": "List imports",
                "tags": ["imports"],
                "parameters": [
                    {
                        "name": "cursor",
                        "in": "query",
                        "schema": {"type": "string", "maxLength": 20},
                        "description": "`next_cursor` of the previous page.",
                    },
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
                ],
                "responses": {
                    "200": {
                        "description": "The imports you may see, newest first.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ImportJobList"}
                            }
                        },
                    },
                    "400": _error("An invalid cursor or limit, or an unknown parameter."),
                    **COMMON_ERRORS,
                },
            },
            "post": {
                "operationId": "create_import",
                "summary": "Upload a file to import",
                "description": (
                    "The whole file is read and checked first: an encoding that does not "
                    "decode, missing, empty or duplicate column names, a line longer than "
                    "1 MB, an XLSX that would inflate too far (zip bomb) or a file over the "
                    "size cap is refused with a message on `file`, and nothing is kept. "
                    "The answer holds the guessed mapping (or the one your workspace used "
                    "last for the same columns) and the `targets` columns may map to."
                ),
                "tags": ["imports"],
                "requestBody": upload,
                "responses": {
                    "201": _job("The job, ready to start.", headers=location),
                    "400": _error("The file or a setting can not be used (`details` says why)."),
                    "413": _error("The file is larger than the cap."),
                    "415": _error("The body is not multipart/form-data."),
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/imports/{import_id}",
        operations={
            "get": {
                "operationId": "get_import",
                "summary": "An import's status and counts",
                "tags": ["imports"],
                "parameters": [import_id],
                "responses": {"200": _job("The job."), **COMMON_ERRORS},
            },
            "delete": {
                "operationId": "cancel_import",
                "summary": "Cancel an import",
                "description": (
                    "A running import stops after the chunk it is writing; the rows imported "
                    "so far stay. The plan allowance it holds is given back."
                ),
                "tags": ["imports"],
                "parameters": [import_id],
                "responses": {
                    "200": _job("The cancelled job."),
                    "400": _error("The job is finished already."),
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/imports/{import_id}/preview",
        operations={
            "get": {
                "operationId": "preview_import",
                "summary": "The first rows as the import would treat them",
                "tags": ["imports"],
                "parameters": [import_id],
                "responses": {
                    "200": {
                        "description": "Up to 20 rows with their outcome and messages.",
                        "content": {"application/json": {"schema": PREVIEW_SCHEMA}},
                    },
                    "400": _error("The job's mapping is no longer valid."),
                    **COMMON_ERRORS,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/imports/{import_id}/start",
        operations={
            "post": {
                "operationId": "start_import",
                "summary": "Start (or resume) an import",
                "description": (
                    "Checks and remembers the mapping, reserves your plan's contact allowance "
                    "for every row still to import and queues the job; poll "
                    "`GET /imports/{import_id}`. A failed job resumes after its last "
                    "imported row with its own settings."
                ),
                "tags": ["imports"],
                "parameters": [import_id],
                "requestBody": start_body,
                "responses": {
                    "202": _job("Queued (or, without a worker, already run)."),
                    "400": _error(
                        "A bad mapping or setting, malformed JSON, or a job that can not "
                        "start (running or finished)."
                    ),
                    **PLAN_LIMIT_ERROR,
                    "413": _error("The body is too large."),
                    "415": _error("The body is not JSON."),
                    **COMMON_ERRORS,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/imports/{import_id}/failed-rows",
        operations={
            "get": {
                "operationId": "import_failed_rows",
                "summary": "The rows that were not imported, as CSV",
                "description": (
                    "Columns: Row, Outcome (failed or skipped), Reason, then the file's own "
                    "columns as read. Cells that a spreadsheet would run as a formula start "
                    "with an apostrophe."
                ),
                "tags": ["imports"],
                "parameters": [import_id],
                "responses": {
                    "200": {
                        "description": "CSV (UTF-8 with a BOM).",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **COMMON_ERRORS,
                },
            }
        },
    )
