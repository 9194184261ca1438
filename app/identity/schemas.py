"""Marshmallow schemas for team members and invitations (API input and output)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_load, validate

from app.contacts.schemas import SafeEmail, Text
from app.input_rules import MAX_BIGINT


class MemberSchema(Schema):
    """A member of the workspace: their identity and their membership here.

    ``id`` is the user id, the same one records name as their owner."""

    id = fields.Integer(dump_only=True, metadata={"description": "The user id."})
    email = fields.Email(dump_only=True)
    name = fields.String(dump_only=True)
    role = fields.String(dump_only=True, metadata={"description": "Role key in this workspace."})
    is_active = fields.Boolean(
        dump_only=True, metadata={"description": "False once deactivated: no sign-in, no seat."}
    )
    deactivated_at = fields.DateTime(dump_only=True, allow_none=True)
    joined_at = fields.DateTime(dump_only=True)


class MemberUpdateSchema(Schema):
    """PATCH body of a member: the new role (one of the workspace's role keys)."""

    role = Text(required=True, validate=validate.Length(min=1, max=64))


class DeactivateSchema(Schema):
    """Deactivation options: hand the member's records to another active member."""

    reassign_to = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_BIGINT, error="Not a valid id."),
        metadata={"description": "User id of an active member who takes over the records."},
    )


class InvitationSchema(Schema):
    """An invitation as the API shows it (its link is only ever in the mail)."""

    id = fields.Integer(dump_only=True)
    email = fields.Email(dump_only=True)
    role = fields.String(dump_only=True)
    status = fields.String(
        dump_only=True,
        metadata={
            "description": "pending, expired (still holding its seat until swept), "
            "accepted or revoked.",
            "enum": ["pending", "expired", "accepted", "revoked"],
        },
    )
    invited_by_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    last_sent_at = fields.DateTime(dump_only=True)
    send_count = fields.Integer(dump_only=True)
    expires_at = fields.DateTime(dump_only=True)


class InvitationCreateSchema(Schema):
    """POST body of an invitation."""

    email = SafeEmail(required=True, validate=validate.Length(max=254))
    role = Text(required=True, validate=validate.Length(min=1, max=64))

    @pre_load
    def _normalise(self, data: Any, **_kw: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip().lower()}
        return data


class TeamListArgs(Schema):
    """Query parameters of the member and invitation lists."""

    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))
