"""Marshmallow schemas for contacts (API input and output)."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from app.input_rules import CONTROL_EXCEPT_LINE_BREAKS, MAX_BIGINT, UNSTORABLE
from app.tags import MAX_TAG_LENGTH, MAX_TAGS, TagError, clean_tags

# PostgreSQL bigint: ids and user ids outside it can not exist, and must not reach SQL.

IDENTITY_FIELDS = ("first_name", "last_name", "email")
IDENTITY_MESSAGE = "Give at least a first name, a last name or an email."

_LINE_BREAK = re.compile(r"[\r\n\t]")


class Text(fields.String):
    """A string that PostgreSQL can store: no NUL, no lone surrogates, no control
    characters, and no line breaks unless ``multiline``."""

    default_error_messages = {  # noqa: RUF012 (marshmallow merges this per class)
        "characters": "Contains characters that are not allowed.",
        "multiline": "Must be a single line.",
    }

    def __init__(self, *args: Any, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.multiline = multiline

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if UNSTORABLE.search(text) or CONTROL_EXCEPT_LINE_BREAKS.search(text):
            raise self.make_error("characters")
        if not self.multiline and _LINE_BREAK.search(text):
            raise self.make_error("multiline")
        return text


class SafeEmail(fields.Email):
    """An email address (validated), refusing characters PostgreSQL can not store."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and (
            UNSTORABLE.search(value) or CONTROL_EXCEPT_LINE_BREAKS.search(value)
        ):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class TagList(fields.List):
    """Tags as a JSON array of strings, cleaned by :func:`app.tags.clean_tags` (the
    services apply the same rule again for callers that skip the schema)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            fields.String(validate=validate.Length(max=MAX_TAG_LENGTH)),
            validate=validate.Length(max=MAX_TAGS),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.make_error("invalid")
        try:
            return clean_tags(value)
        except TagError as exc:
            raise ValidationError(exc.message) from exc


class CompanyRef(Schema):
    """The company a record belongs to, as lists and cards show it."""

    id = fields.Integer()
    name = fields.String()


def id_field(**kwargs: Any) -> fields.Integer:
    """An id (or user id) field: a bigint of at least 1."""
    return fields.Integer(
        validate=validate.Range(min=1, max=MAX_BIGINT, error="Not a valid id."), **kwargs
    )


_id_field = id_field


class ContactSchema(Schema):
    """A contact as the API shows and accepts it."""

    id = fields.Integer(dump_only=True)
    first_name = Text(validate=validate.Length(max=100), load_default="")
    last_name = Text(validate=validate.Length(max=100), load_default="")
    email = SafeEmail(allow_none=True, validate=validate.Length(max=254))
    phone = Text(
        allow_none=True,
        validate=[
            validate.Length(max=40),
            validate.Regexp(r"^[0-9+()\-. /x]*$", error="Use digits, spaces and + ( ) - . only."),
        ],
    )
    title = Text(allow_none=True, validate=validate.Length(max=150))
    company_name = Text(allow_none=True, validate=validate.Length(max=200))
    company_id = _id_field(allow_none=True, strict=True)
    company = fields.Nested(
        CompanyRef,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The linked company, when you may see it; else null."},
    )
    source = Text(allow_none=True, validate=validate.Length(max=100))
    birthday = fields.Date(allow_none=True)
    tags = TagList()
    notes = Text(allow_none=True, multiline=True, validate=validate.Length(max=20000))
    owner_id = _id_field(allow_none=True, strict=True)
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
        for name in (
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "company_name",
            "source",
        ):
            if isinstance(data.get(name), str):
                data[name] = data[name].strip()
        for name in ("email", "phone", "title", "company_name", "source", "notes", "birthday"):
            if isinstance(data.get(name), str) and not data[name].strip():
                data[name] = None
        for name in ("first_name", "last_name"):
            if name in data and data[name] is None:
                data[name] = ""
        if isinstance(data.get("email"), str):
            data["email"] = data["email"].lower()
        return data

    @validates_schema
    def _has_identity(self, data: dict[str, Any], partial: Any = None, **_kw: Any) -> None:
        if partial:
            return  # a PATCH is checked against the stored contact by the service
        if not any(data.get(name) for name in IDENTITY_FIELDS):
            raise ValidationError(IDENTITY_MESSAGE, field_name="first_name")


class ContactUpdateSchema(ContactSchema):
    """PATCH body: any subset of the fields, but what is given must be valid.

    Use with ``partial=True``; whether the contact keeps a name or an email is checked
    against the stored values by :func:`app.contacts.services.update_contact`.
    """
