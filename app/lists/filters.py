"""List filters of contacts, companies and deals: one query-string grammar for the list
pages, the API, saved segments, exports and bulk edits.

A :data:`FilterSpec` is the filter part of a list's query string, checked and
normalised by :func:`parse_filters`: a flat JSON object of parameter name to text, so
that a segment stores it as is and :func:`spec_to_args` turns it back into a link.
:func:`filtered_query` turns it into SQL, always inside the viewer's record scope.

The grammar (every value is text; each parameter at most once):

- ``q``: the list's search box (see each record's ``search_condition``).
- ``owner_id``: a member's user id, ``me`` (whoever is looking) or ``none``.
- ``tag`` (has this tag), ``tag_any``, ``tag_all``, ``tag_none``: comma-separated tags.
- text fields: ``<field>`` equals (ignoring case), ``<field>_contains``,
  ``<field>_empty`` (``true``/``false``).
- dates (``birthday``, ``expected_close``): ``<field>_from``, ``<field>_to``
  (``YYYY-MM-DD``, both inclusive).
- times (``created``, ``updated``, ``last_contacted``, ``closed``): ``<field>_from``
  and ``<field>_to`` (whole days in the viewer's time zone), ``<field>_days`` (within
  the last N days).
- ``not_contacted_days``: no call, meeting or email for N days (or never).
- numbers: ``amount_min``/``amount_max`` (major units of each deal's currency),
  ``probability_min``/``probability_max`` (the effective probability, 0-100).
- choices: ``status``, ``size``, ``currency``: one value or several, comma-separated.
- links: ``company_id``, ``contact_id``, ``pipeline_id``, ``stage_id``: an id, or
  ``none`` for "not linked" (where a link may be empty).
- custom fields by key: ``cf.<key>`` equals (text as a person types it, read by the
  field's type; several options of a multi-select, ``;``-separated, must all be
  there), ``cf.<key>_contains`` (text types), ``cf.<key>_min``/``_max`` (number,
  money), ``cf.<key>_from``/``_to`` (date), ``cf.<key>_empty``. A key that is itself a
  field wins over a suffix reading (``cf.size_min`` is the field ``size_min`` if
  there is one).

A blank value sets no filter. Every bad value is an :class:`app.errors.InvalidInput`
naming its parameter.

Tags keep the case people typed (app.tags), while the GIN index on ``tags`` only
answers exact elements. Tag filters therefore look for the tag as typed and in its
lower-case, upper-case, capitalised and title-case spellings (``vip``, ``VIP``,
``Vip``) with ``&&``/``@>`` on the index; a tag stored in another mixed case
(``vIp``) is only found when typed that way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, TypeAlias

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import object_session

from app.access.policy import Actor, apply_record_scope
from app.activities.services import user_zone
from app.api.pagination import SortOption, Sorts
from app.companies import services as company_services
from app.companies.models import COMPANY_SIZES, Company
from app.contacts import services as contact_services
from app.contacts.models import Contact
from app.custom_fields import services as custom_fields
from app.custom_fields.models import CustomFieldDefinition
from app.database import DbSession, utcnow
from app.deals import money
from app.deals import services as deal_services
from app.deals.models import DEAL_STATUSES, Deal
from app.errors import InvalidInput
from app.input_rules import CONTROL_ANY, MAX_BIGINT, UNSTORABLE, substring_pattern
from app.pipelines.models import Stage
from app.tags import TagError, clean_tags

# The records lists filter, by the name custom fields and segments use for them.
ENTITIES: dict[str, Any] = {"contact": Contact, "company": Company, "deal": Deal}
# Their access-rights resources.
RESOURCES = {"contact": "contacts", "company": "companies", "deal": "deals"}
# A list's filters: parameter name -> normalised text (JSON-able, stored by segments).
FilterSpec: TypeAlias = dict[str, str]
# Query parameters of a list that are not filters (paging and order).
CONTROL_PARAMS = frozenset({"sort", "cursor", "limit"})

MAX_TEXT = 200
MAX_DAYS = 36500
MAX_FILTERS = 40
TRUE_WORDS = {
    **dict.fromkeys(("true", "1", "yes"), "true"),
    **dict.fromkeys(("false", "0", "no"), "false"),
}
_DIGITS = re.compile(r"[0-9]{1,19}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,10})?")
_CUSTOM_PREFIX = "cf."
# Custom field types whose values are text.
_TEXT_TYPES = ("text", "long_text", "url", "email", "phone", "single_select")


@dataclass(frozen=True, slots=True)
class Field:
    """A filterable field of an entity and the kind of filter it takes.

    Kinds: text, date, timestamp, number, money, choice, link (an id, optionally
    ``none``), owner, tags, contacted, search.
    """

    name: str
    kind: str
    column: Any = None
    label: Any = ""
    choices: tuple[str, ...] = ()
    nullable: bool = True


def _effective_probability() -> ColumnElement[Any]:
    """The probability a forecast uses (deal_services.effective_probability, in SQL)."""
    stage_probability = select(Stage.probability).where(Stage.id == Deal.stage_id)
    return case(
        (Deal.status == "won", 100),
        (Deal.status == "lost", 0),
        else_=func.coalesce(Deal.probability, stage_probability.scalar_subquery()),
    )


def _common(model: Any) -> list[Field]:
    return [
        Field("q", "search", label=_l("Search")),
        Field("owner_id", "owner", model.owner_id, _l("Owner")),
        Field("tag", "tags", model.tags, _l("Tags")),
        Field("created", "timestamp", model.created_at, _l("Created"), nullable=False),
        Field("updated", "timestamp", model.updated_at, _l("Changed"), nullable=False),
    ]


FIELDS: dict[str, list[Field]] = {
    "contact": [
        *_common(Contact),
        Field("first_name", "text", Contact.first_name, _l("First name")),
        Field("last_name", "text", Contact.last_name, _l("Last name")),
        Field("email", "text", Contact.email, _l("Email")),
        Field("phone", "text", Contact.phone, _l("Phone")),
        Field("title", "text", Contact.title, _l("Job title")),
        Field("company_name", "text", Contact.company_name, _l("Company (as typed)")),
        Field("source", "text", Contact.source, _l("Source")),
        Field("notes", "text", Contact.notes, _l("Notes")),
        Field("company_id", "link", Contact.company_id, _l("Company")),
        Field("birthday", "date", Contact.birthday, _l("Birthday")),
        Field("last_contacted", "timestamp", Contact.last_contacted_at, _l("Last contacted")),
        Field("not_contacted_days", "contacted", Contact.last_contacted_at, _l("Not contacted")),
    ],
    "company": [
        *_common(Company),
        Field("name", "text", Company.name, _l("Name")),
        Field("domain", "text", Company.domain, _l("Domain")),
        Field("industry", "text", Company.industry, _l("Industry")),
        Field("phone", "text", Company.phone, _l("Phone")),
        Field("address", "text", Company.address, _l("Address")),
        Field("notes", "text", Company.notes, _l("Notes")),
        Field("size", "choice", Company.size, _l("Size"), COMPANY_SIZES),
        Field("last_contacted", "timestamp", Company.last_contacted_at, _l("Last contacted")),
        Field("not_contacted_days", "contacted", Company.last_contacted_at, _l("Not contacted")),
    ],
    "deal": [
        *_common(Deal),
        Field("title", "text", Deal.title, _l("Title")),
        Field("source", "text", Deal.source, _l("Source")),
        Field("notes", "text", Deal.notes, _l("Notes")),
        Field("lost_reason", "text", Deal.lost_reason, _l("Lost reason")),
        Field("lost_to_competitor", "text", Deal.lost_to_competitor, _l("Lost to")),
        Field("status", "choice", Deal.status, _l("Status"), DEAL_STATUSES, nullable=False),
        Field("currency", "choice", Deal.currency, _l("Currency"), nullable=False),
        Field("pipeline_id", "link", Deal.pipeline_id, _l("Pipeline"), nullable=False),
        Field("stage_id", "link", Deal.stage_id, _l("Stage"), nullable=False),
        Field("contact_id", "link", Deal.contact_id, _l("Contact")),
        Field("company_id", "link", Deal.company_id, _l("Company")),
        Field("amount", "money", Deal.amount_minor, _l("Amount")),
        Field("probability", "number", None, _l("Probability")),
        Field("expected_close", "date", Deal.expected_close_date, _l("Expected close")),
        Field("closed", "timestamp", Deal.closed_at, _l("Closed")),
    ],
}

# The parameters each kind of field takes: suffix -> operation.
_SUFFIXES: dict[str, dict[str, str]] = {
    "text": {"": "eq", "_contains": "contains", "_empty": "empty"},
    "date": {"_from": "from", "_to": "to"},
    "timestamp": {"_from": "from", "_to": "to", "_days": "days"},
    "number": {"_min": "min", "_max": "max"},
    "money": {"_min": "min", "_max": "max"},
    "choice": {"": "in"},
    "link": {"": "id"},
    "owner": {"": "owner"},
    "tags": {"": "has", "_any": "any", "_all": "all", "_none": "none"},
    "contacted": {"": "not_contacted"},
    "search": {"": "search"},
}
# Custom field types -> the operations their parameters take.
_CUSTOM_SUFFIXES: dict[str, dict[str, str]] = {
    **{t: {"": "eq", "_contains": "contains", "_empty": "empty"} for t in _TEXT_TYPES},
    "number": {"": "eq", "_min": "min", "_max": "max", "_empty": "empty"},
    "money": {"": "eq", "_min": "min", "_max": "max", "_empty": "empty"},
    "date": {"": "eq", "_from": "from", "_to": "to", "_empty": "empty"},
    "checkbox": {"": "eq"},
    "multi_select": {"": "all", "_empty": "empty"},
}


@cache
def _params(entity: str) -> dict[str, tuple[Field, str]]:
    """Parameter name -> (field, operation) for the built-in fields of ``entity``."""
    table: dict[str, tuple[Field, str]] = {}
    for field in FIELDS[entity]:
        for suffix, operation in _SUFFIXES[field.kind].items():
            table[field.name + suffix] = (field, operation)
    return table


def filter_names(entity: str) -> list[str]:
    """Every built-in filter parameter of ``entity`` (documentation, the API schema)."""
    return sorted(_params(entity))


def fields_of(entity: str) -> list[Field]:
    """The built-in filterable fields of ``entity``."""
    _check_entity(entity)
    return FIELDS[entity]


def _check_entity(entity: str) -> None:
    if entity not in ENTITIES:
        raise ValueError(f"unknown list entity {entity!r}")


# --- reading values ------------------------------------------------------------------


class _Refusals:
    """Per-parameter messages, so that one answer names every bad filter."""

    def __init__(self) -> None:
        self.details: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.details.setdefault(name, []).append(message)


def _text(value: str) -> str:
    """A single-line value as typed, trimmed; refuses what can not be a filter."""
    if UNSTORABLE.search(value) or CONTROL_ANY.search(value):
        raise ValueError("Contains characters that are not allowed.")
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"At most {MAX_TEXT} characters.")
    if not text:
        raise ValueError("Give a value, or leave the filter out.")
    return text


def _boolean(value: str) -> str:
    word = TRUE_WORDS.get(value.strip().lower())
    if word is None:
        raise ValueError("Give true or false.")
    return word


def _date(value: str) -> dt.date:
    text = value.strip()
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError("Give a date as YYYY-MM-DD.") from None


def _days(value: str) -> int:
    text = value.strip()
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_DAYS:
        raise ValueError(f"Give a whole number of days from 1 to {MAX_DAYS}.")
    return int(text)


def _record_id(value: str, allow_none: bool) -> int | None:
    text = value.strip().lower()
    if allow_none and text == "none":
        return None
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_BIGINT:
        raise ValueError("Give an id" + (", or none." if allow_none else "."))
    return int(text)


def _owner(value: str) -> str:
    text = value.strip().lower()
    if text in ("me", "none"):
        return text
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_BIGINT:
        raise ValueError("Give a member's user id, me or none.")
    return str(int(text))


def _number(value: str) -> Decimal:
    text = value.strip().replace(",", "")
    if not _NUMBER.fullmatch(text):
        raise ValueError("Give a number, e.g. 1500 or 12.5.")
    return Decimal(text)


def _tags(value: str) -> list[str]:
    try:
        tags = clean_tags(value)
    except TagError as exc:
        raise ValueError(exc.message) from None
    if not tags:
        raise ValueError("Give at least one tag.")
    return tags


def _choices(field: Field, value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ValueError("Choose at least one.")
    if field.name == "currency":
        try:
            return sorted({money.normalize_currency(item) for item in items})
        except money.MoneyError as exc:
            raise ValueError(exc.message) from None
    allowed = {choice.lower(): choice for choice in field.choices}
    chosen = []
    for item in items:
        if item.lower() not in allowed:
            raise ValueError(f"Choose from: {', '.join(field.choices)}.")
        chosen.append(allowed[item.lower()])
    return sorted(set(chosen), key=field.choices.index)


def _normalise(field: Field, operation: str, raw: str) -> str:
    """The canonical text of one built-in filter value (ValueError with a message)."""
    if operation in ("eq", "contains", "search"):
        return _text(raw)
    if operation == "empty":
        return _boolean(raw)
    if operation in ("from", "to"):
        return _date(raw).isoformat()
    if operation in ("days", "not_contacted"):
        return str(_days(raw))
    if operation in ("min", "max"):
        number = _number(raw)
        if number < 0:
            raise ValueError("Can not be negative.")
        if field.name == "probability" and not number <= 100:
            raise ValueError("Give a percentage from 0 to 100.")
        return format(number, "f")
    if operation == "in":
        return ",".join(_choices(field, raw))
    if operation == "id":
        found = _record_id(raw, field.nullable)
        return "none" if found is None else str(found)
    if operation == "owner":
        return _owner(raw)
    # Tag operations.
    return ",".join(_tags(raw))


# --- custom fields -------------------------------------------------------------------


def _custom_param(
    name: str, definitions: Mapping[str, CustomFieldDefinition]
) -> tuple[CustomFieldDefinition, str] | None:
    """The custom field and operation a ``cf.`` parameter names, if any."""
    rest = name[len(_CUSTOM_PREFIX) :]
    if rest in definitions:
        definition = definitions[rest]
        operation = _CUSTOM_SUFFIXES.get(definition.type, {}).get("")
        return (definition, operation) if operation else None
    for suffix in ("_contains", "_empty", "_min", "_max", "_from", "_to"):
        if rest.endswith(suffix) and rest[: -len(suffix)] in definitions:
            definition = definitions[rest[: -len(suffix)]]
            operation = _CUSTOM_SUFFIXES.get(definition.type, {}).get(suffix)
            return (definition, operation) if operation else None
    return None


def _custom_value(definition: CustomFieldDefinition, operation: str, raw: str) -> Any:
    """A custom filter value, read the way the field reads typed text."""
    if operation == "empty":
        return _boolean(raw) == "true"
    text = _text(raw)
    if operation == "contains":
        return text
    if definition.type == "money":
        return _money_amount(definition, text)
    try:
        value = custom_fields.parse_text(definition, text)
    except ValueError as exc:
        raise ValueError(str(exc) or "Not a valid value for this field.") from None
    if value is None:
        raise ValueError("Give a value, or leave the filter out.")
    if definition.type == "number":
        return Decimal(str(value))
    if definition.type == "date":
        return dt.date.fromisoformat(str(value))
    if definition.type == "multi_select" and not isinstance(value, list):
        return [value]
    return value


def _money_amount(definition: CustomFieldDefinition, text: str) -> Decimal:
    """A money filter compares amounts whatever their currency (as the field's SQL
    value does): "1500", "1,500.00" or "1500 EUR" all mean 1500."""
    try:
        value = custom_fields.parse_text(definition, text)
    except ValueError:
        return _number(text)
    if isinstance(value, dict) and value.get("amount") is not None:
        return Decimal(str(value["amount"]))
    raise ValueError("Give an amount, e.g. 1500.")


def _definitions(session: DbSession, entity: str) -> dict[str, CustomFieldDefinition]:
    return {d.key: d for d in custom_fields.definitions(session, entity)}


# --- parsing -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Filter:
    """One checked filter: its parameter, normalised text and what it means."""

    param: str
    text: str
    field: Field | None
    definition: CustomFieldDefinition | None
    operation: str
    value: Any


def _read(session: DbSession, entity: str, args: Mapping[str, Any]) -> list[_Filter]:
    """Check every filter parameter of ``args``; raises one InvalidInput naming each bad
    one."""
    _check_entity(entity)
    refusals = _Refusals()
    builtin = _params(entity)
    definitions: dict[str, CustomFieldDefinition] | None = None
    read: list[_Filter] = []
    names = [name for name in args if name not in CONTROL_PARAMS]
    if len(names) > MAX_FILTERS:
        raise InvalidInput({"filters": [f"At most {MAX_FILTERS} filters at once."]})
    for name in names:
        raw = args[name]
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            refusals.add(name, "Give the value as text.")
            continue
        raw = str(raw)
        if not raw.strip() and (name in builtin or name.startswith(_CUSTOM_PREFIX)):
            continue  # a blank value sets no filter (as an empty input of the panel)
        if name in builtin:
            field, operation = builtin[name]
            try:
                text = _normalise(field, operation, raw)
            except ValueError as exc:
                refusals.add(name, str(exc))
                continue
            read.append(_Filter(name, text, field, None, operation, _value(field, operation, text)))
            continue
        if name.startswith(_CUSTOM_PREFIX):
            if definitions is None:
                definitions = _definitions(session, entity)
            found = _custom_param(name, definitions)
            if found is None:
                refusals.add(name, "No custom field takes this filter.")
                continue
            definition, operation = found
            try:
                value = _custom_value(definition, operation, raw)
            except ValueError as exc:
                refusals.add(name, str(exc))
                continue
            text = raw.strip() if operation != "empty" else ("true" if value else "false")
            read.append(_Filter(name, text, None, definition, operation, value))
            continue
        refusals.add(name, "Unknown filter.")
    _check_ranges(read, refusals)
    if refusals.details:
        raise InvalidInput(refusals.details, "Invalid filter.")
    return read


def _value(field: Field, operation: str, text: str) -> Any:
    """The Python value of a normalised built-in filter text."""
    if operation == "empty":
        return text == "true"
    if operation in ("from", "to"):
        return dt.date.fromisoformat(text)
    if operation in ("days", "not_contacted"):
        return int(text)
    if operation in ("min", "max"):
        return Decimal(text)
    if operation == "id":
        return None if text == "none" else int(text)
    if operation in ("in", "has", "any", "all", "none"):
        return text.split(",")
    return text


def _check_ranges(read: list[_Filter], refusals: _Refusals) -> None:
    """A range's end may not come before its start."""
    by_param = {f.param: f for f in read}
    for f in read:
        if f.operation not in ("to", "max"):
            continue
        start = f.param.removesuffix("_to" if f.operation == "to" else "_max")
        start += "_from" if f.operation == "to" else "_min"
        if start in by_param and by_param[start].value > f.value:
            refusals.add(f.param, "Must not come before the start of the range.")


