"""REST API: deals (routes on the shared API blueprint).

parse -> authorize -> fetch through :func:`app.deals.services.get_visible_deal` ->
service -> serialize. Amounts travel as decimal strings in major units ("1234.50"),
never as floats, so that no client loses a cent to binary rounding.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from app.access.policy import record_in_scope
from app.api import record_lists
from app.api.views import _json_body, _load, _query_args, _require, bp, member
from app.database import db
from app.deals import money
from app.deals import services as deals
from app.deals.models import Deal
from app.deals.schemas import DealInputSchema
from app.errors import ApiError, not_found
from app.pipelines.models import Stage

_create_schema = DealInputSchema(exclude=("from_stage_id",))
_update_schema = DealInputSchema(partial=True)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def dump_deal(deal: Deal, stage: Stage | None) -> dict[str, Any]:
    """A deal as the API answers it (every field present)."""
    weighted = deals.weighted_amount(deal, stage)
    return {
        "id": deal.id,
        "title": deal.title,
        "amount": money.amount_text(deal.amount_minor, deal.currency),
        "currency": deal.currency,
        "weighted_amount": format(weighted, "f") if weighted is not None else None,
        "pipeline_id": deal.pipeline_id,
        "stage_id": deal.stage_id,
        "pipeline": (
            {"id": stage.pipeline.id, "name": stage.pipeline.name} if stage is not None else None
        ),
        "stage": (
            {
                "id": stage.id,
                "name": stage.name,
                "kind": stage.kind,
                "probability": stage.probability,
            }
            if stage is not None
            else None
        ),
        "status": deal.status,
        "probability": deal.probability,
        "effective_probability": deals.effective_probability(deal, stage),
        "expected_close_date": _iso(deal.expected_close_date),
        "owner_id": deal.owner_id,
        "contact_id": deal.contact_id,
        "company_id": deal.company_id,
        "source": deal.source,
        "notes": deal.notes,
        "lost_reason": deal.lost_reason,
        "lost_to_competitor": deal.lost_to_competitor,
        "won_amount": money.amount_text(deal.won_amount_minor, deal.currency),
        "tags": list(deal.tags or []),
        "custom_fields": dict(deal.custom_fields or {}),
        "closed_at": _iso(deal.closed_at),
        "stage_entered_at": _iso(deal.stage_entered_at),
        "created_at": _iso(deal.created_at),
        "updated_at": _iso(deal.updated_at),
    }


def _dump_one(deal: Deal) -> dict[str, Any]:
    stages = deals.load_stages(db.session, [deal.stage_id])
    return dump_deal(deal, stages.get(deal.stage_id))


def _fetch_deal(deal_id: int, action: str = "view") -> Deal:
    """The deal if the caller may see it (else 404) and may ``action`` it (else 403)."""
    deal = deals.get_visible_deal(db.session, member().actor, deal_id)
    if deal is None:
        raise not_found()
    if action != "view" and not record_in_scope(member().actor, "deals", action, deal.owner_id):
        raise ApiError(403, "forbidden", f"Your role may not {action} this deal.")
    return deal


@bp.get("/deals")
def list_deals() -> Response:
    """Deals the caller may see; ``q`` searches titles, filters narrow (app.lists.filters),
    cursor-paginated."""
    _require("deals", "view")
    args = _query_args()
    items, next_cursor = record_lists.list_page(db.session, member().actor, "deal", args)
    stages = deals.load_stages(db.session, {d.stage_id for d in items})
    return jsonify(
        {
            "items": [dump_deal(d, stages.get(d.stage_id)) for d in items],
            "next_cursor": next_cursor,
        }
    )


@bp.post("/deals")
def create_deal() -> tuple[Response, int, dict[str, str]]:
    """Create a deal (owned by the caller unless ``owner_id`` says otherwise)."""
    _require("deals", "create")
    data = _load(_create_schema, _json_body())
    deal = deals.create_deal(db.session, member().actor, data)
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_deal", deal_id=deal.id)
    return jsonify(_dump_one(deal)), 201, {"Location": location}


@bp.get("/deals/<int:deal_id>")
def get_deal(deal_id: int) -> Response:
    """One deal (404 when missing, another workspace's, or out of scope)."""
    _require("deals", "view")
    return jsonify(_dump_one(_fetch_deal(deal_id)))


@bp.patch("/deals/<int:deal_id>")
def update_deal(deal_id: int) -> Response:
    """Change some fields of a deal; a new ``stage_id`` (or ``pipeline_id``) moves it
    (``from_stage_id``: the stage the client saw; 409 when the deal has moved since)."""
    _require("deals", "edit")
    deal = _fetch_deal(deal_id, "edit")
    data = _load(_update_schema, _json_body())
    try:
        deals.update_deal(db.session, member().actor, deal, data)
    except deals.DealMoved as moved:
        raise ApiError(409, "conflict", moved.message, {"stage_id": moved.stage_id}) from None
    return jsonify(_dump_one(deal))


@bp.delete("/deals/<int:deal_id>")
def delete_deal(deal_id: int) -> tuple[str, int]:
    """Delete a deal."""
    _require("deals", "delete")
    deal = _fetch_deal(deal_id, "delete")
    deals.delete_deal(db.session, member().actor, deal)
    return "", 204
