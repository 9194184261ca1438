"""REST API: custom field definitions (routes on the shared API blueprint).

Handlers stay thin: parse -> authorize -> fetch -> service -> serialize. Definitions are
workspace settings, not owned records: the role's ``custom_fields`` right decides
(anyone with "view" reads them, so that clients know the keys and shapes of values;
admins create, edit and delete them).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from app.api.views import _json_body, _load, _query_args, _require, bp, member
from app.custom_fields import services as custom_fields
from app.custom_fields.models import CustomFieldDefinition
from app.custom_fields.schemas import CustomFieldListArgs, CustomFieldSchema
from app.database import db
from app.errors import not_found

_one = CustomFieldSchema()
_many = CustomFieldSchema(many=True)
_update = CustomFieldSchema(partial=True)
_list_args = CustomFieldListArgs()


def _fetch(field_id: int) -> CustomFieldDefinition:
    definition = custom_fields.get_definition(db.session, field_id)
    if definition is None:
        raise not_found()
    return definition


def _dump(definition: CustomFieldDefinition) -> dict[str, Any]:
    payload: dict[str, Any] = _one.dump(definition)
    return payload


@bp.get("/custom-fields")
def list_custom_fields() -> Response:
    """Every custom field (or those of ``entity``), in display order. A workspace has a
    bounded number of fields, so the list is one page: ``next_cursor`` is always null."""
    _require("custom_fields", "view")
    args = _load(_list_args, _query_args())
    items = custom_fields.all_definitions(db.session, args["entity"])
    return jsonify({"items": _many.dump(items), "next_cursor": None})


@bp.post("/custom-fields")
def create_custom_field() -> tuple[Response, int, dict[str, str]]:
    """Add a custom field (counted against the plan's ``custom_fields`` limit)."""
    _require("custom_fields", "create")
    data = _load(_one, _json_body())
    definition = custom_fields.create_definition(db.session, member().actor, data)
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_custom_field", field_id=definition.id)
    return jsonify(_dump(definition)), 201, {"Location": location}


@bp.get("/custom-fields/<int:field_id>")
def get_custom_field(field_id: int) -> Response:
    """One custom field."""
    _require("custom_fields", "view")
    return jsonify(_dump(_fetch(field_id)))


@bp.patch("/custom-fields/<int:field_id>")
def update_custom_field(field_id: int) -> Response:
    """Change a field's label, required flag, options or position."""
    _require("custom_fields", "edit")
    definition = _fetch(field_id)
    data = _load(_update, _json_body())
    custom_fields.update_definition(db.session, member().actor, definition, data)
    return jsonify(_dump(definition))


@bp.delete("/custom-fields/<int:field_id>")
def delete_custom_field(field_id: int) -> tuple[str, int]:
    """Delete a field and its value on every record."""
    _require("custom_fields", "delete")
    definition = _fetch(field_id)
    custom_fields.delete_definition(db.session, member().actor, definition)
    return "", 204
