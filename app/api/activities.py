"""REST API: activities and the client timelines (routes on the shared API blueprint).

Thin handlers: parse -> authorize -> fetch through the access helper -> service ->
serialize. The services answer refusals with per-field details (400).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from app.activities import services as activities
from app.activities.models import Activity
from app.activities.schemas import (
    ActivityListArgs,
    ActivitySchema,
    ActivityUpdateSchema,
    CompleteTaskSchema,
    TimelineArgs,
    TimelineEventSchema,
)
from app.api.pagination import page, paginate, parse_limit, parse_sort
from app.api.views import _json_body, _load, _query_args, _require, bp, member
from app.database import db
from app.errors import ApiError, InvalidInput, not_found, validation_error
from app.timeline import queries as timeline

ACTIVITY_SORTS = {
    "created_at": (Activity.created_at, "datetime"),
    "occurred_at": (Activity.occurred_at, "datetime"),
    "due_at": (Activity.due_at, "datetime"),
}
_activity = ActivitySchema()
_activities = ActivitySchema(many=True)
_activity_update = ActivityUpdateSchema(partial=True)
_complete = CompleteTaskSchema()
_list_args = ActivityListArgs()
_timeline_args = TimelineArgs()
_events = TimelineEventSchema(many=True)


def _refused(refusal: InvalidInput) -> ApiError:
    db.session.rollback()
    return validation_error(refusal.details, refusal.message)


def _fetch_activity(activity_id: int, action: str = "view") -> Activity:
    """The activity if the caller may see it (else 404) and may ``action`` it (else 403)."""
    actor = member().actor
    found = activities.get_visible_activity(db.session, actor, activity_id)
    if found is None:
        raise not_found()
    if action != "view" and not activities.may_touch(actor, found, action):
        raise ApiError(403, "forbidden", f"Your role may not {action} this activity.")
    return found


def _optional_body() -> dict[str, Any]:
    """A JSON object body, or nothing at all (``complete`` needs no body)."""
    if not request.get_data(cache=True) and not request.is_json:
        return {}
    return _json_body()


@bp.get("/activities")
def list_activities() -> Response:
    """Activities the caller may see; filters narrow, cursor-paginated."""
    _require("activities", "view")
    args = _load(_list_args, _query_args())
    limit = parse_limit(args.pop("limit"))
    sort = parse_sort(args.pop("sort"), ACTIVITY_SORTS, "-created_at")
    cursor = args.pop("cursor")
    stmt = activities.visible_activities_query(member().actor, **args)
    rows = list(db.session.scalars(paginate(stmt, sort, Activity.id, cursor, limit)))
    items, next_cursor = page(rows, sort, limit)
    return jsonify({"items": _activities.dump(items), "next_cursor": next_cursor})


@bp.post("/activities")
def create_activity() -> tuple[Response, int, dict[str, str]]:
    """Log an activity or add a task (owned by the caller)."""
    _require("activities", "create")
    data = _load(_activity, _json_body())
    try:
        created = activities.create_activity(db.session, member().actor, data)
    except InvalidInput as refusal:
        raise _refused(refusal) from refusal
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_activity", activity_id=created.id)
    return jsonify(_activity.dump(created)), 201, {"Location": location}


@bp.get("/activities/<int:activity_id>")
def get_activity(activity_id: int) -> Response:
    """One activity (404 when missing, another tenant's, or out of scope)."""
    _require("activities", "view")
    return jsonify(_activity.dump(_fetch_activity(activity_id)))


@bp.patch("/activities/<int:activity_id>")
def update_activity(activity_id: int) -> Response:
    """Change some fields of an activity (``done`` completes or reopens a task)."""
    _require("activities", "edit")
    found = _fetch_activity(activity_id, "edit")
    data = _load(_activity_update, _json_body())
    try:
        activities.update_activity(db.session, member().actor, found, data)
    except InvalidInput as refusal:
        raise _refused(refusal) from refusal
    return jsonify(_activity.dump(found))


@bp.delete("/activities/<int:activity_id>")
def delete_activity(activity_id: int) -> tuple[str, int]:
    """Delete an activity."""
    _require("activities", "delete")
    found = _fetch_activity(activity_id, "delete")
    activities.delete_activity(db.session, member().actor, found)
    return "", 204


@bp.post("/activities/<int:activity_id>/complete")
def complete_activity(activity_id: int) -> Response:
    """Mark a task done, with an optional ``result_note`` (done tasks stay as they are)."""
    _require("activities", "edit")
    found = _fetch_activity(activity_id, "edit")
    data = _load(_complete, _optional_body())
    try:
        activities.complete_task(db.session, member().actor, found, data.get("result_note"))
    except InvalidInput as refusal:
        raise _refused(refusal) from refusal
    return jsonify(_activity.dump(found))


@bp.post("/activities/<int:activity_id>/reopen")
def reopen_activity(activity_id: int) -> Response:
    """Mark a done task open again."""
    _require("activities", "edit")
    found = _fetch_activity(activity_id, "edit")
    try:
        activities.reopen_task(db.session, member().actor, found)
    except InvalidInput as refusal:
        raise _refused(refusal) from refusal
    return jsonify(_activity.dump(found))


def _timeline(entity: str, entity_id: int) -> Response:
    """One page of a card's history; the card must be visible to the caller (404)."""
    resource = {"contact": "contacts", "company": "companies", "deal": "deals"}[entity]
    _require(resource, "view")
    args = _load(_timeline_args, _query_args())
    limit = parse_limit(args["limit"]) if args["limit"] else timeline.PAGE_SIZE
    if not activities.card_visible(db.session, member().actor, entity, entity_id):
        raise not_found()
    try:
        found = timeline.timeline_page(
            db.session, entity=entity, entity_id=entity_id, cursor=args["cursor"], limit=limit
        )
    except timeline.BadCursor as exc:
        raise validation_error({"cursor": ["Invalid cursor; start again without it."]}) from exc
    items = [
        {
            "id": e.id,
            "kind": e.kind,
            "occurred_at": e.occurred_at,
            "actor": (
                {"id": e.actor_id, "name": found.actor_names.get(e.actor_id, "")}
                if e.actor_id
                else None
            ),
            "entity": e.entity,
            "entity_id": e.entity_id,
            "activity_id": e.activity_id,
            "data": e.data,
        }
        for e in found.events
    ]
    return jsonify({"items": _events.dump(items), "next_cursor": found.next_cursor})


@bp.get("/contacts/<int:contact_id>/timeline")
def contact_timeline(contact_id: int) -> Response:
    """A contact's history, newest first."""
    return _timeline("contact", contact_id)


@bp.get("/companies/<int:company_id>/timeline")
def company_timeline(company_id: int) -> Response:
    """A company's history, newest first."""
    return _timeline("company", company_id)


@bp.get("/deals/<int:deal_id>/timeline")
def deal_timeline(deal_id: int) -> Response:
    """A deal's history, newest first."""
    return _timeline("deal", deal_id)