def parse_filters(session: DbSession, entity: str, args: Mapping[str, Any]) -> FilterSpec:
    """The filters in a list's query string (``sort``, ``cursor`` and ``limit`` are left
    to the caller), checked and normalised. Raises :class:`InvalidInput` naming every
    unknown parameter and bad value."""
    return {f.param: f.text for f in _read(session, entity, args)}


def spec_to_args(spec: Mapping[str, str]) -> dict[str, str]:
    """The query-string parameters that reproduce ``spec`` (for links)."""
    return {name: str(value) for name, value in spec.items()}


# --- SQL -----------------------------------------------------------------------------


def tag_spellings(tag: str) -> list[str]:
    """The spellings a tag filter looks for (see the module docstring)."""
    spellings = {tag, tag.lower(), tag.upper(), tag.capitalize(), tag.title()}
    return sorted(spellings)


def _has_any(column: Any, tags: Iterable[str]) -> ColumnElement[bool]:
    wanted = sorted({s for tag in tags for s in tag_spellings(tag)})
    return column.overlap(cast(wanted, ARRAY(String(50))))


def _search(entity: str, text: str) -> ColumnElement[bool]:
    if entity == "contact":
        condition: ColumnElement[bool] = contact_services.search_condition(text)
    elif entity == "company":
        condition = company_services.search_condition(text)
    else:
        condition = deal_services.search_condition(text)
    return condition


