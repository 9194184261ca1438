"""Marshmallow schemas for pipelines and stages (API input and output).

The schemas check shapes and types so that a client learns every malformed field at
once; the rules that depend on the stored board (one won stage, a lost and an open one,
won = 100 %, stage of this pipeline, stale versions) are the services'
(:mod:`app.pipelines.services`), so that pages and the API refuse the same things.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_load, validate

from app.contacts.schemas import Text, id_field
from app.pipelines.models import ROTTING_DAYS_MAX, STAGE_COLORS, STAGE_KINDS
from app.pipelines.services import MAX_STAGES, NAME_MAX


def _strip_names(data: Any) -> Any:
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        data = {**data, "name": data["name"].strip()}
    return data


class StageSchema(Schema):
    """A stage as the API shows it."""

    id = fields.Integer(dump_only=True)
    name = fields.String()
    position = fields.Integer(metadata={"description": "0 for the first stage, no gaps."})
    probability = fields.Integer(metadata={"description": "Win probability in percent."})
    kind = fields.String(metadata={"enum": list(STAGE_KINDS)})
    color = fields.String(metadata={"enum": list(STAGE_COLORS)})
    rotting_days = fields.Integer(
        allow_none=True,
        metadata={"description": "Days after which an idle deal here is flagged; null: never."},
    )


class PipelineSchema(Schema):
    """A pipeline with its stages in order, as the API shows it."""

    id = fields.Integer()
    name = fields.String()
    is_default = fields.Boolean(
        metadata={"description": "New deals without a pipeline start in this one."}
    )
    position = fields.Integer()
    version = fields.Integer(
        metadata={"description": "Changes with every stage change; send it back when reordering."}
    )
    created_at = fields.DateTime()
    stages = fields.List(fields.Nested(StageSchema))


class StageInputSchema(Schema):
    """A stage as the API accepts it (POST; ``partial=True`` for PATCH). Unknown fields
    are refused by name."""

    name = Text(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    probability = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=100)
    )
    kind = fields.String(validate=validate.OneOf(STAGE_KINDS))
    color = fields.String(allow_none=True, validate=validate.OneOf(STAGE_COLORS))
    rotting_days = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=ROTTING_DAYS_MAX)
    )

    @pre_load
    def _strip(self, data: Any, **_kw: Any) -> Any:
        return _strip_names(data)


class NewStageSchema(StageInputSchema):
    """A stage added to an existing pipeline: may say where it goes."""

    position = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=MAX_STAGES)
    )


class PipelineInputSchema(Schema):
    """A pipeline as the API accepts it (POST; ``partial=True`` for PATCH, where
    ``stages`` is refused: stages change through their own endpoints)."""

    name = Text(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    is_default = fields.Boolean()
    stages = fields.List(
        fields.Nested(StageInputSchema), validate=validate.Length(min=1, max=MAX_STAGES)
    )

    @pre_load
    def _strip(self, data: Any, **_kw: Any) -> Any:
        return _strip_names(data)


class PipelineUpdateSchema(Schema):
    """Rename a pipeline or make it the default one."""

    name = Text(validate=validate.Length(min=1, max=NAME_MAX))
    is_default = fields.Boolean()

    @pre_load
    def _strip(self, data: Any, **_kw: Any) -> Any:
        return _strip_names(data)


class ReorderSchema(Schema):
    """Every stage id of the pipeline in the new order, and the version they came
    with."""

    stage_ids = fields.List(
        id_field(strict=True), required=True, validate=validate.Length(min=1, max=MAX_STAGES)
    )
    version = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))


class MoveDealsArgs(Schema):
    """Query parameters of the deleting endpoints."""

    move_to_stage_id = id_field(
        load_default=None,
        metadata={"description": "Where the deals of what is deleted go (required if any)."},
    )


class NoArgs(Schema):
    """No query parameters (unknown ones are refused, as everywhere in the API)."""
