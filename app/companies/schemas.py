"""Marshmallow schemas for companies (API input and output).

The schemas check shapes and lengths; the rules that hold for every caller (domain
normalisation, sizes, owners, custom fields) are the services', so a form, an import
and the API refuse the same things.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_load, validate

from app.companies.models import COMPANY_SIZES
from app.contacts.schemas import TagList, Text, id_field

_SINGLE_LINE = ("name", "domain", "industry", "size", "phone")
_OPTIONAL = ("domain", "industry", "size", "address", "phone", "notes")


class CompanySchema(Schema):
    """A company as the API shows and accepts it."""

    id = fields.Integer(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    domain = Text(
        allow_none=True,
        validate=validate.Length(max=253),
        metadata={
            "description": "Host name; `https://www.Example.com/x` is kept as `example.com`."
        },
    )
    industry = Text(allow_none=True, validate=validate.Length(max=100))
    size = fields.String(allow_none=True, validate=validate.OneOf(COMPANY_SIZES))
    address = Text(allow_none=True, multiline=True, validate=validate.Length(max=20000))
    phone = Text(
        allow_none=True,
        validate=[
            validate.Length(max=40),
            validate.Regexp(r"^[0-9+()\-. /x]*$", error="Use digits, spaces and + ( ) - . only."),
        ],
    )
    notes = Text(allow_none=True, multiline=True, validate=validate.Length(max=20000))
    owner_id = id_field(allow_none=True, strict=True)
    tags = TagList()
    custom_fields = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": (
                "Values of custom fields by key (the keys and value shapes are at "
                "/api/v1/custom-fields). On PATCH only the keys given change; null "
                "removes a value."
            )
        },
    )
    contact_count = fields.Integer(
        dump_only=True, metadata={"description": "How many of its contacts you may see."}
    )
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    last_contacted_at = fields.DateTime(
        dump_only=True,
        allow_none=True,
        metadata={"description": "When the latest call, meeting or email took place; null: never."},
    )

    @pre_load
    def _normalise(self, data: Any, **_kw: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in _SINGLE_LINE:
            if isinstance(data.get(name), str):
                data[name] = data[name].strip()
        for name in _OPTIONAL:
            if isinstance(data.get(name), str) and not data[name].strip():
                data[name] = None
        return data


class CompanyContactsArgs(Schema):
    """Query parameters of a company's contact list."""

    sort = fields.String(load_default=None, validate=validate.Length(max=64))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))