@lru_cache(maxsize=1)
def _currency_digits() -> dict[int, tuple[str, ...]]:
    """Currencies by how many decimals they have, except the usual two."""
    groups: dict[int, list[str]] = {}
    for code in sorted(money.currency_codes()):
        digits = money.minor_digits(code)
        if digits != 2:
            groups.setdefault(digits, []).append(code)
    return {digits: tuple(codes) for digits, codes in groups.items()}


def _in_minor_units(amount: Decimal) -> ColumnElement[Any]:
    """``amount`` (major units) in each deal's minor units, as SQL."""
    digits = case(
        *((Deal.currency.in_(codes), n) for n, codes in _currency_digits().items()), else_=2
    )
    return cast(literal(amount), Numeric) * func.power(cast(literal(10), Numeric), digits)


class _Clock:
    """Day boundaries in the viewer's time zone, asked for only when needed."""

    def __init__(self, session: DbSession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self._zone: Any = None

    def start_of(self, day: dt.date) -> dt.datetime:
        if self._zone is None:
            self._zone = user_zone(self.session, self.actor.user_id)
        return dt.datetime.combine(day, dt.time(), tzinfo=self._zone).astimezone(dt.UTC)


def _builtin_condition(entity: str, f: _Filter, actor: Actor, clock: _Clock) -> ColumnElement[bool]:
    field = f.field
    assert field is not None
    column = field.column if field.name != "probability" else _effective_probability()
    op, value = f.operation, f.value
    if op == "search":
        return _search(entity, value)
    if op == "eq":
        return func.lower(column) == value.lower()
    if op == "contains":
        return column.ilike(substring_pattern(value), escape="\\")
    if op == "empty":
        blank = or_(column.is_(None), column == "")
        return blank if value else not_(blank)
    if op in ("from", "to"):
        if field.kind == "timestamp":
            if op == "from":
                return column >= clock.start_of(value)
            return column < clock.start_of(value + dt.timedelta(days=1))
        return column >= value if op == "from" else column <= value
    if op == "days":
        return column >= utcnow() - dt.timedelta(days=value)
    if op == "not_contacted":
        return or_(column.is_(None), column < utcnow() - dt.timedelta(days=value))
    if op in ("min", "max"):
        bound = _in_minor_units(value) if field.kind == "money" else value
        return column >= bound if op == "min" else column <= bound
    if op == "in":
        return column.in_(value)
    if op == "id":
        return column.is_(None) if value is None else column == value
    if op == "owner":
        if value == "me":
            return column == actor.user_id
        if value == "none":
            return column.is_(None)
        return column == int(value)
    if op in ("has", "any"):
        return _has_any(column, value)
    if op == "all":
        return and_(*(_has_any(column, [tag]) for tag in value))
    return not_(_has_any(column, value))  # none


def _custom_condition(model: Any, f: _Filter) -> ColumnElement[bool]:
    definition = f.definition
    assert definition is not None
    expression = custom_fields.value_expression(model, definition)
    op, value = f.operation, f.value
    if op == "empty":
        if definition.type == "multi_select":
            blank = func.coalesce(func.jsonb_array_length(expression), 0) == 0
        elif definition.type in _TEXT_TYPES:
            blank = or_(expression.is_(None), expression == "")
        else:
            blank = expression.is_(None)
        return blank if value else not_(blank)
    if op == "contains":
        return expression.ilike(substring_pattern(value), escape="\\")
    if op == "all":
        return expression.op("@>")(cast(literal(value, JSONB), JSONB))
    if op in ("min", "from"):
        return expression >= value
    if op in ("max", "to"):
        return expression <= value
    if definition.type in ("text", "long_text", "url", "email", "phone"):
        return func.lower(expression) == str(value).lower()
    if definition.type == "checkbox":
        # An unticked box is stored as false or not at all.
        return func.coalesce(expression, False) == value
    return expression == value


def filter_conditions(
    session: DbSession, actor: Actor, entity: str, spec: Mapping[str, Any]
) -> list[ColumnElement[bool]]:
    """The SQL conditions of ``spec`` (checked again: a stored segment may name a
    custom field that has since been removed)."""
    read = _read(session, entity, spec)
    clock = _Clock(session, actor)
    return [
        _builtin_condition(entity, f, actor, clock)
        if f.field is not None
        else _custom_condition(ENTITIES[entity], f)
        for f in read
    ]


def filtered_query(
    session: DbSession, actor: Actor, entity: str, spec: Mapping[str, Any], *, action: str = "view"
) -> Select[Any]:
    """The records of ``entity`` that ``actor`` may ``action`` and that match ``spec``,
    unordered (callers add ordering and pagination, or stream it)."""
    _check_entity(entity)
    model = ENTITIES[entity]
    stmt = apply_record_scope(select(model), actor, RESOURCES[entity], action, model.owner_id)
    for condition in filter_conditions(session, actor, entity, spec):
        stmt = stmt.where(condition)
    return stmt


# --- sorting -------------------------------------------------------------------------

SORTS: dict[str, dict[str, tuple[Any, str]]] = {
    "contact": {
        "created_at": (Contact.created_at, "datetime"),
        "updated_at": (Contact.updated_at, "datetime"),
        "last_name": (Contact.last_name, "str"),
        "first_name": (Contact.first_name, "str"),
        "email": (Contact.email, "str"),
        "birthday": (Contact.birthday, "date"),
        "last_contacted_at": (Contact.last_contacted_at, "datetime"),
    },
    "company": {
        "name": (Company.name, "str"),
        "domain": (Company.domain, "str"),
        "industry": (Company.industry, "str"),
        "created_at": (Company.created_at, "datetime"),
        "updated_at": (Company.updated_at, "datetime"),
        "last_contacted_at": (Company.last_contacted_at, "datetime"),
    },
    "deal": {
        "created_at": (Deal.created_at, "datetime"),
        "updated_at": (Deal.updated_at, "datetime"),
        "title": (Deal.title, "str"),
        # Minor units: filter by currency for a meaningful order across currencies.
        "amount": (Deal.amount_minor, "int"),
        "expected_close_date": (Deal.expected_close_date, "date"),
        "closed_at": (Deal.closed_at, "datetime"),
    },
}
# How a custom field's typed value is carried in a cursor.
_CUSTOM_SORT_KINDS = {
    "number": "decimal",
    "money": "decimal",
    "date": "date",
    "checkbox": "bool",
    **dict.fromkeys(_TEXT_TYPES, "str"),
}


def _sort_value(model: Any, expression: Any) -> Callable[[Any], Any]:
    """The row's value of a computed sort key, as the database computes it (one
    primary-key read per page)."""

    def value_of(row: Any) -> Any:
        session = object_session(row)
        assert session is not None, "a page's rows belong to a session"
        return session.scalar(select(expression).where(model.id == row.id))

    return value_of


def custom_sorts(session: DbSession, entity: str) -> dict[str, SortOption]:
    """``cf.<key>`` sort options of every sortable custom field of ``entity``."""
    model = ENTITIES[entity]
    options: dict[str, SortOption] = {}
    for definition in custom_fields.definitions(session, entity):
        kind = _CUSTOM_SORT_KINDS.get(definition.type)
        if kind is None:
            continue  # multi-selects have no order
        expression = custom_fields.value_expression(model, definition)
        options[_CUSTOM_PREFIX + definition.key] = SortOption(
            expression, kind, _sort_value(model, expression)
        )
    return options


def sort_options(session: DbSession, entity: str, wanted: str | None = None) -> Sorts:
    """What ``entity`` lists may be sorted by. Custom fields are looked up only when
    ``wanted`` (a ``sort`` parameter) names one, or when ``wanted`` is None."""
    _check_entity(entity)
    options: dict[str, SortOption | tuple[Any, str]] = dict(SORTS[entity])
    name = (wanted or "").strip().lstrip("-")
    if wanted is None or name.startswith(_CUSTOM_PREFIX):
        options.update(custom_sorts(session, entity))
    return options
