"""Marshmallow schemas for contacts (API input and output)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema


def _blank_to_none(data: Any, fields_: tuple[str, ...]) -> Any:
    if isinstance(data, dict):
        data = dict(data)
        for name in fields_:
            if isinstance(data.get(name), str) and not data[name].strip():
                data[name] = None
    return data


class ContactSchema(Schema):
    """A contact as the API shows and accepts it."""

    id = fields.Integer(dump_only=True)
    first_name = fields.String(validate=validate.Length(max=100), load_default=None)
    last_name = fields.String(validate=validate.Length(max=100), load_default=None)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(
        allow_none=True,
        validate=[
            validate.Length(max=40),
            validate.Regexp(r"^[0-9+()\-. /x]*$", error="Use digits, spaces and + ( ) - . only."),
        ],
    )
    title = fields.String(allow_none=True, validate=validate.Length(max=150))
    company_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    notes = fields.String(allow_none=True, validate=validate.Length(max=20000))
    owner_id = fields.Integer(allow_none=True, strict=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @pre_load
    def _normalise(self, data: Any, **_kw: Any) -> Any:
        data = _blank_to_none(data, ("email", "phone", "title", "company_name", "notes"))
        if isinstance(data, dict):
            for name in ("first_name", "last_name"):
                if data.get(name) is None and name in data:
                    data[name] = ""
                if isinstance(data.get(name), str):
                    data[name] = data[name].strip()
            if isinstance(data.get("email"), str):
                data["email"] = data["email"].strip().lower()
        return data

    @validates_schema
    def _has_identity(self, data: dict[str, Any], partial: Any = None, **_kw: Any) -> None:
        if partial:
            return
        if not (data.get("first_name") or data.get("last_name") or data.get("email")):
            raise ValidationError(
                "Give at least a first name, a last name or an email.", field_name="first_name"
            )


class ContactUpdateSchema(ContactSchema):
    """PATCH body: any subset of the fields, but what is given must be valid."""

    @validates_schema
    def _not_empty_identity(self, data: dict[str, Any], **_kw: Any) -> None:
        for name in ("first_name", "last_name"):
            if name in data and data[name] is None:
                data[name] = ""


class ContactListArgs(Schema):
    """Query parameters of the contact list."""

    q = fields.String(load_default=None, validate=validate.Length(max=200))
    owner_id = fields.Integer(load_default=None)
    email = fields.String(load_default=None, validate=validate.Length(max=254))
    sort = fields.String(load_default="-created_at")
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.String(load_default=None)
