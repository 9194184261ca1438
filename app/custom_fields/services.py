"""Custom fields: their definitions (these services are the only writers of them), the
values records carry, and the SQL that filters and sorts by them.

Values are checked here and nowhere else, so that every door (pages, API, imports)
refuses the same things: :func:`clean_values` is called by the contact, company and
deal services on every write, :func:`parse_text` reads what people type (form inputs,
spreadsheet cells, query-string filters) into the same JSON shapes, and
:func:`display_value` shows them. The shapes are listed in
:mod:`app.custom_fields.models`.

Definition changes that touch values run in the same transaction as the change:
deleting a field removes its key from every record of its entity, and removing an
option of a select removes that option from every record holding it (a record whose
only choice it was loses the value). Nothing is left pointing at a field or an option
that no longer exists, so filters, exports and forms never meet a value they can not
read. Changing an option's letter case only (``gold`` -> ``Gold``) renames it on the
records instead.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from babel.dates import format_date
from babel.numbers import format_decimal
from flask import has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from marshmallow import ValidationError
from marshmallow.validate import Email
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Integer,
    Numeric,
    Text,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import scoped_session

from app.access.policy import Actor
from app.audit.services import record
from app.companies.models import Company
from app.contacts.models import Contact
from app.custom_fields.models import CUSTOM_FIELD_ENTITIES, FIELD_TYPES, CustomFieldDefinition
from app.database import DbSession
from app.deals import money
from app.deals.models import Deal
from app.errors import InvalidInput
from app.input_rules import CONTROL_ANY, CONTROL_EXCEPT_LINE_BREAKS, MAX_BIGINT, UNSTORABLE
from billing import limits

# The record class of each entity (its ``custom_fields`` column holds the values).
ENTITY_MODELS: dict[str, Any] = {"contact": Contact, "company": Company, "deal": Deal}
ENTITY_PLURALS = {"contact": "contacts", "company": "companies", "deal": "deals"}
SELECT_TYPES = ("single_select", "multi_select")

KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_KEY_LENGTH = 40
MAX_LABEL_LENGTH = 100
MAX_OPTIONS = 200
MAX_OPTION_LENGTH = 100
MAX_TEXT_LENGTH = 500
MAX_LONG_TEXT_LENGTH = 20_000
MAX_URL_LENGTH = 2_000
MAX_EMAIL_LENGTH = 254
MAX_PHONE_LENGTH = 40
# Numbers beyond this are typing mistakes; the bound also keeps every number exact in a
# double and comfortably inside PostgreSQL's numeric.
MAX_NUMBER = 10**15
EARLIEST_YEAR = 1900
LATEST_YEAR = 2200
# Whatever the plan allows, a form with more inputs than this is not usable.
MAX_PER_ENTITY = 500
# The rule of contacts' and companies' phone numbers (app/contacts/schemas.py).
PHONE_PATTERN = re.compile(r"[0-9+()\-. /x]*")
REQUIRED_MESSAGE = "This field is required."
_EMAIL = Email()
_CACHE_KEY = "crm_custom_field_definitions"


# --- definitions: reads -------------------------------------------------------------


def _check_entity(entity: str) -> None:
    if entity not in CUSTOM_FIELD_ENTITIES:
        raise ValueError(f"unknown custom field entity {entity!r}")


def definitions(session: DbSession, entity: str) -> list[CustomFieldDefinition]:
    """The fields of ``entity`` in display order (position, then id).

    Read once per transaction: an import checks thousands of rows against the same
    definitions, and a page renders them several times. A commit (or a definition
    written through these services) forgets them, so nobody reads a stale list across
    transactions.
    """
    _check_entity(entity)
    cache: tuple[Any, dict[str, tuple[CustomFieldDefinition, ...]]] | None
    cache = session.info.get(_CACHE_KEY)
    if cache is not None and cache[0] is _transaction(session) and entity in cache[1]:
        return list(cache[1][entity])
    stmt = (
        select(CustomFieldDefinition)
        .where(CustomFieldDefinition.entity == entity)
        .order_by(CustomFieldDefinition.position, CustomFieldDefinition.id)
    )
    rows = list(session.scalars(stmt))
    transaction = _transaction(session)  # the query began one if none was open
    if cache is None or cache[0] is not transaction:
        cache = (transaction, {})
        session.info[_CACHE_KEY] = cache
    cache[1][entity] = tuple(rows)
    return rows


def _transaction(session: DbSession) -> Any:
    """The session's current transaction (None between transactions)."""
    real = session() if isinstance(session, scoped_session) else session
    return real.get_transaction()


def _forget(session: DbSession) -> None:
    session.info.pop(_CACHE_KEY, None)


