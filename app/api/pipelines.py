"""REST API: pipelines and their stages (routes on the shared API blueprint).

Everyone who may view pipelines sees every pipeline (they are the workspace's shape,
not records with owners); creating, changing and deleting them is for roles with the
matching "pipelines" right (admins). Stage writes answer the whole pipeline, so the
client gets the new positions and ``version`` it needs for its next reorder.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from app.api.views import _json_body, _load, _query_args, _require, bp, member
from app.database import db
from app.errors import ApiError, not_found
from app.pipelines import services as pipelines
from app.pipelines.models import Pipeline, Stage
from app.pipelines.schemas import (
    MoveDealsArgs,
    NewStageSchema,
    NoArgs,
    PipelineInputSchema,
    PipelineSchema,
    PipelineUpdateSchema,
    ReorderSchema,
    StageInputSchema,
)

_pipeline = PipelineSchema()
_pipeline_input = PipelineInputSchema()
_pipeline_update = PipelineUpdateSchema()
_new_stage = NewStageSchema()
_stage_update = StageInputSchema(partial=True)
_reorder = ReorderSchema()
_move_args = MoveDealsArgs()
_no_args = NoArgs()


def pipeline_payload(pipeline: Pipeline) -> dict[str, Any]:
    """A pipeline with its stages in order, as the API answers it."""
    payload: dict[str, Any] = _pipeline.dump(pipeline)
    return payload


def _fetch_pipeline(pipeline_id: int) -> Pipeline:
    pipeline = pipelines.get_pipeline(db.session, pipeline_id)
    if pipeline is None:
        raise not_found()
    return pipeline


def _fetch_stage(pipeline: Pipeline, stage_id: int) -> Stage:
    stage = pipelines.get_stage(db.session, pipeline, stage_id)
    if stage is None:
        raise not_found()
    return stage


@bp.get("/pipelines")
def list_pipelines() -> Response:
    """Every pipeline with its stages, in board order (one page: a workspace has few)."""
    _require("pipelines", "view")
    _load(_no_args, _query_args())
    items = [_pipeline.dump(p) for p in pipelines.list_pipelines(db.session)]
    return jsonify({"items": items, "next_cursor": None})


@bp.post("/pipelines")
def create_pipeline() -> tuple[Response, int, dict[str, str]]:
    """Create a pipeline, with the given stages or the default ones."""
    _require("pipelines", "create")
    data = _load(_pipeline_input, _json_body())
    pipeline = pipelines.create_pipeline(db.session, member().actor, data)
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_pipeline", pipeline_id=pipeline.id)
    return jsonify(pipeline_payload(pipeline)), 201, {"Location": location}


@bp.get("/pipelines/<int:pipeline_id>")
def get_pipeline(pipeline_id: int) -> Response:
    """One pipeline with its stages."""
    _require("pipelines", "view")
    return jsonify(pipeline_payload(_fetch_pipeline(pipeline_id)))


@bp.patch("/pipelines/<int:pipeline_id>")
def update_pipeline(pipeline_id: int) -> Response:
    """Rename a pipeline or make it the default."""
    _require("pipelines", "edit")
    pipeline = _fetch_pipeline(pipeline_id)
    data = _load(_pipeline_update, _json_body())
    pipelines.update_pipeline(db.session, member().actor, pipeline, data)
    return jsonify(pipeline_payload(pipeline))


@bp.delete("/pipelines/<int:pipeline_id>")
def delete_pipeline(pipeline_id: int) -> tuple[str, int]:
    """Delete a pipeline; its deals go to ``move_to_stage_id`` (another pipeline's)."""
    _require("pipelines", "delete")
    pipeline = _fetch_pipeline(pipeline_id)
    args = _load(_move_args, _query_args())
    pipelines.delete_pipeline(db.session, member().actor, pipeline, args["move_to_stage_id"])
    return "", 204


@bp.post("/pipelines/<int:pipeline_id>/stages")
def add_stage(pipeline_id: int) -> tuple[Response, int]:
    """Add a stage; answers the pipeline."""
    _require("pipelines", "edit")
    pipeline = _fetch_pipeline(pipeline_id)
    data = _load(_new_stage, _json_body())
    pipelines.add_stage(db.session, member().actor, pipeline, data)
    return jsonify(pipeline_payload(pipeline)), 201


@bp.patch("/pipelines/<int:pipeline_id>/stages/<int:stage_id>")
def update_stage(pipeline_id: int, stage_id: int) -> Response:
    """Change some fields of a stage; answers the pipeline."""
    _require("pipelines", "edit")
    pipeline = _fetch_pipeline(pipeline_id)
    stage = _fetch_stage(pipeline, stage_id)
    data = _load(_stage_update, _json_body())
    pipelines.update_stage(db.session, member().actor, pipeline, stage, data)
    return jsonify(pipeline_payload(pipeline))


@bp.delete("/pipelines/<int:pipeline_id>/stages/<int:stage_id>")
def delete_stage(pipeline_id: int, stage_id: int) -> Response:
    """Delete a stage; its deals go to ``move_to_stage_id``. Answers the pipeline."""
    _require("pipelines", "edit")
    pipeline = _fetch_pipeline(pipeline_id)
    stage = _fetch_stage(pipeline, stage_id)
    args = _load(_move_args, _query_args())
    pipelines.delete_stage(db.session, member().actor, pipeline, stage, args["move_to_stage_id"])
    return jsonify(pipeline_payload(pipeline))


@bp.post("/pipelines/<int:pipeline_id>/stages/reorder")
def reorder_stages(pipeline_id: int) -> Response:
    """Put the stages in a new order; 409 when the pipeline changed since ``version``."""
    _require("pipelines", "edit")
    pipeline = _fetch_pipeline(pipeline_id)
    data = _load(_reorder, _json_body())
    try:
        pipelines.reorder_stages(
            db.session, member().actor, pipeline, data["stage_ids"], data["version"]
        )
    except pipelines.StaleBoard as stale:
        db.session.rollback()
        raise ApiError(409, "conflict", stale.message, {"version": stale.version}) from stale
    return jsonify(pipeline_payload(pipeline))
