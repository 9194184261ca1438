"""Marshmallow schemas of segments and bulk edits (API input and output).

They check shapes (types, lengths, unknown keys); the rules (filter grammar, names,
owners, tags, scope) are the services', so a page and the API refuse the same things.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.contacts.schemas import Text, id_field
from app.lists.models import BULK_ACTIONS, LIST_ENTITIES

FILTERS_DESCRIPTION = (
    "The list's filters as an object of query-string parameter -> text, e.g. "
    '`{"owner_id": "me", "tag_any": "vip,hot", "not_contacted_days": "30", '
    '"cf.region": "North"}` (the grammar of the list endpoints; `sort`, `cursor` and '
    "`limit` are not filters)."
)


def filter_field(**kwargs: Any) -> fields.Raw:
    """A filter object. Checked by the services (app.lists.services.clean_filters), so
    that a bad parameter is refused as ``filters.<parameter>`` like every other one."""
    return fields.Raw(metadata={"type": "object", "description": FILTERS_DESCRIPTION}, **kwargs)


class SegmentSchema(Schema):
    """A segment as the API shows it (and, for the writable fields, accepts it)."""

    id = fields.Integer(dump_only=True)
    entity = fields.String(required=True, validate=validate.OneOf(LIST_ENTITIES))
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    filters = filter_field(load_default=dict)
    sort = fields.String(
        allow_none=True,
        validate=validate.Length(max=64),
        metadata={"description": "The list's order, e.g. `-created_at` or `cf.score`."},
    )
    shared = fields.Boolean(
        load_default=False,
        metadata={"description": "Visible to every member who may view these records."},
    )
    owner_id = fields.Integer(dump_only=True)
    editable = fields.Boolean(
        dump_only=True, metadata={"description": "Whether you may change or delete it."}
    )
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class SegmentUpdateSchema(SegmentSchema):
    """PATCH body: any of name, filters, sort and shared (use with ``partial=True``)."""


class SegmentListArgs(Schema):
    """Query parameters of the segment list."""

    entity = fields.String(load_default=None, validate=validate.OneOf(LIST_ENTITIES))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))


class SegmentItemsArgs(Schema):
    """Query parameters of a segment's records."""

    sort = fields.String(load_default=None, validate=validate.Length(max=64))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))


class BulkEditSchema(Schema):
    """A bulk edit request: the action, its parameter and the selection."""

    action = fields.String(required=True, validate=validate.OneOf(BULK_ACTIONS))
    # Checked by the service (one message for the list, not one per bad element).
    ids = fields.Raw(
        allow_none=True,
        metadata={
            "type": "array",
            "items": {"type": "integer", "format": "int64", "minimum": 1},
            "description": "Record ids (those you may not see are ignored).",
        },
    )
    filter = filter_field(allow_none=True)
    segment_id = id_field(allow_none=True, strict=True)
    owner_id = id_field(allow_none=True, strict=True)
    tag = Text(allow_none=True, validate=validate.Length(max=50))
