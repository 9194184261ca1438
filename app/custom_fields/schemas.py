"""Marshmallow schemas for custom field definitions (API input and output).

They check shapes (so a client learns every malformed field at once); the rules that
hold for every caller (key form and uniqueness, options per type, what may change) are
the services' (:mod:`app.custom_fields.services`).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.contacts.schemas import Text
from app.custom_fields.models import CUSTOM_FIELD_ENTITIES, FIELD_TYPES
from app.custom_fields.services import MAX_KEY_LENGTH, MAX_LABEL_LENGTH, MAX_OPTIONS


class StrictBoolean(fields.Boolean):
    """true or false, nothing that merely looks like one ("yes", 1)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class CustomFieldSchema(Schema):
    """A custom field as the API shows and accepts it (PATCH: with ``partial=True``)."""

    id = fields.Integer(dump_only=True)
    entity = fields.String(
        required=True,
        validate=validate.OneOf(CUSTOM_FIELD_ENTITIES),
        metadata={"description": "The records that carry the field. Fixed once created."},
    )
    key = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=MAX_KEY_LENGTH),
        metadata={
            "description": (
                "The field's key in `custom_fields` of the records: a lower-case letter, "
                "then lower-case letters, digits and `_`. Unique per entity, fixed once "
                "created. Default: made from the label."
            )
        },
    )
    label = Text(required=True, validate=validate.Length(min=1, max=MAX_LABEL_LENGTH))
    type = fields.String(
        required=True,
        validate=validate.OneOf(FIELD_TYPES),
        metadata={"description": "How values are typed and checked. Fixed once created."},
    )
    required = StrictBoolean(
        metadata={"description": "New records must have a value; none can be removed."}
    )
    options = fields.List(
        fields.Raw(),
        allow_none=True,
        validate=validate.Length(max=MAX_OPTIONS),
        metadata={
            "description": (
                "The choices of a single or multi select, in display order (1 to "
                f"{MAX_OPTIONS}, distinct ignoring case, at most 100 characters each). "
                "Empty for other types."
            )
        },
    )
    position = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=100_000),
        metadata={"description": "Place among the entity's fields, 0 = first."},
    )
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class CustomFieldListArgs(Schema):
    """Query parameters of the custom field list (unknown parameters are refused)."""

    entity = fields.String(load_default=None, validate=validate.OneOf(CUSTOM_FIELD_ENTITIES))
