"""Marshmallow schemas for comments and the mention autocomplete (API input and output).

The schemas check what each value is (a string, its length, no control characters);
the services check what it means (mentions of active members who may see the card),
so that the card's form and the API refuse the same things.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.comments.services import MAX_BODY
from app.contacts.schemas import Text
from app.input_rules import MAX_BIGINT

MAX_MEMBER_RESULTS = 20
DEFAULT_MEMBER_RESULTS = 8


class CommentInputSchema(Schema):
    """Body of ``POST .../comments`` and ``PATCH /comments/<id>``."""

    body = Text(
        required=True,
        multiline=True,
        validate=validate.Length(min=1, max=MAX_BODY),
    )


class CommentListArgs(Schema):
    """Query parameters of a card's comment list (unknown parameters are refused)."""

    sort = fields.String(load_default=None, validate=validate.Length(max=64))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))


class PersonSchema(Schema):
    """A member as comments name them."""

    id = fields.Integer()
    name = fields.String()


class CommentSchema(Schema):
    """A comment as the API answers it."""

    id = fields.Integer()
    body = fields.String()
    author = fields.Nested(PersonSchema)
    contact_id = fields.Integer(allow_none=True)
    company_id = fields.Integer(allow_none=True)
    deal_id = fields.Integer(allow_none=True)
    mentions = fields.List(fields.Nested(PersonSchema))
    created_at = fields.DateTime()
    edited_at = fields.DateTime(allow_none=True)


def _card_id() -> fields.Integer:
    return fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_BIGINT, error="Not a valid id."),
    )


class MemberSearchArgs(Schema):
    """Query parameters of ``GET /members`` (the mention autocomplete)."""

    q = Text(load_default=None, validate=validate.Length(max=100))
    limit = fields.Integer(
        load_default=DEFAULT_MEMBER_RESULTS,
        validate=validate.Range(min=1, max=MAX_MEMBER_RESULTS),
    )
    contact_id = _card_id()
    company_id = _card_id()
    deal_id = _card_id()


class MemberChoiceSchema(Schema):
    """One member the autocomplete offers."""

    id = fields.Integer()
    name = fields.String()
    can_view = fields.Boolean(allow_none=True)
