"""The team part of the OpenAPI document: members (``/users``) and invitations.

Called by :func:`app.api.openapi.build_spec`; kept apart so that the team endpoints and
their description change together.
"""

from __future__ import annotations

import copy
from typing import Any

from apispec import APISpec
from marshmallow import Schema

from app.api.openapi import (
    BODY_ERRORS,
    COMMON_ERRORS,
    PLAN_LIMIT_ERROR,
    _error,
    _json,
)
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.identity.schemas import (
    DeactivateSchema,
    InvitationCreateSchema,
    InvitationSchema,
    MemberSchema,
    MemberUpdateSchema,
)

TAG = {"name": "team", "description": "Members of the workspace, their roles and invitations."}

_INT64 = ("id", "invited_by_id", "reassign_to")


def _answered(spec: APISpec, name: str, schema: type[Schema], description: str) -> None:
    """A response component: every field present, unknown ones never."""
    spec.components.schema(name, schema=schema)
    component = copy.deepcopy(spec.to_dict()["components"]["schemas"][name])
    component["required"] = sorted(component["properties"])
    component["additionalProperties"] = False
    component["description"] = description
    for field_name, prop in component["properties"].items():
        if field_name in _INT64:
            prop["format"] = "int64"
    spec.components.schemas[name] = component


def _accepted(spec: APISpec, name: str, schema: type[Schema], description: str) -> None:
    """A request component: unknown fields are refused (400)."""
    spec.components.schema(name, schema=schema)
    component = copy.deepcopy(spec.to_dict()["components"]["schemas"][name])
    component["additionalProperties"] = False
    component["description"] = description
    for field_name, prop in component["properties"].items():
        prop.pop("default", None)
        if field_name in _INT64:
            prop["format"] = "int64"
    spec.components.schemas[name] = component


def _list(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "next_cursor": {
                "type": "string",
                "nullable": True,
                "description": "Pass as `cursor` for the next page; null on the last page.",
            },
        },
    }


def _id(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "format": "int64", "minimum": 1},
    }


def _body(ref: str, required: bool = True) -> dict[str, Any]:
    return {
        "required": required,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


_PAGING = [
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string", "maxLength": 500},
        "description": "`next_cursor` of the previous page.",
    },
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
]
_CONFLICT = {
    "409": _error(
        "Conflict: the address is already a member, a deactivated member (reactivate "
        "instead) or already invited; or the change would leave no active owner, or the "
        "invitation is no longer pending."
    )
}
_THROTTLED = {"429": _error("The invitation was sent less than a minute ago.")}


def document_team(spec: APISpec) -> None:
    """Add the team components and paths to ``spec``."""
    _answered(
        spec,
        "Member",
        MemberSchema,
        "A member of this workspace. `id` is the user id that records name as their owner.",
    )
    _answered(
        spec,
        "Invitation",
        InvitationSchema,
        "An invitation; its link is sent by mail only and never shown by the API.",
    )
    _accepted(spec, "MemberUpdate", MemberUpdateSchema, "The member's new role key.")
    _accepted(
        spec,
        "Deactivation",
        DeactivateSchema,
        "Optional: `reassign_to` names an active member who takes over every record the "
        "deactivated member owns.",
    )
    _accepted(
        spec,
        "InvitationInput",
        InvitationCreateSchema,
        "Who to invite and with which role (any role of the workspace except `owner`).",
    )
    spec.components.schema("MemberList", component=_list("Member"))
    spec.components.schema("InvitationList", component=_list("Invitation"))
    spec.path(
        path="/api/v1/users",
        operations={
            "get": {
                "operationId": "list_users",
                "summary": "List the members of this workspace",
                "tags": ["team"],
                "parameters": _PAGING,
                "responses": {
                    "200": _json("MemberList", "A page of members, by user id."),
                    "400": _error("Invalid cursor or limit, or an unknown parameter."),
                    **COMMON_ERRORS,
                },
            }
        },
    )
    member_id = [_id("user_id")]
    spec.path(
        path="/api/v1/users/{user_id}",
        operations={
            "get": {
                "operationId": "get_user",
                "summary": "Get a member",
                "tags": ["team"],
                "parameters": member_id,
                "responses": {"200": _json("Member", "The member."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_user",
                "summary": "Change a member's role",
                "description": "Only owners make or unmake owners; the last active owner "
                "stays one.",
                "tags": ["team"],
                "parameters": member_id,
                "requestBody": _body("MemberUpdate"),
                "responses": {
                    "200": _json("Member", "Updated."),
                    **BODY_ERRORS,
                    **_CONFLICT,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/users/{user_id}/deactivate",
        operations={
            "post": {
                "operationId": "deactivate_user",
                "summary": "Deactivate a member",
                "description": "They can no longer sign in; their sessions end and their API "
                "tokens for this workspace are revoked; their seat is released. Their records "
                "stay, or move to `reassign_to`. You can not deactivate yourself.",
                "tags": ["team"],
                "parameters": member_id,
                "requestBody": _body("Deactivation", required=False),
                "responses": {
                    "200": _json("Member", "Deactivated."),
                    **BODY_ERRORS,
                    **_CONFLICT,
                    **COMMON_ERRORS,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/users/{user_id}/reactivate",
        operations={
            "post": {
                "operationId": "reactivate_user",
                "summary": "Reactivate a member",
                "description": "Takes a seat again. Reactivating an active member changes nothing.",
                "tags": ["team"],
                "parameters": member_id,
                "responses": {
                    "200": _json("Member", "Active."),
                    **PLAN_LIMIT_ERROR,
                    **_CONFLICT,
                    **COMMON_ERRORS,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/invitations",
        operations={
            "get": {
                "operationId": "list_invitations",
                "summary": "List pending invitations",
                "description": "Invitations that hold a seat: pending ones and expired ones "
                "not yet retired (a daily job retires them a day after they expire).",
                "tags": ["team"],
                "parameters": _PAGING,
                "responses": {
                    "200": _json("InvitationList", "A page of invitations, newest first."),
                    "400": _error("Invalid cursor or limit, or an unknown parameter."),
                    **COMMON_ERRORS,
                },
            },
            "post": {
                "operationId": "create_invitation",
                "summary": "Invite someone",
                "description": "Takes a seat until the invitation is accepted (the member "
                "keeps it), revoked or retired. Your own email must be verified (403 with "
                "`details.reason` = `email_unverified` otherwise).",
                "tags": ["team"],
                "requestBody": _body("InvitationInput"),
                "responses": {
                    "201": _json("Invitation", "Sent."),
                    **PLAN_LIMIT_ERROR,
                    **BODY_ERRORS,
                    **_CONFLICT,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    invitation_id = [_id("invitation_id")]
    spec.path(
        path="/api/v1/invitations/{invitation_id}/resend",
        operations={
            "post": {
                "operationId": "resend_invitation",
                "summary": "Send an invitation again",
                "description": "A new link with a new 7-day expiry; the old link stops "
                "working. At most once a minute.",
                "tags": ["team"],
                "parameters": invitation_id,
                "responses": {
                    "200": _json("Invitation", "Sent again."),
                    **_CONFLICT,
                    **_THROTTLED,
                    **COMMON_ERRORS,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/invitations/{invitation_id}",
        operations={
            "delete": {
                "operationId": "revoke_invitation",
                "summary": "Revoke an invitation",
                "description": "Its link stops working and its seat is released.",
                "tags": ["team"],
                "parameters": invitation_id,
                "responses": {
                    "204": {"description": "Revoked."},
                    **_CONFLICT,
                    **COMMON_ERRORS,
                },
            }
        },
    )
