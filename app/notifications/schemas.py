"""Marshmallow schemas for notifications (API query parameters and output)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class NotificationListArgs(Schema):
    """Query parameters of ``GET /notifications`` (unknown parameters are refused)."""

    unread = fields.Boolean(load_default=False, truthy={"true", "1"}, falsy={"false", "0"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))


class NotificationSchema(Schema):
    """A notification as the API answers it."""

    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    url = fields.String(allow_none=True)
    data = fields.Dict()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    read = fields.Boolean()
