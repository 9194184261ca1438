"""OpenAPI documentation of list filters, saved segments and bulk edits.

Called by :func:`app.api.openapi.build_spec`; :func:`list_parameters` also describes
the query string of the contact, company and deal list endpoints (the same grammar
everywhere: app.lists.filters).
"""

from __future__ import annotations

import copy
from typing import Any

from apispec import APISpec

from app.api.openapi_parts import error_response as _error
from app.api.openapi_parts import json_response as _json
from app.api.openapi_parts import list_schema
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.api.record_lists import DEFAULT_SORTS
from app.lists.bulk import MAX_IDS, SYNC_LIMIT
from app.lists.filters import FIELDS, SORTS, Field
from app.lists.models import BULK_ACTIONS, BULK_STATUSES, LIST_ENTITIES
from app.lists.schemas import BulkEditSchema, SegmentSchema

TAG: dict[str, Any] = {
    "name": "lists",
    "description": (
        "Filters of the contact, company and deal lists, saved segments (named filters, "
        "private or shared) and bulk edits."
    ),
}
PLURALS = {"contact": "contacts", "company": "companies", "deal": "deals"}
_ID: dict[str, Any] = {"type": "integer", "format": "int64", "minimum": 1}
_TEXT = {"type": "string", "maxLength": 200}
_DATE = {"type": "string", "format": "date"}
_DAYS = {"type": "integer", "minimum": 1, "maximum": 36500}
_BOOL = {"type": "string", "enum": ["true", "false"]}
_NUMBER = {"type": "string", "pattern": r"^[0-9,]{1,20}(\.[0-9]{1,10})?$"}
_ID_OR_NONE = {"type": "string", "pattern": "^([0-9]{1,19}|none)$"}
_FIELD_DOCS = {
    "q": "Search (as the list's search box).",
    "owner_id": "A member's user id, `me` (whoever asks) or `none` (no owner).",
    "tag": "Has this tag (or any of these, comma-separated).",
    "tag_any": "Has any of these tags (comma-separated).",
    "tag_all": "Has all of these tags.",
    "tag_none": "Has none of these tags.",
    "not_contacted_days": "No call, meeting or email for this many days (or never).",
}
CUSTOM_FIELD_NOTE = (
    "Custom fields filter by key: `cf.<key>` equals (text as typed, read by the field's "
    "type; a multi-select's `;`-separated options must all be there), `cf.<key>_contains` "
    "(text types), `cf.<key>_min` / `cf.<key>_max` (number, money: the amount whatever "
    "its currency), `cf.<key>_from` / `cf.<key>_to` (date), `cf.<key>_empty` "
    "(`true`/`false`). Sort by one with `sort=cf.<key>` (not multi-selects). Unknown "
    "parameters and bad values are refused (400, `details` names each parameter)."
)


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _field_parameters(field: Field) -> list[dict[str, Any]]:
    label = str(field.label)
    if field.kind in ("search", "owner", "contacted"):
        schema = _DAYS if field.kind == "contacted" else _TEXT
        return [_query(field.name, schema, _FIELD_DOCS[field.name])]
    if field.kind == "tags":
        return [
            _query(name, {"type": "string", "maxLength": 1600}, _FIELD_DOCS[name])
            for name in ("tag", "tag_any", "tag_all", "tag_none")
        ]
    if field.kind == "text":
        return [
            _query(field.name, _TEXT, f"{label} equals this (ignoring case)."),
            _query(f"{field.name}_contains", _TEXT, f"{label} contains this."),
            _query(f"{field.name}_empty", _BOOL, f"{label} is (`true`) or is not empty."),
        ]
    if field.kind in ("date", "timestamp"):
        days = " (whole days in your time zone)" if field.kind == "timestamp" else ""
        found = [
            _query(f"{field.name}_from", _DATE, f"{label} on or after this day{days}."),
            _query(f"{field.name}_to", _DATE, f"{label} on or before this day{days}."),
        ]
        if field.kind == "timestamp":
            found.append(_query(f"{field.name}_days", _DAYS, f"{label} in the last N days."))
        return found
    if field.kind in ("number", "money"):
        unit = (
            " (in major units of each deal's currency)"
            if field.kind == "money"
            else " (the effective probability, 0-100)"
        )
        return [
            _query(f"{field.name}_min", _NUMBER, f"{label} at least this{unit}."),
            _query(f"{field.name}_max", _NUMBER, f"{label} at most this{unit}."),
        ]
    if field.kind == "choice":
        choices = f": {', '.join(field.choices)}" if field.choices else " (ISO 4217 codes)"
        return [_query(field.name, {"type": "string"}, f"{label}, one or several{choices}.")]
    link: dict[str, Any] = _ID_OR_NONE if field.nullable else _ID
    tail = ", or `none` for none" if field.nullable else ""
    return [_query(field.name, link, f"Only with this {label.lower()} (an id{tail}).")]