def all_definitions(session: DbSession, entity: str | None = None) -> list[CustomFieldDefinition]:
    """Every field (contacts', then companies', then deals'), or those of ``entity``."""
    entities = (entity,) if entity is not None else CUSTOM_FIELD_ENTITIES
    return [d for name in entities for d in definitions(session, name)]


def get_definition(session: DbSession, definition_id: int) -> CustomFieldDefinition | None:
    """The field with this id in the bound workspace, or None (ids outside bigint can
    not exist and never reach SQL)."""
    if isinstance(definition_id, bool) or not 1 <= definition_id <= MAX_BIGINT:
        return None
    return session.get(CustomFieldDefinition, definition_id)


def count_values(session: DbSession, definition: CustomFieldDefinition) -> int:
    """How many records hold a value of ``definition`` (what deleting it would clear)."""
    model = ENTITY_MODELS[definition.entity]
    stmt = select(func.count()).where(model.custom_fields.has_key(definition.key))
    return int(session.scalar(stmt) or 0)


def option_counts(session: DbSession, definition: CustomFieldDefinition) -> dict[str, int]:
    """For a select: how many records hold each option (what removing it would clear)."""
    if definition.type not in SELECT_TYPES:
        return {}
    table = ENTITY_MODELS[definition.entity].__tablename__
    if definition.type == "single_select":
        sql = f"""
            SELECT custom_fields ->> CAST(:key AS text), count(*) FROM {table}
            WHERE jsonb_typeof(custom_fields -> CAST(:key AS text)) = 'string'
            GROUP BY 1
        """
    else:
        # The CASE keeps jsonb_array_elements_text away from anything but an array.
        sql = f"""
            SELECT e.value, count(*) FROM {table},
              jsonb_array_elements_text(CASE
                WHEN jsonb_typeof(custom_fields -> CAST(:key AS text)) = 'array'
                THEN custom_fields -> CAST(:key AS text) ELSE '[]'::jsonb END) AS e(value)
            GROUP BY 1
        """
    rows = session.execute(text(sql), {"key": definition.key})
    return {str(option): int(n) for option, n in rows}


# --- values: checking what is written -------------------------------------------------


def _text(value: Any, limit: int, *, multiline: bool = False) -> str | None:
    if not isinstance(value, str):
        raise ValueError("Give text.")
    cleaned = value.strip()
    if not cleaned:
        return None
    if not multiline and ("\n" in cleaned or "\r" in cleaned):
        raise ValueError("Must be a single line.")
    control = CONTROL_EXCEPT_LINE_BREAKS if multiline else CONTROL_ANY
    if UNSTORABLE.search(cleaned) or control.search(cleaned):
        raise ValueError("Contains characters that are not allowed.")
    if len(cleaned) > limit:
        raise ValueError(f"At most {limit} characters.")
    return cleaned


def _check_text(definition: CustomFieldDefinition, value: Any) -> Any:
    return _text(value, MAX_TEXT_LENGTH)


def _check_long_text(definition: CustomFieldDefinition, value: Any) -> Any:
    return _text(value, MAX_LONG_TEXT_LENGTH, multiline=True)


