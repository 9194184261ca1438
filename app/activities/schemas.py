"""Marshmallow schemas for activities and timelines (API input and output).

The schemas check what each value is (types, lengths, aware datetimes); the services
check what the values mean together (a note has no direction, a meeting ends after it
starts, linked records are visible), so the pages and the API refuse the same things.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.activities.models import ACTIVITY_TYPES, PRIORITIES
from app.activities.services import (
    DIRECTIONS,
    MAX_ATTENDEE,
    MAX_ATTENDEES,
    MAX_BODY,
    MAX_DURATION,
    MAX_LOCATION,
    MAX_OUTCOME,
    MAX_SUBJECT,
)
from app.contacts.schemas import Text
from app.input_rules import MAX_BIGINT


def _id(**kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=MAX_BIGINT, error="Not a valid id."),
        **kwargs,
    )


def _time(**kwargs: Any) -> fields.AwareDateTime:
    return fields.AwareDateTime(
        format="iso",
        error_messages={
            "invalid": "Give an ISO 8601 date and time with a time zone.",
            "invalid_awareness": "Give an ISO 8601 date and time with a time zone.",
        },
        **kwargs,
    )


class ActivitySchema(Schema):
    """An activity as the API shows and accepts it."""

    id = fields.Integer(dump_only=True)
    type = fields.String(required=True, validate=validate.OneOf(ACTIVITY_TYPES))
    subject = Text(validate=validate.Length(max=MAX_SUBJECT), allow_none=True)
    body = Text(multiline=True, allow_none=True, validate=validate.Length(max=MAX_BODY))
    occurred_at = _time(allow_none=True)
    ends_at = _time(allow_none=True)
    location = Text(allow_none=True, validate=validate.Length(max=MAX_LOCATION))
    attendees = fields.List(
        Text(validate=validate.Length(min=1, max=MAX_ATTENDEE)),
        allow_none=True,
        validate=validate.Length(max=MAX_ATTENDEES),
    )
    direction = fields.String(allow_none=True, validate=validate.OneOf(DIRECTIONS))
    duration_seconds = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=MAX_DURATION)
    )
    outcome = Text(allow_none=True, validate=validate.Length(max=MAX_OUTCOME))
    due_at = _time(allow_none=True)
    priority = fields.String(allow_none=True, validate=validate.OneOf(PRIORITIES))
    done = fields.Boolean(truthy={True}, falsy={False})
    done_at = fields.DateTime(dump_only=True)
    result_note = Text(multiline=True, allow_none=True, validate=validate.Length(max=MAX_BODY))
    remind_at = _time(allow_none=True)
    reminded_at = fields.DateTime(dump_only=True)
    contact_id = _id(allow_none=True)
    company_id = _id(allow_none=True)
    deal_id = _id(allow_none=True)
    assignee_id = _id(allow_none=True)
    owner_id = fields.Integer(dump_only=True)
    created_by_id = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ActivityUpdateSchema(ActivitySchema):
    """PATCH body: any subset of the fields (use with ``partial=True``)."""


class CompleteTaskSchema(Schema):
    """Body of ``POST /activities/<id>/complete`` (may be empty)."""

    result_note = Text(multiline=True, allow_none=True, validate=validate.Length(max=MAX_BODY))


class ActivityListArgs(Schema):
    """Query parameters of the activity list (unknown parameters are refused)."""

    type = fields.String(load_default=None, validate=validate.OneOf(ACTIVITY_TYPES))
    contact_id = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=MAX_BIGINT, error="Not a valid id.")
    )
    company_id = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=MAX_BIGINT, error="Not a valid id.")
    )
    deal_id = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=MAX_BIGINT, error="Not a valid id.")
    )
    assignee_id = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=MAX_BIGINT, error="Not a valid id.")
    )
    done = fields.Boolean(load_default=None, truthy={"true", "1"}, falsy={"false", "0"})
    due_before = _time(load_default=None)
    due_after = _time(load_default=None)
    sort = fields.String(load_default=None, validate=validate.Length(max=64))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))


class TimelineArgs(Schema):
    """Query parameters of a card's timeline."""

    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))


class TimelineActorSchema(Schema):
    """Who did it."""

    id = fields.Integer()
    name = fields.String()


class TimelineEventSchema(Schema):
    """One event of a card's history."""

    id = fields.Integer()
    kind = fields.String()
    occurred_at = fields.DateTime()
    actor = fields.Nested(TimelineActorSchema, allow_none=True)
    entity = fields.String()
    entity_id = fields.Integer(allow_none=True)
    activity_id = fields.Integer(allow_none=True)
    data = fields.Dict()
