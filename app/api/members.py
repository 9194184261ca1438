"""REST API for the team: members (``/users``) and invitations.

Same pipeline as every handler: parse -> authorize -> fetch (another workspace's ids are
404) -> :mod:`app.identity.members` -> serialize.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api.pagination import page, paginate, parse_limit, parse_sort
from app.api.views import _json_body, _load, _query_args, _require, bp, member
from app.database import db
from app.errors import ApiError, not_found, validation_error
from app.identity import members as team
from app.identity.members import TeamError
from app.identity.models import Invitation, Membership
from app.identity.schemas import (
    DeactivateSchema,
    InvitationCreateSchema,
    InvitationSchema,
    MemberSchema,
    MemberUpdateSchema,
    TeamListArgs,
)

MEMBER_SORTS = {"user_id": (Membership.user_id, "int")}
INVITATION_SORTS = {"created_at": (Invitation.created_at, "datetime")}

_member = MemberSchema()
_members = MemberSchema(many=True)
_member_update = MemberUpdateSchema()
_deactivate = DeactivateSchema()
_invitation = InvitationSchema()
_invitations = InvitationSchema(many=True)
_invitation_create = InvitationCreateSchema()
_list_args = TeamListArgs()


def api_error(refusal: TeamError) -> ApiError:
    """The contract's answer to a team service's refusal."""
    details = {refusal.field or "_body": [refusal.message]}
    if refusal.code == "invalid":
        return validation_error(details, refusal.message)
    if refusal.code == "conflict":
        return ApiError(409, "conflict", refusal.message, details)
    if refusal.code == "unverified":
        return ApiError(403, "forbidden", refusal.message, {"reason": "email_unverified"})
    if refusal.code == "forbidden":
        return ApiError(403, "forbidden", refusal.message)
    if refusal.code == "throttled":
        return ApiError(429, "rate_limited", refusal.message, headers={"Retry-After": "60"})
    return not_found()


def _member_data(membership: Membership) -> dict[str, Any]:
    user = membership.user
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": membership.role,
        "is_active": membership.is_active,
        "deactivated_at": membership.deactivated_at,
        "joined_at": membership.created_at,
    }


def _invitation_data(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role,
        "status": team.invitation_status(invitation),
        "invited_by_id": invitation.invited_by_id,
        "created_at": invitation.created_at,
        "last_sent_at": invitation.last_sent_at,
        "send_count": invitation.send_count,
        "expires_at": invitation.expires_at,
    }


def _fetch_member(user_id: int) -> Membership:
    membership = team.membership_of(db.session, g.tenant.id, user_id)
    if membership is None:
        raise not_found()
    return membership


def _fetch_invitation(invitation_id: int) -> Invitation:
    invitation = team.invitation_of(db.session, g.tenant.id, invitation_id)
    if invitation is None:
        raise not_found()
    return invitation


def _optional_body() -> dict[str, Any]:
    """A JSON object body, or {} when none was sent."""
    if not request.get_data(cache=True):
        return {}
    return _json_body()


@bp.get("/users")
def list_users() -> Response:
    """Members of this workspace (active and deactivated), by user id."""
    _require("users", "view")
    args = _load(_list_args, _query_args())
    limit = parse_limit(args["limit"])
    sort = parse_sort(None, MEMBER_SORTS, "user_id")
    stmt = (
        select(Membership)
        .options(selectinload(Membership.user))
        .where(Membership.tenant_id == g.tenant.id)
    )
    rows = list(db.session.scalars(paginate(stmt, sort, Membership.id, args["cursor"], limit)))
    items, next_cursor = page(rows, sort, limit)
    return jsonify(
        {"items": _members.dump([_member_data(m) for m in items]), "next_cursor": next_cursor}
    )


@bp.get("/users/<int:user_id>")
def get_user(user_id: int) -> Response:
    """One member (404 for anyone who is not a member here)."""
    _require("users", "view")
    return jsonify(_member.dump(_member_data(_fetch_member(user_id))))


@bp.patch("/users/<int:user_id>")
def update_user(user_id: int) -> Response:
    """Change a member's role."""
    _require("users", "edit")
    membership = _fetch_member(user_id)
    data = _load(_member_update, _json_body())
    try:
        team.change_role(
            db.session, tenant=g.tenant, actor=member(), membership=membership, role=data["role"]
        )
    except TeamError as refusal:
        raise api_error(refusal) from refusal
    return jsonify(_member.dump(_member_data(membership)))


