"""Forms of custom fields: the settings forms that define them, and the inputs that
record forms (contacts, companies, deals) get for them.

A record form gets one input per field, named ``custom_fields-<key>`` (a money field
also ``custom_fields-<key>-currency``): :func:`show_error` in app/web/forms.py puts a
service refusal on ``custom_fields.<key>`` onto that input. The inputs read what people
type with :func:`app.custom_fields.services.parse_text`, so that a form, an import and
a list filter read "1,234.5" or "12,50 EUR" alike; whether a value is required, and the
rest of the rules, are the services' (one place, every door).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from app.custom_fields.models import CUSTOM_FIELD_ENTITIES, CustomFieldDefinition
from app.custom_fields.services import (
    MAX_KEY_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_OPTION_LENGTH,
    MAX_OPTIONS,
    SELECT_TYPES,
    definitions,
    parse_text,
)
from app.database import db
from app.web.forms import PlainText, strip

F = TypeVar("F", bound=FlaskForm)
INPUT_PREFIX = "custom_fields-"
ENTITY_LABELS = {"contact": _l("Contacts"), "company": _l("Companies"), "deal": _l("Deals")}
TYPE_LABELS = {
    "text": _l("Text (one line)"),
    "long_text": _l("Long text"),
    "number": _l("Number"),
    "money": _l("Money"),
    "date": _l("Date"),
    "checkbox": _l("Checkbox"),
    "single_select": _l("Single select (a list)"),
    "multi_select": _l("Multi select (checkboxes)"),
    "url": _l("Web address"),
    "email": _l("Email"),
    "phone": _l("Phone"),
}


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _option_lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class DefinitionForm(FlaskForm):
    """Add a custom field."""

    entity = SelectField(
        _l("Record type"),
        choices=[SelectChoice(e, ENTITY_LABELS[e]) for e in CUSTOM_FIELD_ENTITIES],
    )
    label = StringField(
        _l("Label"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=MAX_LABEL_LENGTH)],
        render_kw={"autocomplete": "off"},
    )
    type = SelectField(
        _l("Type"), choices=[SelectChoice(kind, label) for kind, label in TYPE_LABELS.items()]
    )
    key = StringField(
        _l("Key (optional)"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=MAX_KEY_LENGTH),
            Regexp(
                r"^[a-z][a-z0-9_]*$",
                message=_l("Start with a lower-case letter; then a-z, 0-9 and _."),
            ),
        ],
        render_kw={"autocomplete": "off", "dir": "ltr", "spellcheck": "false"},
    )
    required = BooleanField(_l("Required: every new record needs a value"))
    options = TextAreaField(
        _l("Options"),
        filters=[strip],
        validators=[
            Optional(),
            PlainText(multiline=True),
            Length(max=MAX_OPTIONS * (MAX_OPTION_LENGTH + 2)),
        ],
        render_kw={"rows": 5},
    )

    def values(self) -> dict[str, Any]:
        """The definition service's input (options only for selects)."""
        return {
            "entity": self.entity.data,
            "label": self.label.data,
            "type": self.type.data,
            "key": self.key.data or None,
            "required": bool(self.required.data),
            "options": _option_lines(self.options.data) if self.type.data in SELECT_TYPES else None,
        }


class DefinitionEditForm(FlaskForm):
    """Change a custom field (its record type, key and type stay)."""

    label = DefinitionForm.label
    required = DefinitionForm.required
    options = DefinitionForm.options
    position = IntegerField(
        _l("Position"),
        validators=[Optional(), NumberRange(min=1, max=100_000)],
        render_kw={"inputmode": "numeric", "min": 1},
    )

    def __init__(self, *args: Any, obj: CustomFieldDefinition | None = None, **kwargs: Any) -> None:
        super().__init__(*args, obj=obj, **kwargs)
        if obj is not None and not self.is_submitted():
            self.options.data = "\n".join(obj.options)
            self.position.data = obj.position + 1

    def values(self, definition: CustomFieldDefinition) -> dict[str, Any]:
        """The definition service's input (people count positions from 1)."""
        data: dict[str, Any] = {"label": self.label.data, "required": bool(self.required.data)}
        if definition.type in SELECT_TYPES:
            data["options"] = _option_lines(self.options.data)
        # Only a position that was sent: without one in the post, WTForms keeps the
        # record's own (0-based) value, which must not be read as a 1-based answer.
        if self.position.raw_data and self.position.data is not None:
            data["position"] = self.position.data - 1
        return data


# --- inputs of record forms -------------------------------------------------------------


def input_name(definition: CustomFieldDefinition) -> str:
    """The form input of ``definition`` (where refusals on custom_fields.<key> land)."""
    return f"{INPUT_PREFIX}{definition.key}"