def list_parameters(entity: str) -> list[dict[str, Any]]:
    """Every query parameter of the ``entity`` list endpoint: filters, sort, paging."""
    sorts = sorted(SORTS[entity])
    filters = [p for field in FIELDS[entity] for p in _field_parameters(field)]
    return [
        *filters,
        _query(
            "sort",
            {"type": "string", "maxLength": 64, "default": DEFAULT_SORTS[entity]},
            f"One of {', '.join(sorts)} or `cf.<key>`; prefix with '-' for descending. "
            "Ties are broken by id; empty values come last in both directions.",
        ),
        _query(
            "cursor",
            {"type": "string", "maxLength": 500},
            "`next_cursor` of the previous page, with the same sort.",
        ),
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "Page size.",
        ),
    ]


_BULK_EDIT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "entity",
        "action",
        "status",
        "total",
        "processed",
        "changed",
        "unchanged",
        "not_allowed",
        "percent",
        "error",
    ],
    "properties": {
        "id": {"type": "integer", "format": "int64"},
        "entity": {"type": "string", "enum": list(LIST_ENTITIES)},
        "action": {"type": "string", "enum": list(BULK_ACTIONS)},
        "status": {"type": "string", "enum": list(BULK_STATUSES)},
        "total": {"type": "integer", "description": "Records selected that you may see."},
        "processed": {"type": "integer", "description": "Of those, looked at so far."},
        "changed": {"type": "integer"},
        "unchanged": {
            "type": "integer",
            "description": "Already as asked (or, adding a tag, already at the most tags).",
        },
        "not_allowed": {
            "type": "integer",
            "description": "Visible to you, but outside your scope for this action.",
        },
        "percent": {"type": "integer", "minimum": 0, "maximum": 100},
        "error": {"type": "string", "nullable": True},
    },
}


def _components(spec: APISpec) -> None:
    spec.components.schema("Segment", schema=SegmentSchema)
    generated = spec.to_dict()["components"]["schemas"]["Segment"]
    segment = copy.deepcopy(generated)
    segment["required"] = sorted(segment["properties"])
    segment["additionalProperties"] = False
    segment["properties"]["sort"]["nullable"] = True
    for name in ("id", "owner_id"):
        segment["properties"][name]["format"] = "int64"
    segment["description"] = (
        "A named filter of contacts, companies or deals. Private segments are seen by "
        "their owner only; shared ones by every member who may view those records. "
        "`owner_id: me` in `filters` means whoever looks. Its records are always limited "
        "to the viewer's own scope."
    )
    writable = {
        name: {k: v for k, v in prop.items() if k != "default"}
        for name, prop in segment["properties"].items()
        if not prop.get("readOnly")
    }
    spec.components.schemas["Segment"] = segment
    spec.components.schema(
        "SegmentInput",
        component={
            "type": "object",
            "additionalProperties": False,
            "properties": writable,
            "description": (
                "`entity` and `name` are required on create (a name is unique per owner "
                "and kind of record, ignoring case); on PATCH give any of name, filters, "
                "sort and shared (`entity` can not change)."
            ),
        },
    )
    spec.components.schema(
        "SegmentList",
        component=list_schema("Segment"),
    )
    spec.components.schema(
        "SegmentItems",
        component={
            "type": "object",
            "required": ["items", "next_cursor"],
            "additionalProperties": False,
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Contact"},
                            {"$ref": "#/components/schemas/Company"},
                            {"$ref": "#/components/schemas/Deal"},
                        ]
                    },
                    "description": "Contacts, companies or deals, as the segment's entity.",
                },
                "next_cursor": {"type": "string", "nullable": True},
            },
        },
    )
    spec.components.schema("BulkEditInput", schema=BulkEditSchema)
    bulk_input = copy.deepcopy(spec.to_dict()["components"]["schemas"]["BulkEditInput"])
    bulk_input["additionalProperties"] = False
    bulk_input["properties"]["ids"]["maxItems"] = MAX_IDS
    bulk_input["description"] = (
        "`action` and exactly one selection: `ids`, `filter` (the list grammar) or "
        "`segment_id`. `owner_id` (null unassigns) for assign_owner, `tag` for add_tag "
        "and remove_tag. Each record is checked against your scope for the action (edit, "
        "or delete): records you may see but not change are counted in `not_allowed`."
    )
    spec.components.schemas["BulkEditInput"] = bulk_input
    spec.components.schema("BulkEdit", component=_BULK_EDIT)


