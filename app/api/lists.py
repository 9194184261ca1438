"""REST API: saved segments, their records, and bulk edits (routes on the shared API
blueprint).

Thin handlers: parse -> authorize -> fetch through the access helpers -> service ->
serialize. Segments someone else keeps private, segments of records the caller may
not view, and bulk edits someone else started are 404, exactly like missing ones.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from app.api.companies import company_payloads
from app.api.deals import dump_deal
from app.api.pagination import page, paginate, parse_limit, parse_sort
from app.api.record_lists import list_page
from app.api.views import _json_body, _load, _query_args, _require, bp, contact_payloads, member
from app.database import db
from app.deals import services as deal_services
from app.errors import ApiError, not_found
from app.lists import bulk
from app.lists import services as segments
from app.lists.filters import RESOURCES
from app.lists.models import BulkEdit, Segment
from app.lists.schemas import (
    BulkEditSchema,
    SegmentItemsArgs,
    SegmentListArgs,
    SegmentSchema,
    SegmentUpdateSchema,
)

SEGMENT_SORTS = {"name": (Segment.name, "str")}
_segment = SegmentSchema()
_segment_update = SegmentUpdateSchema(partial=True)
_list_args = SegmentListArgs()
_items_args = SegmentItemsArgs()
_bulk = BulkEditSchema()


def segment_payload(segment: Segment) -> dict[str, Any]:
    """A segment as the API answers it."""
    return {
        "id": segment.id,
        "entity": segment.entity,
        "name": segment.name,
        "filters": dict(segment.filters),
        "sort": segment.sort,
        "shared": segment.shared,
        "owner_id": segment.owner_id,
        "editable": segments.may_edit_segment(member().actor, segment),
        "created_at": segment.created_at.isoformat(),
        "updated_at": segment.updated_at.isoformat(),
    }


def record_payloads(entity: str, items: list[Any]) -> list[dict[str, Any]]:
    """Records of ``entity`` as their own list endpoint answers them."""
    if entity == "contact":
        return contact_payloads(items)
    if entity == "company":
        return company_payloads(items)
    stages = deal_services.load_stages(db.session, {d.stage_id for d in items})
    return [dump_deal(d, stages.get(d.stage_id)) for d in items]


def _fetch_segment(segment_id: int, *, edit: bool = False) -> Segment:
    """The segment if the caller may see it (else 404) and, for ``edit``, change it
    (else 403)."""
    segment = segments.get_visible_segment(db.session, member().actor, segment_id)
    if segment is None:
        raise not_found()
    if edit and not segments.may_edit_segment(member().actor, segment):
        raise ApiError(403, "forbidden", "Only its owner or an admin may change this segment.")
    return segment


@bp.get("/segments")
def list_segments() -> Response:
    """Segments the caller may see (their own and shared ones), by name."""
    args = _load(_list_args, _query_args())
    limit = parse_limit(args["limit"])
    sort = parse_sort(None, SEGMENT_SORTS, "name")
    stmt = segments.visible_segments_query(member().actor, args["entity"])
    rows = list(db.session.scalars(paginate(stmt, sort, Segment.id, args["cursor"], limit)))
    items, next_cursor = page(rows, sort, limit)
    return jsonify({"items": [segment_payload(s) for s in items], "next_cursor": next_cursor})


@bp.post("/segments")
def create_segment() -> tuple[Response, int, dict[str, str]]:
    """Save a named filter (private unless ``shared``)."""
    data = _load(_segment, _json_body())
    _require(RESOURCES[data["entity"]], "view")
    segment = segments.create_segment(db.session, member().actor, data)
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_segment", segment_id=segment.id)
    return jsonify(segment_payload(segment)), 201, {"Location": location}


@bp.get("/segments/<int:segment_id>")
def get_segment(segment_id: int) -> Response:
    """One segment (404 when missing, private to someone else, or of records the
    caller may not view)."""
    return jsonify(segment_payload(_fetch_segment(segment_id)))


@bp.patch("/segments/<int:segment_id>")
def update_segment(segment_id: int) -> Response:
    """Rename, re-filter, re-sort or (un)share a segment (its owner, or an admin for a
    shared one)."""
    segment = _fetch_segment(segment_id, edit=True)
    data = _load(_segment_update, _json_body())
    segments.update_segment(db.session, member().actor, segment, data)
    return jsonify(segment_payload(segment))


@bp.delete("/segments/<int:segment_id>")
def delete_segment(segment_id: int) -> tuple[str, int]:
    """Delete a segment (its records stay)."""
    segment = _fetch_segment(segment_id, edit=True)
    segments.delete_segment(db.session, member().actor, segment)
    return "", 204


@bp.get("/segments/<int:segment_id>/items")
def list_segment_items(segment_id: int) -> Response:
    """The segment's records that the caller may view, in the segment's order unless
    ``sort`` says otherwise; cursor-paginated."""
    segment = _fetch_segment(segment_id)
    args = _query_args()
    _load(_items_args, args)
    items, next_cursor = list_page(
        db.session,
        member().actor,
        segment.entity,
        args,
        filters=segment.filters,
        default_sort=segment.sort,
    )
    return jsonify({"items": record_payloads(segment.entity, items), "next_cursor": next_cursor})


def _bulk_edit(entity: str) -> tuple[Response, int, dict[str, str]]:
    resource = RESOURCES[entity]
    _require(resource, "view")
    data = _load(_bulk, _json_body())
    _require(resource, bulk.ACTION_RIGHT[data["action"]])
    job = bulk.start_bulk_edit(db.session, member().actor, entity, data)
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_bulk_edit", bulk_edit_id=job.id)
    status = 202 if bulk.in_background(job) else 200
    return jsonify(bulk.progress(job)), status, {"Location": location}


@bp.post("/contacts/bulk")
def bulk_edit_contacts() -> tuple[Response, int, dict[str, str]]:
    """Assign an owner to, tag, untag or delete many contacts at once."""
    return _bulk_edit("contact")


@bp.post("/companies/bulk")
def bulk_edit_companies() -> tuple[Response, int, dict[str, str]]:
    """Assign an owner to, tag, untag or delete many companies at once."""
    return _bulk_edit("company")


@bp.post("/deals/bulk")
def bulk_edit_deals() -> tuple[Response, int, dict[str, str]]:
    """Assign an owner to, tag, untag or delete many deals at once."""
    return _bulk_edit("deal")


@bp.get("/bulk-edits/<int:bulk_edit_id>")
def get_bulk_edit(bulk_edit_id: int) -> Response:
    """A bulk edit the caller started: its status and counts (poll until ``done``)."""
    job: BulkEdit | None = bulk.get_own_bulk_edit(db.session, member().actor, bulk_edit_id)
    if job is None:
        raise not_found()
    return jsonify(bulk.progress(job))
