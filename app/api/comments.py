"""REST API: comments on client cards and the mention autocomplete (routes on the
shared API blueprint).

Thin handlers: parse -> authorize -> fetch through the access helper -> service ->
serialize. A card or comment the caller may not view is 404 like a missing one; a
visible comment the caller may not change is 403.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from app.access.policy import may
from app.api.pagination import page, paginate, parse_limit, parse_sort
from app.api.views import _json_body, _load, _query_args, _require, bp, member
from app.comments import services as comments
from app.comments.models import Comment
from app.comments.schemas import (
    CommentInputSchema,
    CommentListArgs,
    CommentSchema,
    MemberChoiceSchema,
    MemberSearchArgs,
)
from app.database import db
from app.errors import ApiError, InvalidInput, not_found, validation_error
from app.timeline.queries import actor_names

COMMENT_SORTS = {"created_at": (Comment.created_at, "datetime")}
DEFAULT_SORT = "-created_at"
_input = CommentInputSchema()
_list_args = CommentListArgs()
_comments = CommentSchema(many=True)
_member_args = MemberSearchArgs()
_choices = MemberChoiceSchema(many=True)


def _refused(refusal: InvalidInput) -> ApiError:
    db.session.rollback()
    return validation_error(refusal.details, refusal.message)


def comment_payloads(items: list[Comment]) -> list[dict[str, Any]]:
    """Comments as the API answers them, with author and mentioned names (one query for
    the whole page)."""
    ids = {c.author_id for c in items} | {uid for c in items for uid in c.mentions}
    names = actor_names(db.session, ids)
    payloads: list[dict[str, Any]] = _comments.dump(
        [
            {
                "id": c.id,
                "body": c.body,
                "author": {"id": c.author_id, "name": names.get(c.author_id, "")},
                "contact_id": c.contact_id,
                "company_id": c.company_id,
                "deal_id": c.deal_id,
                "mentions": [{"id": uid, "name": names.get(uid, "")} for uid in c.mentions],
                "created_at": c.created_at,
                "edited_at": c.edited_at,
            }
            for c in items
        ]
    )
    return payloads


def _fetch_card(entity: str, record_id: int) -> comments.Card:
    _require(comments.RESOURCES[entity], "view")
    card = comments.get_visible_card(db.session, member().actor, entity, record_id)
    if card is None:
        raise not_found()
    return card


def _fetch_comment(comment_id: int) -> Comment:
    found = comments.get_visible_comment(db.session, member().actor, comment_id)
    if found is None:
        raise not_found()
    return found


def _list(entity: str, record_id: int) -> Response:
    card = _fetch_card(entity, record_id)
    args = _load(_list_args, _query_args())
    limit = parse_limit(args["limit"])
    sort = parse_sort(args["sort"], COMMENT_SORTS, DEFAULT_SORT)
    stmt = paginate(comments.comments_on(card), sort, Comment.id, args["cursor"], limit)
    items, next_cursor = page(list(db.session.scalars(stmt)), sort, limit)
    return jsonify({"items": comment_payloads(items), "next_cursor": next_cursor})


def _create(entity: str, record_id: int) -> tuple[Response, int, dict[str, str]]:
    card = _fetch_card(entity, record_id)
    _require("activities", "create")
    data = _load(_input, _json_body())
    try:
        created = comments.create_comment(db.session, member().actor, card, data["body"])
    except InvalidInput as refusal:
        raise _refused(refusal) from refusal
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_comment", comment_id=created.id)
    return jsonify(comment_payloads([created])[0]), 201, {"Location": location}


@bp.get("/contacts/<int:contact_id>/comments")
def list_contact_comments(contact_id: int) -> Response:
    """Comments written on a contact's card, newest first."""
    return _list("contact", contact_id)


@bp.post("/contacts/<int:contact_id>/comments")
def create_contact_comment(contact_id: int) -> tuple[Response, int, dict[str, str]]:
    """Write a comment on a contact's card."""
    return _create("contact", contact_id)


@bp.get("/companies/<int:company_id>/comments")
def list_company_comments(company_id: int) -> Response:
    """Comments written on a company's card, newest first."""
    return _list("company", company_id)


@bp.post("/companies/<int:company_id>/comments")
def create_company_comment(company_id: int) -> tuple[Response, int, dict[str, str]]:
    """Write a comment on a company's card."""
    return _create("company", company_id)


@bp.get("/deals/<int:deal_id>/comments")
def list_deal_comments(deal_id: int) -> Response:
    """Comments written on a deal's card, newest first."""
    return _list("deal", deal_id)


@bp.post("/deals/<int:deal_id>/comments")
def create_deal_comment(deal_id: int) -> tuple[Response, int, dict[str, str]]:
    """Write a comment on a deal's card."""
    return _create("deal", deal_id)


@bp.get("/comments/<int:comment_id>")
def get_comment(comment_id: int) -> Response:
    """One comment (404 when missing or on a card the caller may not view)."""
    return jsonify(comment_payloads([_fetch_comment(comment_id)])[0])


@bp.patch("/comments/<int:comment_id>")
def update_comment(comment_id: int) -> Response:
    """Change a comment's text (its author only)."""
    found = _fetch_comment(comment_id)
    if not comments.may_edit(member().actor, found):
        raise ApiError(403, "forbidden", "Only the author may edit a comment.")
    data = _load(_input, _json_body())
    try:
        comments.update_comment(db.session, member().actor, found, data["body"])
    except InvalidInput as refusal:
        raise _refused(refusal) from refusal
    return jsonify(comment_payloads([found])[0])


@bp.delete("/comments/<int:comment_id>")
def delete_comment(comment_id: int) -> tuple[str, int]:
    """Delete a comment (its author, or an Owner or Admin)."""
    found = _fetch_comment(comment_id)
    if not comments.may_delete(member().actor, found):
        raise ApiError(403, "forbidden", "Only the author or an admin may delete a comment.")
    comments.delete_comment(db.session, member().actor, found)
    return "", 204


@bp.get("/members")
def list_members() -> Response:
    """Active members matching ``q`` for the mention autocomplete, by name; with a card
    (``contact_id``, ``company_id`` or ``deal_id``), whether each may view it."""
    actor = member().actor
    if not (comments.may_comment(actor) or may(actor, "users", "view")):
        raise ApiError(403, "forbidden", "Your role may not list members.")
    args = _load(_member_args, _query_args())
    named = [e for e in ("contact", "company", "deal") if args[f"{e}_id"] is not None]
    if len(named) > 1:
        raise validation_error({named[1] + "_id": ["Name one card at most."]})
    card = _fetch_card(named[0], args[f"{named[0]}_id"]) if named else None
    found = comments.mentionable(db.session, actor, args["q"], card, args["limit"])
    items = _choices.dump([{"id": m.id, "name": m.name, "can_view": m.can_view} for m in found])
    return jsonify({"items": items, "next_cursor": None})