def document(spec: APISpec) -> None:
    """Add the segment and bulk edit schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS

    _components(spec)
    segment_id = {"name": "segment_id", "in": "path", "required": True, "schema": _ID}
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SegmentInput"}}},
    }
    list_errors = {
        "400": _error("Invalid sort, limit or cursor, or an unknown or repeated parameter."),
        **COMMON_ERRORS,
    }
    location = {"Location": {"description": "URL of the segment.", "schema": {"type": "string"}}}
    spec.path(
        path="/api/v1/segments",
        operations={
            "get": {
                "operationId": "list_segments",
                "summary": "List segments",
                "description": "Your own and the shared segments you may see, by name.",
                "tags": ["lists"],
                "parameters": [
                    _query(
                        "entity",
                        {"type": "string", "enum": list(LIST_ENTITIES)},
                        "Only segments of this kind of record.",
                    ),
                    *list_parameters("contact")[-2:],
                ],
                "responses": {"200": _json("SegmentList", "A page of segments."), **list_errors},
            },
            "post": {
                "operationId": "create_segment",
                "summary": "Save a segment",
                "description": CUSTOM_FIELD_NOTE,
                "tags": ["lists"],
                "requestBody": body,
                "responses": {
                    "201": _json("Segment", "Created.", headers=location),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/segments/{segment_id}",
        operations={
            "get": {
                "operationId": "get_segment",
                "summary": "Get a segment",
                "tags": ["lists"],
                "parameters": [segment_id],
                "responses": {"200": _json("Segment", "The segment."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_segment",
                "summary": "Change a segment",
                "description": "Its owner may; an admin may change a shared one too.",
                "tags": ["lists"],
                "parameters": [segment_id],
                "requestBody": body,
                "responses": {"200": _json("Segment", "Updated."), **BODY_ERRORS, **COMMON_ERRORS},
            },
            "delete": {
                "operationId": "delete_segment",
                "summary": "Delete a segment",
                "tags": ["lists"],
                "parameters": [segment_id],
                "responses": {"204": {"description": "Deleted."}, **COMMON_ERRORS},
            },
        },
    )
    spec.path(
        path="/api/v1/segments/{segment_id}/items",
        operations={
            "get": {
                "operationId": "list_segment_items",
                "summary": "List a segment's records",
                "description": (
                    "The records matching the segment that you may see (its filters and "
                    "your own scope), in the segment's order unless `sort` says otherwise."
                ),
                "tags": ["lists"],
                "parameters": [segment_id, *list_parameters("contact")[-3:]],
                "responses": {
                    "200": _json("SegmentItems", "A page of records."),
                    "400": _error(
                        "Invalid sort, limit or cursor, an unknown parameter, or a filter "
                        "the workspace no longer has (a deleted custom field)."
                    ),
                    **COMMON_ERRORS,
                },
            }
        },
    )
    bulk_body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BulkEditInput"}}},
    }
    poll = {
        "Location": {
            "description": "URL of the bulk edit (poll it until `status` is done).",
            "schema": {"type": "string"},
        }
    }
    for entity in LIST_ENTITIES:
        plural = PLURALS[entity]
        spec.path(
            path=f"/api/v1/{plural}/bulk",
            operations={
                "post": {
                    "operationId": f"bulk_edit_{plural}",
                    "summary": f"Bulk edit {plural}",
                    "description": (
                        f"Assign an owner, add or remove a tag, or delete {plural}. Up to "
                        f"{SYNC_LIMIT:,} selected records are done at once (200, with the "
                        "counts); more are done in the background (202: poll the "
                        "`Location`). Audited per record; deleting contacts gives their "
                        "places in the plan back."
                    ),
                    "tags": ["lists", plural],
                    "requestBody": bulk_body,
                    "responses": {
                        "200": _json("BulkEdit", "Done.", headers=poll),
                        "202": _json("BulkEdit", "Queued; poll the Location.", headers=poll),
                        **BODY_ERRORS,
                        **COMMON_ERRORS,
                    },
                }
            },
        )
    spec.path(
        path="/api/v1/bulk-edits/{bulk_edit_id}",
        operations={
            "get": {
                "operationId": "get_bulk_edit",
                "summary": "Progress of a bulk edit",
                "description": "Only the member who started it may follow it.",
                "tags": ["lists"],
                "parameters": [
                    {"name": "bulk_edit_id", "in": "path", "required": True, "schema": _ID}
                ],
                "responses": {"200": _json("BulkEdit", "Its status and counts."), **COMMON_ERRORS},
            }
        },
    )
