"""Marshmallow schemas for loss reasons (API input and output).

Shapes and types only; uniqueness and positions are the service's rules
(:mod:`app.board.loss_reasons`), so that pages and the API refuse the same things.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_load, validate

from app.board.models import LOSS_REASON_NAME_MAX
from app.contacts.schemas import Text


class LossReasonSchema(Schema):
    """A loss reason as the API shows it."""

    id = fields.Integer()
    name = fields.String()
    position = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()


class LossReasonInputSchema(Schema):
    """A loss reason as the API accepts it (POST; ``partial=True`` for PATCH). Unknown
    fields are refused by name."""

    name = Text(required=True, validate=validate.Length(min=1, max=LOSS_REASON_NAME_MAX))
    # JSON true/false only (not "yes" or 1).
    active = fields.Boolean(truthy={True}, falsy={False})
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=32767))

    @pre_load
    def _strip(self, data: Any, **_kw: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            data = {**data, "name": data["name"].strip()}
        return data


class LossReasonListArgs(Schema):
    """``?active=true`` lists only the reasons offered when a deal is lost."""

    active = fields.Boolean()
