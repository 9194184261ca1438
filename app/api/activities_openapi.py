"""OpenAPI documentation of the activities and timeline endpoints.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together. The schemas are written out (not
generated) so that each type-specific field says which types have it.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.activities.models import ACTIVITY_TYPES, PRIORITIES
from app.activities.services import (
    DIRECTIONS,
    MAX_ATTENDEE,
    MAX_ATTENDEES,
    MAX_BODY,
    MAX_DURATION,
    MAX_LOCATION,
    MAX_OUTCOME,
    MAX_SUBJECT,
)
from app.api.openapi_parts import NEXT_PAGE, list_schema
from app.api.openapi_parts import error_response as _error
from app.api.openapi_parts import json_response as _json
from app.api.pagination import DEFAULT_LIMIT, MAX_BIGINT, MAX_LIMIT
from app.timeline.models import EVENT_KINDS
from app.timeline.queries import PAGE_SIZE

TAG: dict[str, Any] = {
    "name": "activities",
    "description": (
        "Calls, meetings, emails, notes and tasks, linked to contacts, companies and "
        "deals; and each card's history (timeline)."
    ),
}

_ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT}
_TIME = {"type": "string", "format": "date-time"}
_AWARE = "ISO 8601 with a time zone (`Z` or an offset); naive times are refused."


def _nullable(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out = {**schema, "nullable": True}
    if description:
        out["description"] = description
    return out


_FIELDS: dict[str, dict[str, Any]] = {
    "type": {"type": "string", "enum": list(ACTIVITY_TYPES)},
    "subject": _nullable(
        {"type": "string", "maxLength": MAX_SUBJECT},
        "Required for calls, meetings and tasks.",
    ),
    "body": _nullable({"type": "string", "maxLength": MAX_BODY}),
    "occurred_at": _nullable(
        _TIME, f"When it happened (meetings: when it starts); default now. {_AWARE}"
    ),
    "ends_at": _nullable(_TIME, f"Meetings: after `occurred_at`. {_AWARE}"),
    "location": _nullable({"type": "string", "maxLength": MAX_LOCATION}, "Meetings."),
    "attendees": _nullable(
        {
            "type": "array",
            "maxItems": MAX_ATTENDEES,
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_ATTENDEE},
        },
        "Meetings: names or addresses.",
    ),
    "direction": _nullable({"type": "string", "enum": list(DIRECTIONS)}, "Calls and emails only."),
    "duration_seconds": _nullable(
        {"type": "integer", "minimum": 0, "maximum": MAX_DURATION}, "Calls and meetings."
    ),
    "outcome": _nullable(
        {"type": "string", "maxLength": MAX_OUTCOME}, "Calls, meetings and emails."
    ),
    "due_at": _nullable(_TIME, f"Tasks. {_AWARE}"),
    "priority": _nullable({"type": "string", "enum": list(PRIORITIES)}, "Tasks."),
    "done": {"type": "boolean", "description": "Tasks: setting it completes or reopens."},
    "result_note": _nullable({"type": "string", "maxLength": MAX_BODY}, "Tasks."),
    "remind_at": _nullable(_TIME, f"Tasks: when to mail the assignee. {_AWARE}"),
    "contact_id": _nullable(_ID, "A contact you may see. Given alone, its company is linked too."),
    "company_id": _nullable(_ID, "A company you may see."),
    "deal_id": _nullable(_ID, "A deal you may see."),
    "assignee_id": _nullable(_ID, "Tasks: an active member; default you."),
}
_READ_ONLY: dict[str, dict[str, Any]] = {
    "id": {"type": "integer", "format": "int64"},
    "done_at": _nullable(_TIME),
    "reminded_at": _nullable(_TIME),
    "owner_id": _nullable({"type": "integer", "format": "int64"}, "Who logged it."),
    "created_by_id": _nullable({"type": "integer", "format": "int64"}),
    "created_at": _TIME,
    "updated_at": _TIME,
}


def _activity_schema() -> dict[str, Any]:
    properties = {**_READ_ONLY}
    for name, schema in _FIELDS.items():
        # Answers carry what is stored: anything may be null except type and done.
        properties[name] = schema
    properties["subject"] = {"type": "string", "maxLength": MAX_SUBJECT}
    properties["attendees"] = {"type": "array", "items": {"type": "string"}}
    properties["priority"] = {"type": "string", "enum": list(PRIORITIES)}
    return {
        "type": "object",
        "description": "An activity. Type-specific fields are null for the other types.",
        "required": sorted(properties),
        "additionalProperties": False,
        "properties": properties,
    }


ACTIVITY_INPUT: dict[str, Any] = {
    "type": "object",
    "description": (
        "A new activity (`type` required) or, in a PATCH, any subset of the fields "
        "(the type can not change). Fields of another type are refused."
    ),
    "additionalProperties": False,
    "properties": _FIELDS,
}

TIMELINE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "kind",
        "occurred_at",
        "actor",
        "entity",
        "entity_id",
        "activity_id",
        "data",
    ],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "format": "int64"},
        "kind": {"type": "string", "enum": list(EVENT_KINDS)},
        "occurred_at": _TIME,
        "actor": {
            "type": "object",
            "nullable": True,
            "required": ["id", "name"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "format": "int64"},
                "name": {"type": "string"},
            },
        },
        "entity": {
            "type": "string",
            "description": "What the event is about: contact, company, deal or activity.",
        },
        "entity_id": {"type": "integer", "format": "int64", "nullable": True},
        "activity_id": {"type": "integer", "format": "int64", "nullable": True},
        "data": {
            "type": "object",
            "additionalProperties": True,
            "description": (
                "By kind: updated `{changes: {field: [old, new]}}`; stage_changed "
                "`{from_stage, to_stage, ...}`; activity `{action, type, subject, done, "
                "...}` (action: created, updated, completed, reopened, deleted); comment "
                "`{body, mentions}`."
            ),
        },
    },
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path_id(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "format": "int64", "minimum": 1},
    }


def _list_parameters() -> list[dict[str, Any]]:
    id_schema = {"type": "integer", "format": "int64", "minimum": 1}
    return [
        _query("type", {"type": "string", "enum": list(ACTIVITY_TYPES)}, "Only this type."),
        _query("contact_id", id_schema, "Linked to this contact."),
        _query("company_id", id_schema, "Linked to this company."),
        _query("deal_id", id_schema, "Linked to this deal."),
        _query("assignee_id", id_schema, "Tasks assigned to this member."),
        _query("done", {"type": "boolean"}, "`true` or `false`: done tasks or open ones."),
        _query("due_before", _TIME, f"Due strictly before. {_AWARE}"),
        _query("due_after", _TIME, f"Due at or after. {_AWARE}"),
        _query(
            "sort",
            {
                "type": "string",
                "enum": [
                    f"{sign}{name}"
                    for name in ("created_at", "occurred_at", "due_at")
                    for sign in ("", "-")
                ],
                "default": "-created_at",
            },
            "Sort key; `-` for descending. Rows without a value come last.",
        ),
        _query("cursor", {"type": "string"}, "`next_cursor` of the previous page."),
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "Page size.",
        ),
    ]


def document(spec: APISpec) -> None:
    """Add the activities schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS

    spec.components.schema("Activity", component=_activity_schema())
    spec.components.schema("ActivityInput", component=ACTIVITY_INPUT)
    spec.components.schema(
        "ActivityList", component=list_schema("Activity", cursor_description=NEXT_PAGE)
    )
    spec.components.schema("TimelineEvent", component=TIMELINE_EVENT)
    spec.components.schema(
        "Timeline", component=list_schema("TimelineEvent", cursor_description=NEXT_PAGE)
    )
    tags = ["activities"]
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActivityInput"}}},
    }
    list_errors = {
        "400": _error(
            "Invalid filter, sort, limit or cursor, or an unknown or repeated parameter."
        ),
        **COMMON_ERRORS,
    }
    activity_id = _path_id("activity_id")
    location = {
        "Location": {"description": "URL of the new activity.", "schema": {"type": "string"}}
    }
    spec.path(
        path="/api/v1/activities",
        operations={
            "get": {
                "operationId": "list_activities",
                "summary": "List activities",
                "description": "Activities you may see (yours, and tasks assigned to you).",
                "tags": tags,
                "parameters": _list_parameters(),
                "responses": {"200": _json("ActivityList", "A page."), **list_errors},
            },
            "post": {
                "operationId": "create_activity",
                "summary": "Log an activity or add a task",
                "tags": tags,
                "requestBody": body,
                "responses": {
                    "201": _json("Activity", "Created.", headers=location),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/activities/{activity_id}",
        operations={
            "get": {
                "operationId": "get_activity",
                "summary": "Get an activity",
                "tags": tags,
                "parameters": [activity_id],
                "responses": {"200": _json("Activity", "The activity."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_activity",
                "summary": "Update some fields of an activity",
                "tags": tags,
                "parameters": [activity_id],
                "requestBody": body,
                "responses": {
                    "200": _json("Activity", "Updated."),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
            "delete": {
                "operationId": "delete_activity",
                "summary": "Delete an activity",
                "description": "The cards keep a line saying it was deleted.",
                "tags": tags,
                "parameters": [activity_id],
                "responses": {"204": {"description": "Deleted."}, **COMMON_ERRORS},
            },
        },
    )
    complete_body = {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "result_note": {
                            "type": "string",
                            "nullable": True,
                            "maxLength": MAX_BODY,
                        }
                    },
                }
            }
        },
    }
    spec.path(
        path="/api/v1/activities/{activity_id}/complete",
        operations={
            "post": {
                "operationId": "complete_activity",
                "summary": "Mark a task done",
                "description": "A task already done stays as it is.",
                "tags": tags,
                "parameters": [activity_id],
                "requestBody": complete_body,
                "responses": {
                    "200": _json("Activity", "The task, done."),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/activities/{activity_id}/reopen",
        operations={
            "post": {
                "operationId": "reopen_activity",
                "summary": "Reopen a done task",
                "tags": tags,
                "parameters": [activity_id],
                "responses": {
                    "200": _json("Activity", "The task, open."),
                    "400": _error("Not a task."),
                    **COMMON_ERRORS,
                },
            }
        },
    )
    timeline_params = [
        _query("cursor", {"type": "string"}, "`next_cursor` of the previous page."),
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": PAGE_SIZE},
            "Page size.",
        ),
    ]
    for entity, plural, view in (
        ("contact", "contacts", "contact_timeline"),
        ("company", "companies", "company_timeline"),
        ("deal", "deals", "deal_timeline"),
    ):
        spec.path(
            path=f"/api/v1/{plural}/{{{entity}_id}}/timeline",
            operations={
                "get": {
                    "operationId": view,
                    "summary": f"The history of a {entity}",
                    "description": (
                        f"Newest first. Everything that happened to the {entity} and the "
                        "activities linked to it; visible to whoever may see the "
                        f"{entity} (404 otherwise)."
                    ),
                    "tags": [plural, "activities"],
                    "parameters": [_path_id(f"{entity}_id"), *timeline_params],
                    "responses": {"200": _json("Timeline", "A page of events."), **list_errors},
                }
            },
        )
