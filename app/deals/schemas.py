"""Marshmallow schemas for deals: the API's input and list parameters.

The schemas check shape and types (so a client learns every malformed field at once);
the rules that depend on stored data or on the currency (stage in pipeline, decimals per
currency, visible contact, loss reason) are the services' (:mod:`app.deals.services`),
so that pages and the API refuse exactly the same things.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from app.contacts.schemas import Text
from app.deals.money import MoneyError, parse_amount
from app.input_rules import MAX_BIGINT

TEXT_FIELDS = ("title", "currency", "source", "lost_reason", "lost_to_competitor")
BLANK_IS_NULL = ("currency", "source", "notes", "lost_reason", "lost_to_competitor")


def _id_field(**kwargs: Any) -> fields.Integer:
    # Ids outside bigint can not exist and must not reach SQL.
    return fields.Integer(
        validate=validate.Range(min=1, max=MAX_BIGINT, error="Not a valid id."), **kwargs
    )


class Amount(fields.Field):
    """A non-negative amount: a decimal string ("1234.50") or a JSON number, loaded as
    an exact :class:`~decimal.Decimal`. Whether its decimals fit the currency is the
    service's check (it knows the currency)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            return parse_amount(value)
        except MoneyError as exc:
            raise ValidationError(exc.message) from exc


class DealInputSchema(Schema):
    """A deal as the API accepts it (POST; with ``partial=True`` for PATCH).

    Unknown and read-only fields are refused by name."""

    title = Text(required=True, validate=validate.Length(min=1, max=200))
    amount = Amount(allow_none=True)
    currency = Text(allow_none=True, validate=validate.Length(max=3))
    pipeline_id = _id_field(allow_none=True, strict=True)
    stage_id = _id_field(allow_none=True, strict=True)
    probability = fields.Integer(
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=100, error="Give a percentage from 0 to 100."),
    )
    expected_close_date = fields.Date(allow_none=True)
    owner_id = _id_field(allow_none=True, strict=True)
    contact_id = _id_field(allow_none=True, strict=True)
    company_id = _id_field(allow_none=True, strict=True)
    source = Text(allow_none=True, validate=validate.Length(max=100))
    notes = Text(allow_none=True, multiline=True, validate=validate.Length(max=20000))
    lost_reason = Text(allow_none=True, validate=validate.Length(max=200))
    lost_to_competitor = Text(allow_none=True, validate=validate.Length(max=200))
    won_amount = Amount(allow_none=True)
    # PATCH only (the create schema excludes it): the stage the client saw, so that a
    # move made from a stale board is refused (409) instead of applied.
    from_stage_id = _id_field(allow_none=True, strict=True)
    tags = fields.Raw(allow_none=True)
    # Values are checked against the definitions by the service (custom_fields.<key>).
    custom_fields = fields.Dict(keys=fields.String())

    @pre_load
    def _normalise(self, data: Any, **_kw: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in TEXT_FIELDS:
            if isinstance(data.get(name), str):
                data[name] = data[name].strip()
        for name in BLANK_IS_NULL:
            if isinstance(data.get(name), str) and not data[name].strip():
                data[name] = None
        for name in ("amount", "won_amount"):
            if isinstance(data.get(name), str) and not data[name].strip():
                data[name] = None
        return data