class _Readable:
    """The typed text must read as a value of the field (see parse_text)."""

    def __init__(self, definition: CustomFieldDefinition) -> None:
        self.definition = definition

    def __call__(self, form: FlaskForm, field: Field) -> None:
        try:
            parse_text(self.definition, field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class _ReadableAmount:
    """The amount, in the currency typed beside it, must be a valid amount."""

    def __init__(self, definition: CustomFieldDefinition) -> None:
        self.definition = definition

    def __call__(self, form: FlaskForm, field: Field) -> None:
        amount = (field.data or "").strip()
        currency = form[f"{field.name}-currency"].data or ""
        if amount and not currency:
            raise ValidationError(str(_l("Give the currency, e.g. EUR.")))
        if amount:
            try:
                parse_text(self.definition, f"{amount} {currency}")
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc


def _input(definition: CustomFieldDefinition) -> dict[str, Any]:
    """The unbound input(s) of ``definition``, by name."""
    name, label, kind = input_name(definition), definition.label, definition.type
    described = {"aria-required": "true"} if definition.required else {}
    readable = [_Readable(definition)]
    text_kw = {"filters": [strip], "validators": readable}
    if kind == "long_text":
        return {name: TextAreaField(label, **text_kw, render_kw={"rows": 3, **described})}
    if kind == "number":
        render = {"inputmode": "decimal", "dir": "ltr", "autocomplete": "off", **described}
        return {name: StringField(label, **text_kw, render_kw=render)}
    if kind == "money":
        render = {"inputmode": "decimal", "dir": "ltr", "autocomplete": "off", **described}
        currency_rules = [
            Optional(),
            Regexp(r"^[A-Z]{3}$", message=_l("Use a three-letter code such as EUR.")),
        ]
        return {
            name: StringField(
                label, filters=[strip], validators=[_ReadableAmount(definition)], render_kw=render
            ),
            f"{name}-currency": StringField(
                _l("Currency"),
                filters=[_upper],
                default="EUR",
                validators=currency_rules,
                render_kw={"maxlength": 3, "autocapitalize": "characters", "dir": "ltr"},
            ),
        }
    if kind == "date":
        return {name: DateField(label, validators=[Optional()], render_kw=described)}
    if kind == "checkbox":
        return {name: BooleanField(label)}
    if kind == "single_select":
        choices = [SelectChoice("", "—"), *(SelectChoice(option) for option in definition.options)]
        return {name: SelectField(label, choices=choices, default="", render_kw=described)}
    if kind == "multi_select":
        return {
            name: SelectMultipleField(
                label,
                choices=[SelectChoice(option) for option in definition.options],
                widget=ListWidget(prefix_label=False),
                option_widget=CheckboxInput(),
            )
        }
    render = {"autocomplete": "off", **described}
    if kind == "url":
        return {name: URLField(label, **text_kw, render_kw={**render, "dir": "ltr"})}
    if kind == "email":
        return {name: EmailField(label, **text_kw, render_kw={**render, "dir": "ltr"})}
    if kind == "phone":
        return {name: TelField(label, **text_kw, render_kw={**render, "dir": "ltr"})}
    return {name: StringField(label, **text_kw, render_kw=render)}


def _fill(form: FlaskForm, fields: list[CustomFieldDefinition], values: dict[str, Any]) -> None:
    """Show a record's stored values in its form (a value that does not fit its field,
    written some other way, is left out rather than failing the page)."""
    for definition in fields:
        value = values.get(definition.key)
        if value is None:
            continue
        field = form[input_name(definition)]
        kind = definition.type
        try:
            if kind == "number" and isinstance(value, (int, float)):
                field.data = format(Decimal(str(value)), "f")
            elif kind == "money":
                field.data = str(value["amount"])
                form[f"{input_name(definition)}-currency"].data = str(value["currency"])
            elif kind == "date":
                field.data = dt.date.fromisoformat(value)
            elif kind == "checkbox":
                field.data = value is True
            elif kind == "multi_select":
                field.data = [str(option) for option in value]
            elif isinstance(value, str):
                field.data = value
        except (TypeError, ValueError, KeyError):
            continue


def with_custom_fields(form_class: type[F], entity: str, **kwargs: Any) -> F:
    """An instance of ``form_class`` (a record form) with an input per custom field of
    ``entity``; with ``obj`` (a record) and no submission, showing its values."""
    fields = definitions(db.session, entity)
    attrs: dict[str, Any] = {"custom_definitions": tuple(fields)}
    for definition in fields:
        attrs.update(_input(definition))
    form = type(form_class.__name__, (form_class,), attrs)(**kwargs)
    record = kwargs.get("obj")
    if record is not None and not form.is_submitted():
        _fill(form, fields, dict(record.custom_fields or {}))
    return form


def custom_field_values(form: FlaskForm) -> dict[str, Any]:
    """``{"custom_fields": {key: value or None}}`` from a validated record form made by
    :func:`with_custom_fields` (nothing when the entity has no fields, so that the
    record's values stay as they are). An empty input removes the value."""
    fields: tuple[CustomFieldDefinition, ...] = getattr(form, "custom_definitions", ())
    if not fields:
        return {}
    values: dict[str, Any] = {}
    for definition in fields:
        field = form[input_name(definition)]
        kind = definition.type
        if kind == "checkbox":
            values[definition.key] = bool(field.data)
        elif kind == "date":
            values[definition.key] = field.data.isoformat() if field.data else None
        elif kind == "multi_select":
            values[definition.key] = list(field.data or [])
        elif kind == "money":
            amount = (field.data or "").strip()
            currency = form[f"{input_name(definition)}-currency"].data
            values[definition.key] = (
                parse_text(definition, f"{amount} {currency}") if amount else None
            )
        else:
            values[definition.key] = parse_text(definition, field.data or "")
    return {"custom_fields": values}
