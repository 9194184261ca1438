"""REST API: the workspace's loss reasons (routes on the shared API blueprint).

Everyone who may view pipelines reads the list (sales reps pick from it when a deal is
lost); changing it is for roles that may edit pipelines (admins), as it shapes the
funnel like the stages do.
"""

from __future__ import annotations

from flask import Response, jsonify, request, url_for

from app.api.views import _json_body, _load, _query_args, _require, bp, member
from app.board import loss_reasons
from app.board.models import LossReason
from app.board.schemas import LossReasonInputSchema, LossReasonListArgs, LossReasonSchema
from app.database import db
from app.errors import not_found

_reason = LossReasonSchema()
_create = LossReasonInputSchema()
_update = LossReasonInputSchema(partial=True)
_list_args = LossReasonListArgs()


def _fetch(reason_id: int) -> LossReason:
    reason = loss_reasons.get_loss_reason(db.session, reason_id)
    if reason is None:
        raise not_found()
    return reason


@bp.get("/loss-reasons")
def list_loss_reasons() -> Response:
    """The list in order (``?active=true``: only the offered ones); one page."""
    _require("pipelines", "view")
    args = _load(_list_args, _query_args())
    items = loss_reasons.list_loss_reasons(db.session, active_only=bool(args.get("active")))
    return jsonify({"items": [_reason.dump(r) for r in items], "next_cursor": None})


@bp.post("/loss-reasons")
def create_loss_reason() -> tuple[Response, int, dict[str, str]]:
    """Add a reason at the end of the list."""
    _require("pipelines", "edit")
    data = _load(_create, _json_body())
    reason = loss_reasons.create_loss_reason(db.session, member().actor, data)
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_loss_reason", reason_id=reason.id)
    return jsonify(_reason.dump(reason)), 201, {"Location": location}


@bp.get("/loss-reasons/<int:reason_id>")
def get_loss_reason(reason_id: int) -> Response:
    """One reason."""
    _require("pipelines", "view")
    return jsonify(_reason.dump(_fetch(reason_id)))


@bp.patch("/loss-reasons/<int:reason_id>")
def update_loss_reason(reason_id: int) -> Response:
    """Rename, retire (``active: false``) or move a reason."""
    _require("pipelines", "edit")
    reason = _fetch(reason_id)
    data = _load(_update, _json_body())
    loss_reasons.update_loss_reason(db.session, member().actor, reason, data)
    return jsonify(_reason.dump(reason))


@bp.delete("/loss-reasons/<int:reason_id>")
def delete_loss_reason(reason_id: int) -> tuple[str, int]:
    """Remove a reason (deals lost for it keep their text)."""
    _require("pipelines", "edit")
    loss_reasons.delete_loss_reason(db.session, member().actor, _fetch(reason_id))
    return "", 204
