"""OpenAPI documentation of the comment endpoints and the mention autocomplete.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.api.comments import DEFAULT_SORT
from app.api.openapi_parts import NEXT_PAGE, list_schema
from app.api.openapi_parts import error_response as _error
from app.api.openapi_parts import json_response as _json
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.comments.schemas import DEFAULT_MEMBER_RESULTS, MAX_MEMBER_RESULTS
from app.comments.services import MAX_BODY, MAX_MENTIONS

TAG: dict[str, Any] = {
    "name": "comments",
    "description": (
        "Comments with @mentions on contact, company and deal cards, and the member "
        "search behind the mention autocomplete."
    ),
}

_ID = {"type": "integer", "format": "int64"}
_TIME = {"type": "string", "format": "date-time"}
_PERSON: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name"],
    "additionalProperties": False,
    "properties": {"id": _ID, "name": {"type": "string"}},
}
_TOKEN_RULES = (
    "Mention a member with the token `@[Name](user:<id>)`; the name is rewritten to the "
    "member's current name. Every mentioned member must be an active member of this "
    "workspace who may view the card (else 400, naming the mention); at most "
    f"{MAX_MENTIONS} members per comment. Each mentioned member other than you gets an "
    "in-app notification and a mail with a link to the card."
)

COMMENT: dict[str, Any] = {
    "type": "object",
    "description": (
        "A comment. `body` is plain text with mention tokens; exactly one of "
        "`contact_id`, `company_id` and `deal_id` names the card it is written on. "
        "`edited_at` is null until its author edits it."
    ),
    "required": [
        "id",
        "body",
        "author",
        "contact_id",
        "company_id",
        "deal_id",
        "mentions",
        "created_at",
        "edited_at",
    ],
    "additionalProperties": False,
    "properties": {
        "id": _ID,
        "body": {"type": "string", "maxLength": MAX_BODY},
        "author": _PERSON,
        "contact_id": {**_ID, "nullable": True},
        "company_id": {**_ID, "nullable": True},
        "deal_id": {**_ID, "nullable": True},
        "mentions": {"type": "array", "items": _PERSON},
        "created_at": _TIME,
        "edited_at": {**_TIME, "nullable": True},
    },
}

COMMENT_INPUT: dict[str, Any] = {
    "type": "object",
    "description": (
        f"The comment's text: 1 to {MAX_BODY} characters, line breaks allowed, no "
        f"other control characters. {_TOKEN_RULES}"
    ),
    "required": ["body"],
    "additionalProperties": False,
    "properties": {
        "body": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_BODY,
            "example": "Call back on Monday, @[Ann Lee](user:42) has the numbers.",
        }
    },
}

MEMBER_CHOICE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "can_view"],
    "additionalProperties": False,
    "properties": {
        "id": _ID,
        "name": {"type": "string", "description": "Their name, else their email."},
        "can_view": {
            "type": "boolean",
            "nullable": True,
            "description": (
                "Whether they may view the card named in the query (only they can be "
                "mentioned on it); null when no card was named."
            ),
        },
    },
}


def _path_id(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "format": "int64", "minimum": 1},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def document(spec: APISpec) -> None:
    """Add the comment schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS

    spec.components.schema("Comment", component=COMMENT)
    spec.components.schema("CommentInput", component=COMMENT_INPUT)
    spec.components.schema(
        "CommentList", component=list_schema("Comment", cursor_description=NEXT_PAGE)
    )
    spec.components.schema("MemberChoice", component=MEMBER_CHOICE)
    spec.components.schema(
        "MemberChoiceList",
        component=list_schema(
            "MemberChoice",
            description="The first matches; `next_cursor` is always null.",
            cursor_description=NEXT_PAGE,
        ),
    )
    tags = ["comments"]
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommentInput"}}},
    }
    list_params = [
        _query(
            "sort",
            {"type": "string", "enum": ["created_at", "-created_at"], "default": DEFAULT_SORT},
            "Oldest first (`created_at`) or newest first (`-created_at`). Ties by id.",
        ),
        _query(
            "cursor", {"type": "string", "maxLength": 500}, "`next_cursor` of the previous page."
        ),
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "Page size.",
        ),
    ]
    list_errors = {
        "400": _error("Invalid sort, limit or cursor, or an unknown or repeated parameter."),
        **COMMON_ERRORS,
    }
    location = {
        "Location": {"description": "URL of the new comment.", "schema": {"type": "string"}}
    }
    for entity, plural in (("contact", "contacts"), ("company", "companies"), ("deal", "deals")):
        card_id = _path_id(f"{entity}_id")
        spec.path(
            path=f"/api/v1/{plural}/{{{entity}_id}}/comments",
            operations={
                "get": {
                    "operationId": f"list_{entity}_comments",
                    "summary": f"List the comments written on a {entity}",
                    "description": (
                        f"Comments written on this {entity}'s card. Its timeline "
                        "(`.../timeline`) also shows comments written on related records."
                    ),
                    "tags": tags,
                    "parameters": [card_id, *list_params],
                    "responses": {"200": _json("CommentList", "A page."), **list_errors},
                },
                "post": {
                    "operationId": f"create_{entity}_comment",
                    "summary": f"Write a comment on a {entity}",
                    "description": (
                        f"You need to see the {entity} and a role that may create "
                        "activities (403 otherwise)."
                    ),
                    "tags": tags,
                    "parameters": [card_id],
                    "requestBody": body,
                    "responses": {
                        "201": _json("Comment", "Created.", headers=location),
                        **BODY_ERRORS,
                        **COMMON_ERRORS,
                    },
                },
            },
        )
    comment_id = _path_id("comment_id")
    spec.path(
        path="/api/v1/comments/{comment_id}",
        operations={
            "get": {
                "operationId": "get_comment",
                "summary": "Get a comment",
                "tags": tags,
                "parameters": [comment_id],
                "responses": {"200": _json("Comment", "The comment."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_comment",
                "summary": "Edit a comment",
                "description": (
                    "Its author only (403 for anyone else). Members mentioned for the first "
                    "time are notified; those no longer mentioned lose the notification."
                ),
                "tags": tags,
                "parameters": [comment_id],
                "requestBody": body,
                "responses": {"200": _json("Comment", "Edited."), **BODY_ERRORS, **COMMON_ERRORS},
            },
            "delete": {
                "operationId": "delete_comment",
                "summary": "Delete a comment",
                "description": (
                    "Its author, or a role that may delete every activity (Owner, Admin). "
                    "It leaves every card's history; its notifications are withdrawn."
                ),
                "tags": tags,
                "parameters": [comment_id],
                "responses": {"204": {"description": "Deleted."}, **COMMON_ERRORS},
            },
        },
    )
    id_schema = {"type": "integer", "format": "int64", "minimum": 1}
    spec.path(
        path="/api/v1/members",
        operations={
            "get": {
                "operationId": "list_members",
                "summary": "Find members to mention",
                "description": (
                    "Active members of this workspace other than you whose name or email "
                    "contains `q`, by name. Name at most one card to learn who may view it. "
                    "Needs a role that may create activities or view users."
                ),
                "tags": tags,
                "parameters": [
                    _query("q", {"type": "string", "maxLength": 100}, "Part of a name or email."),
                    _query(
                        "limit",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_MEMBER_RESULTS,
                            "default": DEFAULT_MEMBER_RESULTS,
                        },
                        "How many members at most.",
                    ),
                    _query("contact_id", id_schema, "The contact being written on."),
                    _query("company_id", id_schema, "The company being written on."),
                    _query("deal_id", id_schema, "The deal being written on."),
                ],
                "responses": {
                    "200": _json("MemberChoiceList", "The first matching members."),
                    "400": _error("An invalid or unknown parameter, or more than one card."),
                    **COMMON_ERRORS,
                },
            }
        },
    )
