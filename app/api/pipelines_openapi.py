"""OpenAPI documentation of the pipelines and stages endpoints.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together. Schemas are written out by hand (not
generated) so that every field is marked required and int64 where it is an id.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.api.openapi_parts import error_response as _error
from app.api.openapi_parts import json_response as _json
from app.api.openapi_parts import list_schema
from app.input_rules import MAX_BIGINT
from app.pipelines.models import ROTTING_DAYS_MAX, STAGE_COLORS, STAGE_KINDS
from app.pipelines.services import MAX_STAGES, NAME_MAX

TAG: dict[str, Any] = {
    "name": "pipelines",
    "description": (
        "Sales funnels and their ordered stages. Every pipeline has exactly one won "
        "stage, at least one lost and one open stage, and positions 0..n-1."
    ),
}

_ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT}


def _stage_fields() -> dict[str, Any]:
    return {
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
        "probability": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "nullable": True,
            "description": "Win probability in percent. The won stage is 100 and lost "
            "stages 0 (given when omitted); an open stage defaults to 0.",
        },
        "kind": {"type": "string", "enum": list(STAGE_KINDS)},
        "color": {
            "type": "string",
            "enum": [*STAGE_COLORS, None],
            "nullable": True,
            "description": "A swatch of the palette (default by kind: open blue, won "
            "green, lost red).",
        },
        "rotting_days": {
            "type": "integer",
            "minimum": 1,
            "maximum": ROTTING_DAYS_MAX,
            "nullable": True,
            "description": "A deal idle in this stage for longer is flagged. Open stages "
            "only; null: never.",
        },
    }


def _components(spec: APISpec) -> None:
    stage_out = _stage_fields()
    stage_out["probability"] = {"type": "integer", "minimum": 0, "maximum": 100}
    stage_out["color"] = {"type": "string", "enum": list(STAGE_COLORS)}
    stage = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name", "position", "probability", "kind", "color", "rotting_days"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "position": {"type": "integer", "minimum": 0, "description": "0 is the first."},
            **stage_out,
        },
    }
    pipeline = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name", "is_default", "position", "version", "created_at", "stages"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "name": {"type": "string"},
            "is_default": {
                "type": "boolean",
                "description": "New deals that name no pipeline start in this one.",
            },
            "position": {"type": "integer"},
            "version": {
                "type": "integer",
                "description": "Changes with every stage change; send it with a reorder.",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "stages": {"type": "array", "items": {"$ref": "#/components/schemas/Stage"}},
        },
    }
    stage_input = {
        "type": "object",
        "additionalProperties": False,
        "properties": _stage_fields(),
        "description": "Stage fields; `name` is required when adding. Unknown fields are "
        "refused (400).",
    }
    new_stage = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            **_stage_fields(),
            "position": {
                "type": "integer",
                "minimum": 0,
                "nullable": True,
                "description": "Where the stage goes (0..number of stages); default: "
                "after the last open stage. Later stages move one down.",
            },
        },
        "description": "A new stage. Its kind is `open` or `lost` (the won stage is "
        "chosen by turning an existing stage into it).",
    }
    pipeline_input = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
            "is_default": {"type": "boolean"},
            "stages": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_STAGES,
                "items": {"$ref": "#/components/schemas/StageInput"},
                "description": "The stages in order; default: the workspace's default "
                "stages (Lead .. Won, Lost).",
            },
        },
    }
    pipeline_update = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
            "is_default": {
                "type": "boolean",
                "description": "`true` makes this the default pipeline (the previous one "
                "stops being it); `false` on the default one is refused.",
            },
        },
    }
    reorder = {
        "type": "object",
        "additionalProperties": False,
        "required": ["stage_ids", "version"],
        "properties": {
            "stage_ids": {
                "type": "array",
                "items": _ID,
                "minItems": 1,
                "maxItems": MAX_STAGES,
                "description": "Every stage id of the pipeline once, in the new order.",
            },
            "version": {
                "type": "integer",
                "minimum": 1,
                "description": "The `version` of the pipeline you loaded.",
            },
        },
    }
    spec.components.schema("Stage", component=stage)
    spec.components.schema("Pipeline", component=pipeline)
    spec.components.schema("StageInput", component=stage_input)
    spec.components.schema("NewStage", component=new_stage)
    spec.components.schema("PipelineInput", component=pipeline_input)
    spec.components.schema("PipelineUpdate", component=pipeline_update)
    spec.components.schema("StageOrder", component=reorder)
    spec.components.schema(
        "PipelineList",
        component=list_schema(
            "Pipeline", cursor_description="Always null: every pipeline fits on one page."
        ),
    )


def _body(ref: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def document(spec: APISpec) -> None:
    """Add the pipelines schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS, PLAN_LIMIT_ERROR

    _components(spec)
    pipeline_id = {"name": "pipeline_id", "in": "path", "required": True, "schema": _ID}
    stage_id = {"name": "stage_id", "in": "path", "required": True, "schema": _ID}
    move_to = {
        "name": "move_to_stage_id",
        "in": "query",
        "schema": _ID,
        "description": "Where the deals of what is deleted go; required when it holds deals.",
    }
    refused = {
        "400": _error(
            "Invalid fields, or a change that would break the board (no won, lost or open "
            "stage left, a won probability other than 100, ...): `details` says which."
        ),
        "413": BODY_ERRORS["413"],
        "415": BODY_ERRORS["415"],
    }
    location = {
        "Location": {"description": "URL of the new pipeline.", "schema": {"type": "string"}}
    }
    tags = ["pipelines"]
    spec.path(
        path="/api/v1/pipelines",
        operations={
            "get": {
                "operationId": "list_pipelines",
                "summary": "List pipelines with their stages",
                "tags": tags,
                "responses": {
                    "200": _json("PipelineList", "Every pipeline, in board order."),
                    "400": _error("An unknown or repeated query parameter."),
                    **COMMON_ERRORS,
                },
            },
            "post": {
                "operationId": "create_pipeline",
                "summary": "Create a pipeline",
                "description": "Takes one of the plan's pipelines (402 at the cap).",
                "tags": tags,
                "requestBody": _body("PipelineInput"),
                "responses": {
                    "201": _json("Pipeline", "Created.", headers=location),
                    **PLAN_LIMIT_ERROR,
                    **refused,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/pipelines/{pipeline_id}",
        operations={
            "get": {
                "operationId": "get_pipeline",
                "summary": "Get a pipeline with its stages",
                "tags": tags,
                "parameters": [pipeline_id],
                "responses": {"200": _json("Pipeline", "The pipeline."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_pipeline",
                "summary": "Rename a pipeline or make it the default",
                "tags": tags,
                "parameters": [pipeline_id],
                "requestBody": _body("PipelineUpdate"),
                "responses": {
                    "200": _json("Pipeline", "Updated."),
                    **refused,
                    **COMMON_ERRORS,
                },
            },
            "delete": {
                "operationId": "delete_pipeline",
                "summary": "Delete a pipeline",
                "description": "The last pipeline can not be deleted. Its deals move to "
                "`move_to_stage_id` (a stage of another pipeline), each with a timeline "
                "event; deleting the default pipeline makes the next one the default.",
                "tags": tags,
                "parameters": [pipeline_id, move_to],
                "responses": {
                    "204": {"description": "Deleted."},
                    "400": refused["400"],
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/pipelines/{pipeline_id}/stages",
        operations={
            "post": {
                "operationId": "add_stage",
                "summary": "Add a stage",
                "tags": tags,
                "parameters": [pipeline_id],
                "requestBody": _body("NewStage"),
                "responses": {
                    "201": _json("Pipeline", "The pipeline with the new stage."),
                    **refused,
                    **COMMON_ERRORS,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/pipelines/{pipeline_id}/stages/{stage_id}",
        operations={
            "patch": {
                "operationId": "update_stage",
                "summary": "Change a stage",
                "description": "A stage holding deals keeps its kind. Making a stage the won "
                "stage turns the previous won stage into an open one. A stage of another "
                "pipeline is 404.",
                "tags": tags,
                "parameters": [pipeline_id, stage_id],
                "requestBody": _body("StageInput"),
                "responses": {
                    "200": _json("Pipeline", "The pipeline with the changed stage."),
                    **refused,
                    **COMMON_ERRORS,
                },
            },
            "delete": {
                "operationId": "delete_stage",
                "summary": "Delete a stage",
                "description": "The won stage and the last lost or open stage can not go. "
                "Its deals move to `move_to_stage_id` (another stage of this pipeline) and "
                "take that stage's kind as their status.",
                "tags": tags,
                "parameters": [pipeline_id, stage_id, move_to],
                "responses": {
                    "200": _json("Pipeline", "The pipeline without the stage."),
                    "400": refused["400"],
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/pipelines/{pipeline_id}/stages/reorder",
        operations={
            "post": {
                "operationId": "reorder_stages",
                "summary": "Reorder the stages",
                "tags": tags,
                "parameters": [pipeline_id],
                "requestBody": _body("StageOrder"),
                "responses": {
                    "200": _json("Pipeline", "The pipeline in its new order."),
                    "409": _error(
                        "The stages changed since `version` (someone else edited them): "
                        "nothing changed; `details.version` is the current one."
                    ),
                    **refused,
                    **COMMON_ERRORS,
                },
            }
        },
    )
