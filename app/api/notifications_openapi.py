"""OpenAPI documentation of the notification endpoints.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.api.openapi_parts import NEXT_PAGE, list_schema
from app.api.openapi_parts import error_response as _error
from app.api.openapi_parts import json_response as _json
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT

TAG: dict[str, Any] = {
    "name": "notifications",
    "description": "Your in-app notifications: mentions in comments, overdue tasks.",
}

_TIME = {"type": "string", "format": "date-time"}

NOTIFICATION: dict[str, Any] = {
    "type": "object",
    "description": (
        "A notification for you. `kind` is `mention` (data: `comment_id`, `entity`, "
        "`entity_id`, `author_id`, `excerpt`) or `task_overdue` (data: `activity_id`, "
        "`due_at`); more kinds may come. `url` is a path on the workspace host."
    ),
    "required": ["id", "kind", "title", "url", "data", "created_at", "read_at", "read"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "format": "int64"},
        "kind": {"type": "string"},
        "title": {"type": "string", "maxLength": 300},
        "url": {"type": "string", "nullable": True},
        "data": {"type": "object", "additionalProperties": True},
        "created_at": _TIME,
        "read_at": {**_TIME, "nullable": True},
        "read": {"type": "boolean"},
    },
}


def document(spec: APISpec) -> None:
    """Add the notification schemas and paths to ``spec``."""
    from app.api.openapi import COMMON_ERRORS

    spec.components.schema("Notification", component=NOTIFICATION)
    spec.components.schema(
        "NotificationList",
        component=list_schema(
            "Notification",
            cursor_description=NEXT_PAGE,
        ),
    )
    tags = ["notifications"]
    spec.path(
        path="/api/v1/notifications",
        operations={
            "get": {
                "operationId": "list_notifications",
                "summary": "List your notifications",
                "description": "Newest first.",
                "tags": tags,
                "parameters": [
                    {
                        "name": "unread",
                        "in": "query",
                        "schema": {"type": "boolean", "default": False},
                        "description": "`true`: unread ones only.",
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "schema": {"type": "string", "maxLength": 500},
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
                    "200": _json("NotificationList", "A page of your notifications."),
                    "400": _error("Invalid unread, limit or cursor, or an unknown parameter."),
                    **COMMON_ERRORS,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/notifications/{notification_id}/read",
        operations={
            "post": {
                "operationId": "read_notification",
                "summary": "Mark a notification read",
                "description": "One already read keeps its time. Someone else's is 404.",
                "tags": tags,
                "parameters": [
                    {
                        "name": "notification_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "format": "int64", "minimum": 1},
                    }
                ],
                "responses": {"200": _json("Notification", "Read."), **COMMON_ERRORS},
            }
        },
    )
    spec.path(
        path="/api/v1/notifications/read-all",
        operations={
            "post": {
                "operationId": "read_all_notifications",
                "summary": "Mark all your notifications read",
                "tags": tags,
                "responses": {
                    "200": {
                        "description": "How many were unread.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["marked"],
                                    "additionalProperties": False,
                                    "properties": {"marked": {"type": "integer", "minimum": 0}},
                                }
                            }
                        },
                    },
                    **COMMON_ERRORS,
                },
            }
        },
    )
