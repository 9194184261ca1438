"""Marshmallow schemas of the duplicates API: the finder's query and the merge body.

They check shapes only; what may be chosen for which field is the merge service's
rule (:func:`app.duplicates.services.merge_contacts`), so the form and the API refuse
the same things.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.contacts.schemas import id_field


class DuplicateListArgs(Schema):
    """Query parameters of a duplicates list (unknown parameters are refused)."""

    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))


class MergeSchema(Schema):
    """``POST .../<id>/merge``: the record merged into the one in the URL, and the
    value to take per field."""

    other_id = id_field(required=True, strict=True)
    # "fields" in JSON (a schema's own ``fields`` attribute holds its field objects).
    # Each choice is checked by the service, which answers per field
    # (``fields.<name>``): what may be chosen depends on the two records.
    choices = fields.Dict(data_key="fields", load_default=dict, validate=validate.Length(max=200))