def _check_number(definition: CustomFieldDefinition, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError("Give a number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Give a finite number.")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("Give a finite number.")
    if not -MAX_NUMBER <= value <= MAX_NUMBER:
        raise ValueError("The number is too large (at most 10^15).")
    if isinstance(value, int):
        return value
    # Whole numbers are stored as integers: 3.0 and 3 are the same value.
    if value == int(value):
        return int(value)
    return float(value)


def _check_money(definition: CustomFieldDefinition, value: Any) -> Any:
    if not isinstance(value, dict) or not set(value) <= {"amount", "currency"}:
        raise ValueError('Give {"amount": "12.50", "currency": "EUR"}.')
    if value.get("amount") in (None, ""):
        raise ValueError("Give the amount.")
    if value.get("currency") in (None, ""):
        raise ValueError("Give the currency, e.g. EUR.")
    currency = money.normalize_currency(value["currency"])  # MoneyError is a ValueError
    minor = money.to_minor(value["amount"], currency)
    return {"amount": money.amount_text(minor, currency), "currency": currency}


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _check_date(definition: CustomFieldDefinition, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        raise ValueError("Give a date as YYYY-MM-DD.")
    if isinstance(value, dt.date):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError("Not a valid date.") from exc
    else:
        raise ValueError("Give a date as YYYY-MM-DD.")
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise ValueError(f"Give a date between {EARLIEST_YEAR} and {LATEST_YEAR}.")
    return day.isoformat()


def _check_checkbox(definition: CustomFieldDefinition, value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("Give true or false.")
    return value


def _option_of(definition: CustomFieldDefinition, value: Any) -> str:
    """The option ``value`` names (ignoring case and surrounding spaces), spelled as
    the definition spells it."""
    if not isinstance(value, str):
        raise ValueError("Give an option as text.")
    wanted = value.strip().casefold()
    for option in definition.options:
        if option.casefold() == wanted:
            return str(option)
    shown = ", ".join(definition.options[:20])
    more = ", …" if len(definition.options) > 20 else ""
    raise ValueError(f"Choose one of: {shown}{more}.")


def _check_single_select(definition: CustomFieldDefinition, value: Any) -> Any:
    return _option_of(definition, value)


def _check_multi_select(definition: CustomFieldDefinition, value: Any) -> Any:
    if not isinstance(value, list):
        raise ValueError("Give a list of options.")
    chosen = {_option_of(definition, item) for item in value}
    # Stored in the definition's order, so that equal choices are equal values.
    return [option for option in definition.options if option in chosen] or None


def _check_url(definition: CustomFieldDefinition, value: Any) -> Any:
    url = _text(value, MAX_URL_LENGTH)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError("Give a web address starting with http:// or https://.") from exc
    if parts.scheme.lower() not in ("http", "https") or not host or " " in url:
        raise ValueError("Give a web address starting with http:// or https://.")
    return url


def _check_email(definition: CustomFieldDefinition, value: Any) -> Any:
    address = _text(value, MAX_EMAIL_LENGTH)
    if address is None:
        return None
    try:
        _EMAIL(address)
    except ValidationError as exc:
        raise ValueError("Not a valid email address.") from exc
    return address.lower()


def _check_phone(definition: CustomFieldDefinition, value: Any) -> Any:
    phone = _text(value, MAX_PHONE_LENGTH)
    if phone is not None and not PHONE_PATTERN.fullmatch(phone):
        raise ValueError("Use digits, spaces and + ( ) - . only.")
    return phone


_CHECKS: dict[str, Callable[[CustomFieldDefinition, Any], Any]] = {
    "text": _check_text,
    "long_text": _check_long_text,
    "number": _check_number,
    "money": _check_money,
    "date": _check_date,
    "checkbox": _check_checkbox,
    "single_select": _check_single_select,
    "multi_select": _check_multi_select,
    "url": _check_url,
    "email": _check_email,
    "phone": _check_phone,
}


def check_value(definition: CustomFieldDefinition, value: Any) -> Any:
    """``value`` (JSON as a client sends it) in its stored form, or None for "no value"
    (null, blank text, an empty choice); raises ``ValueError(message)`` when it does not
    fit the field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _CHECKS[definition.type](definition, value)


def clean_values(
    session: DbSession, entity: str, values: object, *, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``custom_fields`` of a record after a write, checked and normalised.

    ``current=None`` is a new record: every required field must get a value. Otherwise
    ``values`` is a partial update of ``current``: keys not named keep their values, a
    null (or blank) value removes the key, and a required field can not be removed.
    ``values=None`` names nothing. Unknown keys are refused, and so are values that do
    not fit their field; one :class:`InvalidInput` names every problem, keyed
    ``custom_fields.<key>`` (``custom_fields`` for a body that is not an object).
    Keys of ``current`` whose field no longer exists are dropped.
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise InvalidInput({"custom_fields": ["Give the custom fields as an object by key."]})
    defined = {d.key: d for d in definitions(session, entity)}
    result = {key: value for key, value in (current or {}).items() if key in defined}
    errors: dict[str, list[str]] = {}
    for key, raw in values.items():
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            errors["custom_fields"] = ["Keys are lower-case letters, digits and _, e.g. tier."]
            continue
        field = f"custom_fields.{key}"
        definition = defined.get(key)
        if definition is None:
            errors[field] = [f"No such custom field for {ENTITY_PLURALS[entity]}."]
            continue
        try:
            value = check_value(definition, raw)
        except ValueError as exc:
            errors[field] = [str(exc)]
            continue
        if value is not None:
            result[key] = value
        elif definition.required:
            errors[field] = [REQUIRED_MESSAGE]
        else:
            result.pop(key, None)
    if current is None:
        for definition in defined.values():
            field = f"custom_fields.{definition.key}"
            if definition.required and definition.key not in result and field not in errors:
                errors[field] = [REQUIRED_MESSAGE]
    if errors:
        raise InvalidInput(errors)
    return result


def value_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, list[Any]]:
    """``{"custom_fields.<key>": [old, new]}`` for every key whose value differs: what
    audit entries and timelines record (one line per field, like built-in fields)."""
    old, new = dict(before or {}), dict(after or {})
    return {
        f"custom_fields.{key}": [old.get(key), new.get(key)]
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    }


def split_changes(changes: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """``changes`` (field -> [old, new]) with a ``custom_fields`` entry replaced by one
    entry per custom field that changed."""
    result = {name: pair for name, pair in changes.items() if name != "custom_fields"}
    if "custom_fields" in changes:
        old, new = changes["custom_fields"]
        result.update(value_changes(old, new))
    return result


# --- values: reading what people type ---------------------------------------------------

_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'_")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_COMMA_GROUPS = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+")
_DOT_GROUPS = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+")
_ONE_COMMA_GROUP = re.compile(r"[+-]?[1-9][0-9]{0,2},[0-9]{3}")


def _read_decimal(raw: str) -> Decimal:
    """A number as people write it: "1234.5", "1,234.5", "1.234,5", "1 234,5", "-3".

    With both separators the later one is the decimal point. A lone comma is a decimal
    comma ("12,5") unless it groups thousands ("1,234" is 1234); a lone dot is always a
    decimal point ("1.234" is 1.234), several group thousands ("1.234.567").
    """
    number = raw.strip().replace("\u2212", "-").translate(_SPACES)
    if len(number) > 40:
        raise ValueError("Not a number.")
    if "," in number and "." in number:
        if number.rfind(",") > number.rfind("."):
            number = number.replace(".", "").replace(",", ".")
        else:
            number = number.replace(",", "")
    elif number.count(",") > 1 or _ONE_COMMA_GROUP.fullmatch(number):
        if not _COMMA_GROUPS.fullmatch(number):
            raise ValueError("Not a number.")
        number = number.replace(",", "")
    elif "," in number:
        number = number.replace(",", ".")
    elif number.count(".") > 1:
        if not _DOT_GROUPS.fullmatch(number):
            raise ValueError("Not a number.")
        number = number.replace(".", "")
    if not _PLAIN_NUMBER.fullmatch(number):
        raise ValueError("Not a number.")
    try:
        return Decimal(number)
    except InvalidOperation as exc:  # the pattern makes this unreachable; stay safe
        raise ValueError("Not a number.") from exc


def _read_number(definition: CustomFieldDefinition, raw: str) -> Any:
    number = _read_decimal(raw)
    return int(number) if number == number.to_integral_value() else float(number)


_CURRENCY_SIGNS = {"€": "EUR", "£": "GBP"}
_MONEY_TEXT = re.compile(
    r"(?:(?P<before>[A-Za-z]{3}|[€£])\s*)?"
    r"(?P<amount>[^A-Za-z€£]+?)"
    r"(?:\s*(?P<after>[A-Za-z]{3}|[€£]))?"
)


def _read_money(definition: CustomFieldDefinition, raw: str) -> Any:
    """ "12.50 EUR", "EUR 12.50", "€12,50", "1,200 GBP": an amount and its currency."""
    match = _MONEY_TEXT.fullmatch(raw.strip())
    if match is None or (match["before"] and match["after"]):
        raise ValueError("Give an amount and its currency, e.g. 12.50 EUR.")
    code = match["before"] or match["after"]
    if not code:
        raise ValueError("Add the currency, e.g. 12.50 EUR.")
    amount = _read_decimal(match["amount"])
    return {"amount": format(amount, "f"), "currency": _CURRENCY_SIGNS.get(code, code.upper())}


_DOTTED_DATE = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")
_SLASHED_ISO = re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})")
_ISO_WITH_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ][0-9:.+\-Z]*)?")


def _read_date(definition: CustomFieldDefinition, raw: str) -> Any:
    """ISO dates ("2024-05-17", also with a time or with slashes) and day.month.year
    ("17.05.2024"). Day/month order with slashes is ambiguous and refused."""
    text_ = raw.strip()
    if match := _ISO_WITH_TIME.fullmatch(text_):
        return match[1]
    if match := _SLASHED_ISO.fullmatch(text_):
        return f"{match[1]}-{match[2]}-{match[3]}"
    if match := _DOTTED_DATE.fullmatch(text_):
        try:
            return dt.date(int(match[3]), int(match[2]), int(match[1])).isoformat()
        except ValueError as exc:
            raise ValueError("Not a valid date.") from exc
    raise ValueError("Give a date as YYYY-MM-DD.")


_TRUE_WORDS = frozenset(
    {"yes", "y", "true", "t", "1", "on", "x", "✓", "✔", "ja", "oui", "si", "sí"}
)
_FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "off", "nein", "non"})


def _read_checkbox(definition: CustomFieldDefinition, raw: str) -> Any:
    word = raw.strip().casefold()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError("Give yes or no.")


def _read_multi_select(definition: CustomFieldDefinition, raw: str) -> Any:
    """Options separated by ";" or line breaks (by "," when that is the only way to read
    the text); a text that is one option as a whole is that option."""
    text_ = raw.strip()
    known = {option.casefold() for option in definition.options}
    if text_.casefold() in known:
        return [text_]
    parts = [p.strip() for p in re.split(r"[;\n]", text_) if p.strip()]
    if len(parts) == 1 and "," in text_:
        by_comma = [p.strip() for p in text_.split(",") if p.strip()]
        if all(p.casefold() in known for p in by_comma):
            parts = by_comma
    return parts


def _read_url(definition: CustomFieldDefinition, raw: str) -> Any:
    url = raw.strip()
    return url if "://" in url else f"https://{url}"


def _read_email(definition: CustomFieldDefinition, raw: str) -> Any:
    address = raw.strip()
    return address[7:] if address.lower().startswith("mailto:") else address


_READERS: dict[str, Callable[[CustomFieldDefinition, str], Any]] = {
    "number": _read_number,
    "money": _read_money,
    "date": _read_date,
    "checkbox": _read_checkbox,
    "multi_select": _read_multi_select,
    "url": _read_url,
    "email": _read_email,
}


def parse_text(definition: CustomFieldDefinition, raw: str) -> object:
    """Text typed by a person (a form input, a spreadsheet cell, a query-string filter)
    as the field's stored value: "1,234.5" -> 1234.5, "yes" -> True, "a; b" ->
    ["a", "b"], "12.50 EUR" -> {"amount": "12.50", "currency": "EUR"}, "" -> None.

    The result has passed :func:`check_value`; raises ``ValueError(message)`` when the
    text can not be read as a value of the field.
    """
    if not isinstance(raw, str):
        raise ValueError("Give text.")
    if not raw.strip():
        return None
    reader = _READERS.get(definition.type)
    return check_value(definition, reader(definition, raw) if reader else raw)


# --- values: SQL ----------------------------------------------------------------------

_SQL_AMOUNT = r"^[0-9]{1,20}(\.[0-9]{1,20})?$"
_SQL_DATE = r"^(19|20|21|22)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def value_expression(model_class: Any, definition: CustomFieldDefinition) -> ColumnElement[Any]:
    """The value of ``definition`` on ``model_class`` rows as a typed SQL expression, for
    filters and sorts: numeric for number and money (the amount, whatever the currency),
    date for date, boolean for checkbox, jsonb (an array) for multi_select, text for the
    others. A record without the value gives NULL.

    Every cast is guarded, so that no stored value can make a query fail: each one sits
    in a CASE whose condition checks the JSON type (and, for text read as a money amount
    or a date, its exact form, and for a date that the day exists in its month) first;
    PostgreSQL evaluates a CASE's branches only after their conditions. Writes are
    validated too, but a guard costs little next to a list page answering 500 because of
    one row written some other way (by hand, by an old version, or by a field deleted
    and made again with another type while a write was in flight). A malformed value is
    NULL, like a missing one.
    """
    column = model_class.custom_fields
    element = column[definition.key]
    as_text = column[definition.key].astext
    json_type = func.jsonb_typeof(element)
    kind = definition.type
    if kind == "number":
        return case((json_type == "number", cast(as_text, Numeric)))
    if kind == "money":
        amount = element["amount"].astext
        return case(
            (json_type == "object", case((amount.regexp_match(_SQL_AMOUNT), cast(amount, Numeric))))
        )
    if kind == "date":
        year = cast(func.substr(as_text, 1, 4), Integer)
        month = cast(func.substr(as_text, 6, 2), Integer)
        day = cast(func.substr(as_text, 9, 2), Integer)
        last_day = func.extract(
            "day",
            func.make_date(year, month, 1)
            + literal_column("interval '1 month'")
            - literal_column("interval '1 day'"),
        )
        return case(
            (
                json_type == "string",
                case(
                    (
                        as_text.regexp_match(_SQL_DATE),
                        case((day <= last_day, cast(as_text, Date))),
                    )
                ),
            )
        )
    if kind == "checkbox":
        return case((json_type == "boolean", cast(as_text, Boolean)))
    if kind == "multi_select":
        return case((json_type == "array", element))
    return case((json_type == "string", as_text))


# --- values: showing them ---------------------------------------------------------------


def _locale() -> str:
    current = get_locale() if has_request_context() else None
    return str(current) if current is not None else "en"


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return " ".join(str(value[k]) for k in ("amount", "currency") if k in value)
    return str(value)


def _show_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("not a number")
    return str(format_decimal(Decimal(str(value)), locale=_locale(), decimal_quantization=False))


def _show_money(value: Any) -> str:
    return money.format_money(Decimal(value["amount"]), str(value["currency"]), _locale())


def _show_date(value: Any) -> str:
    return str(format_date(dt.date.fromisoformat(value), "medium", locale=_locale()))


def _show_checkbox(value: Any) -> str:
    if not isinstance(value, bool):
        raise TypeError("not a boolean")
    return _("Yes") if value else _("No")


_SHOW: dict[str, Callable[[Any], str]] = {
    "number": _show_number,
    "money": _show_money,
    "date": _show_date,
    "checkbox": _show_checkbox,
}


def display_value(definition: CustomFieldDefinition, value: Any) -> str:
    """The value as a person reads it, in the current locale ("1,234.5", "€12.50",
    "May 17, 2024", "Yes", "a, b"); "" for no value. A value that does not fit its
    field (see :func:`value_expression`) is shown as it is stored rather than failing."""
    if value is None:
        return ""
    show = _SHOW.get(definition.type, _plain)
    try:
        return show(value)
    except (TypeError, ValueError, KeyError, ArithmeticError):
        return _plain(value)


# --- definitions: writes -----------------------------------------------------------------


def _label(errors: dict[str, list[str]], value: Any) -> str | None:
    try:
        label = _text(value, MAX_LABEL_LENGTH) if value is not None else None
    except ValueError as exc:
        errors["label"] = [str(exc)]
        return None
    if label is None:
        errors["label"] = ["Give the field a label."]
    return label


def _flag(errors: dict[str, list[str]], name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        errors[name] = ["Give true or false."]
        return False
    return value


def _options(errors: dict[str, list[str]], kind: Any, value: Any) -> list[str]:
    """The choices of a select: 1 to MAX_OPTIONS distinct non-empty texts (distinct
    ignoring case, since values match options ignoring case). Other types have none."""
    if kind not in SELECT_TYPES:
        if value not in (None, []):
            errors["options"] = ["Only single and multi select fields have options."]
        return []
    if not isinstance(value, list) or not value:
        errors["options"] = ["Give the choices of the field (at least one)."]
        return []
    if len(value) > MAX_OPTIONS:
        errors["options"] = [f"At most {MAX_OPTIONS} options."]
        return []
    options: list[str] = []
    seen: set[str] = set()
    for item in value:
        try:
            option = _text(item, MAX_OPTION_LENGTH)
        except ValueError as exc:
            errors["options"] = [f"{exc} ({str(item)[:MAX_OPTION_LENGTH]!r})"]
            return []
        if option is None:
            errors["options"] = ["Options can not be empty."]
            return []
        if option.casefold() in seen:
            errors["options"] = [f"{option!r} is listed twice."]
            return []
        seen.add(option.casefold())
        options.append(option)
    return options


def _position(errors: dict[str, list[str]], value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= 100_000:
        errors["position"] = ["Give a position from 0 (first)."]
        return None
    return value


def key_from_label(label: str) -> str:
    """A key suggested by a label: "Customer tier" -> ``customer_tier``, "Größe" ->
    ``grosse``; letters without an ASCII form give ``field``."""
    folded = unicodedata.normalize("NFKD", label.replace("ß", "ss"))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")
    if not key:
        key = "field"
    elif not key[0].isalpha():
        key = f"f_{key}"
    return key[:MAX_KEY_LENGTH].rstrip("_")


def _free_key(taken: set[str], base: str) -> str:
    """``base``, or ``base_2``, ``base_3``... whichever is not ``taken``."""
    key, n = base, 1
    while key in taken:
        n += 1
        suffix = f"_{n}"
        key = base[: MAX_KEY_LENGTH - len(suffix)].rstrip("_") + suffix
    return key


def _snapshot(definition: CustomFieldDefinition) -> dict[str, Any]:
    return {
        "entity": definition.entity,
        "key": definition.key,
        "label": definition.label,
        "type": definition.type,
        "required": definition.required,
        "options": list(definition.options),
        "position": definition.position,
    }


def _locked(session: DbSession, entity: str) -> list[CustomFieldDefinition]:
    """The fields of ``entity`` in order, locked until commit: writers that renumber
    positions run one after the other."""
    stmt = (
        select(CustomFieldDefinition)
        .where(CustomFieldDefinition.entity == entity)
        .order_by(CustomFieldDefinition.position, CustomFieldDefinition.id)
        .with_for_update()
    )
    return list(session.scalars(stmt))


def _renumber(rows: Sequence[CustomFieldDefinition]) -> None:
    for position, row in enumerate(rows):
        if row.position != position:
            row.position = position


def create_definition(
    session: DbSession, actor: Actor, data: Mapping[str, Any]
) -> CustomFieldDefinition:
    """Add a field to contacts, companies or deals.

    ``data``: ``entity``, ``label``, ``type``, optional ``key`` (default: made from
    the label, made unique), ``required`` (default false), ``options`` (selects only,
    required for them) and ``position`` (default: last). Takes one custom field from
    the plan's allowance in the same transaction (raises
    :class:`billing.limits.PlanLimitExceeded` at the cap).
    """
    errors: dict[str, list[str]] = {}
    entity = data.get("entity")
    if entity not in CUSTOM_FIELD_ENTITIES:
        errors["entity"] = [f"Choose one of: {', '.join(CUSTOM_FIELD_ENTITIES)}."]
    kind = data.get("type")
    if kind not in FIELD_TYPES:
        errors["type"] = [f"Choose one of: {', '.join(FIELD_TYPES)}."]
    label = _label(errors, data.get("label"))
    required = _flag(errors, "required", data.get("required", False))
    options = _options(errors, kind, data.get("options"))
    position = _position(errors, data.get("position"))
    key = data.get("key")
    if key is not None and (not isinstance(key, str) or not KEY_PATTERN.fullmatch(key)):
        errors["key"] = [
            "Start with a lower-case letter; then lower-case letters, digits and _ "
            f"(at most {MAX_KEY_LENGTH})."
        ]
    if errors:
        raise InvalidInput(errors)
    assert isinstance(entity, str) and isinstance(kind, str) and label is not None
    existing = _locked(session, entity)
    if len(existing) >= MAX_PER_ENTITY:
        raise InvalidInput(
            {"entity": [f"{ENTITY_PLURALS[entity].capitalize()} have {MAX_PER_ENTITY} fields."]}
        )
    taken = {row.key for row in existing}
    if key is None:
        key = _free_key(taken, key_from_label(label))
    elif key in taken:
        raise InvalidInput({"key": [f"{ENTITY_PLURALS[entity].capitalize()} already have {key}."]})
    limits.reserve(session, "custom_fields")
    definition = CustomFieldDefinition(
        entity=entity,
        key=key,
        label=label,
        type=kind,
        required=required,
        options=options,
        position=len(existing),
    )
    session.add(definition)
    try:
        session.flush()
    except IntegrityError as exc:  # the same key, created at the same moment
        session.rollback()
        raise InvalidInput(
            {"key": [f"{ENTITY_PLURALS[entity].capitalize()} already have {key}."]}
        ) from exc
    if position is not None and position < len(existing):
        _renumber([*existing[:position], definition, *existing[position:]])
    record(
        session,
        actor_id=actor.user_id,
        action="created",
        entity="custom_field",
        entity_id=definition.id,
        changes={name: [None, value] for name, value in _snapshot(definition).items()},
    )
    _forget(session)
    session.commit()
    return definition


def _migrate_options(
    session: DbSession, definition: CustomFieldDefinition, mapping: dict[str, str | None]
) -> int:
    """Rewrite the stored choices of a select: each old option in ``mapping`` becomes
    the new spelling, or goes away (None). A single select losing its choice loses the
    value; a multi select keeps its other choices (and loses the key when none is
    left). ``updated_at`` is left alone: the records were not edited by anyone. Returns
    how many records changed."""
    if not mapping:
        return 0
    table = ENTITY_MODELS[definition.entity].__tablename__
    key = "CAST(:key AS text)"
    if definition.type == "single_select":
        sql = f"""
            UPDATE {table} SET custom_fields = CASE
                WHEN jsonb_typeof(CAST(:map AS jsonb) -> (custom_fields ->> {key})) = 'string'
                THEN jsonb_set(custom_fields, ARRAY[{key}],
                               CAST(:map AS jsonb) -> (custom_fields ->> {key}))
                ELSE custom_fields - {key} END
            WHERE jsonb_typeof(custom_fields -> {key}) = 'string'
              AND CAST(:map AS jsonb) ? (custom_fields ->> {key})
        """
    else:
        sql = f"""
            UPDATE {table} AS t SET custom_fields = (
                SELECT CASE WHEN count(mapped.v) = 0 THEN t.custom_fields - {key}
                       ELSE jsonb_set(t.custom_fields, ARRAY[{key}],
                                      jsonb_agg(mapped.v ORDER BY mapped.n)) END
                FROM (
                    SELECT CASE WHEN CAST(:map AS jsonb) ? e.value
                                THEN CAST(:map AS jsonb) -> e.value
                                ELSE to_jsonb(e.value) END AS v, e.n
                    FROM jsonb_array_elements_text(t.custom_fields -> {key})
                         WITH ORDINALITY AS e(value, n)
                ) AS mapped
                WHERE mapped.v <> 'null'::jsonb)
            WHERE jsonb_typeof(t.custom_fields -> {key}) = 'array'
              AND (t.custom_fields -> {key}) ?| CAST(:olds AS text[])
        """
    params = {"key": definition.key, "map": json.dumps(mapping), "olds": list(mapping)}
    result = session.execute(text(sql), params)
    return int(getattr(result, "rowcount", 0) or 0)


def update_definition(
    session: DbSession, actor: Actor, definition: CustomFieldDefinition, data: Mapping[str, Any]
) -> CustomFieldDefinition:
    """Change a field's ``label``, ``required``, ``options`` or ``position`` (its place,
    0 = first; the others move along). ``entity``, ``key`` and ``type`` are fixed: the
    same value is accepted, another one refused.

    Making a field required applies to writes from then on (records without a value
    keep none until they are edited). Options removed from a select are removed from
    every record holding them, in this transaction; an option whose spelling changes
    only in letter case is renamed on the records.
    """
    errors: dict[str, list[str]] = {}
    for name, message in (
        ("entity", "A field stays with its record type; add a new field instead."),
        ("key", "The key can not be changed: API clients and imports use it."),
        ("type", "The type can not be changed: add a new field and delete this one."),
    ):
        if name in data and data[name] != getattr(definition, name):
            errors[name] = [message]
    new: dict[str, Any] = {}
    if "label" in data:
        new["label"] = _label(errors, data["label"])
    if "required" in data:
        new["required"] = _flag(errors, "required", data["required"])
    if "options" in data:
        new["options"] = _options(errors, definition.type, data["options"])
    position = _position(errors, data.get("position"))
    if errors:
        raise InvalidInput(errors)
    before = _snapshot(definition)
    changed_records = 0
    if "options" in new and new["options"] != list(definition.options):
        spelled = {option.casefold(): option for option in new["options"]}
        mapping = {
            old: spelled.get(old.casefold())
            for old in definition.options
            if spelled.get(old.casefold()) != old
        }
        changed_records = _migrate_options(session, definition, mapping)
    for name, value in new.items():
        if value != getattr(definition, name):
            setattr(definition, name, value)
    if position is not None:
        rows = [row for row in _locked(session, definition.entity) if row.id != definition.id]
        rows.insert(min(position, len(rows)), definition)
        _renumber(rows)
    after = _snapshot(definition)
    diff = {name: [before[name], after[name]] for name in before if before[name] != after[name]}
    if diff:
        if changed_records:
            diff["records_changed"] = [None, changed_records]
        record(
            session,
            actor_id=actor.user_id,
            action="updated",
            entity="custom_field",
            entity_id=definition.id,
            changes=diff,
        )
    _forget(session)
    session.commit()
    return definition


def reorder_definitions(
    session: DbSession, actor: Actor, entity: str, ordered_ids: Sequence[int]
) -> list[CustomFieldDefinition]:
    """Put the fields of ``entity`` in the order of ``ordered_ids``, which must name each
    of them exactly once (a list made before someone else added or deleted a field is
    refused, rather than guessed at)."""
    _check_entity(entity)
    rows = _locked(session, entity)
    by_id = {row.id: row for row in rows}
    if len(ordered_ids) != len(rows) or set(ordered_ids) != set(by_id):
        raise InvalidInput({"order": ["The fields changed meanwhile; reload and try again."]})
    before = [row.key for row in rows]
    ordered = [by_id[row_id] for row_id in ordered_ids]
    _renumber(ordered)
    after = [row.key for row in ordered]
    if after != before:
        record(
            session,
            actor_id=actor.user_id,
            action="reordered",
            entity="custom_field",
            entity_id=None,
            changes={f"order.{entity}": [before, after]},
        )
    _forget(session)
    session.commit()
    return ordered


def delete_definition(session: DbSession, actor: Actor, definition: CustomFieldDefinition) -> int:
    """Delete a field and every value of it (its key is removed from every record of its
    entity, in this transaction), and give its place in the plan's allowance back.
    ``updated_at`` of the records stays: nobody edited them. Returns how many records
    held a value."""
    model = ENTITY_MODELS[definition.entity]
    key = cast(literal(definition.key), Text)
    result = session.execute(
        update(model)
        .where(model.custom_fields.has_key(definition.key))
        .values(custom_fields=model.custom_fields.op("-")(key), updated_at=model.updated_at)
        .execution_options(synchronize_session=False)
    )
    cleared = int(getattr(result, "rowcount", 0) or 0)
    changes: dict[str, Any] = {name: [v, None] for name, v in _snapshot(definition).items()}
    changes["records_changed"] = [None, cleared]
    record(
        session,
        actor_id=actor.user_id,
        action="deleted",
        entity="custom_field",
        entity_id=definition.id,
        changes=changes,
    )
    session.delete(definition)
    limits.release(session, "custom_fields")
    session.flush()
    _renumber(_locked(session, definition.entity))
    _forget(session)
    session.commit()
    return cleared