@bp.post("/users/<int:user_id>/deactivate")
def deactivate_user(user_id: int) -> Response:
    """Deactivate a member: no sign-in, tokens revoked, seat released, records kept
    (or handed to ``reassign_to``)."""
    _require("users", "delete")
    membership = _fetch_member(user_id)
    data = _load(_deactivate, _optional_body())
    try:
        team.deactivate_member(
            db.session,
            tenant=g.tenant,
            actor=member(),
            membership=membership,
            reassign_to=data["reassign_to"],
        )
    except TeamError as refusal:
        raise api_error(refusal) from refusal
    return jsonify(_member.dump(_member_data(membership)))


@bp.post("/users/<int:user_id>/reactivate")
def reactivate_user(user_id: int) -> Response:
    """Reactivate a member (takes a seat: 402 at the cap)."""
    _require("users", "create")
    membership = _fetch_member(user_id)
    try:
        team.reactivate_member(db.session, tenant=g.tenant, actor=member(), membership=membership)
    except TeamError as refusal:
        raise api_error(refusal) from refusal
    return jsonify(_member.dump(_member_data(membership)))


@bp.get("/invitations")
def list_invitations() -> Response:
    """Pending invitations (expired ones too until they are swept), newest first."""
    _require("users", "view")
    args = _load(_list_args, _query_args())
    limit = parse_limit(args["limit"])
    sort = parse_sort(None, INVITATION_SORTS, "-created_at")
    stmt = select(Invitation).where(
        Invitation.tenant_id == g.tenant.id,
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
    )
    rows = list(db.session.scalars(paginate(stmt, sort, Invitation.id, args["cursor"], limit)))
    items, next_cursor = page(rows, sort, limit)
    return jsonify(
        {
            "items": _invitations.dump([_invitation_data(i) for i in items]),
            "next_cursor": next_cursor,
        }
    )


@bp.post("/invitations")
def create_invitation() -> tuple[Response, int]:
    """Invite an email with a role; the link goes by mail only."""
    _require("users", "create")
    data = _load(_invitation_create, _json_body())
    try:
        issued = team.invite(
            db.session, tenant=g.tenant, actor=member(), email=data["email"], role=data["role"]
        )
    except TeamError as refusal:
        raise api_error(refusal) from refusal
    return jsonify(_invitation.dump(_invitation_data(issued.invitation))), 201


@bp.post("/invitations/<int:invitation_id>/resend")
def resend_invitation(invitation_id: int) -> Response:
    """Mail a new link (at most once a minute); the old link stops working."""
    _require("users", "create")
    invitation = _fetch_invitation(invitation_id)
    try:
        issued = team.resend_invitation(
            db.session, tenant=g.tenant, actor=member(), invitation=invitation
        )
    except TeamError as refusal:
        raise api_error(refusal) from refusal
    return jsonify(_invitation.dump(_invitation_data(issued.invitation)))


@bp.delete("/invitations/<int:invitation_id>")
def revoke_invitation(invitation_id: int) -> tuple[str, int]:
    """Revoke a pending invitation; its seat becomes free."""
    _require("users", "create")
    invitation = _fetch_invitation(invitation_id)
    try:
        team.revoke_invitation(db.session, tenant=g.tenant, actor=member(), invitation=invitation)
    except TeamError as refusal:
        raise api_error(refusal) from refusal
    return "", 204
