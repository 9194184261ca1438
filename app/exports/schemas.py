"""Marshmallow schema of an export request (API input).

Shapes only: which records (entity, filter, segment) and whether the member may export
them are the services' to decide, so the pages and the API refuse the same things.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.contacts.schemas import id_field
from app.exports.models import EXPORT_ENTITIES, EXPORT_FORMATS


class ExportRequestSchema(Schema):
    """``{"entity", "format", "filter": {...}}`` or ``{"format", "segment_id"}``."""

    entity = fields.String(
        validate=validate.OneOf(EXPORT_ENTITIES),
        metadata={"description": "Which records; optional with a segment (it has one)."},
    )
    format = fields.String(required=True, validate=validate.OneOf(EXPORT_FORMATS))
    filter = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=100)),
        values=fields.Raw(allow_none=False),
        metadata={
            "description": "The list's filter parameters, as in the list's query string "
            '(e.g. `{"q": "acme", "owner_id": "me"}`); `sort`, `cursor` and `limit` '
            "are ignored. Omit it (or give `{}`) for every record you may export."
        },
    )
    segment_id = id_field(
        strict=True, metadata={"description": "Export a saved segment (instead of `filter`)."}
    )
