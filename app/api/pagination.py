"""Keyset (cursor) pagination: stable under inserts, constant cost at any depth.

A cursor is an opaque, URL-safe token holding the sort key and id of the last row of
the previous page. Malformed cursors are a 400, never a 500.

A sort key is a SQL expression: a column, or something computed from the row (a custom
field's typed value). Columns read their cursor value from the loaded row; computed
keys bring a ``value_of`` that asks the database, so that the cursor holds exactly the
value the next page's comparison is made against.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import validation_error
from app.input_rules import MAX_BIGINT, UNSTORABLE

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_DIGITS = re.compile(r"[0-9]{1,6}")  # ASCII digits only (str.isdigit also takes "²")
_DECIMAL = re.compile(r"-?[0-9]{1,40}(?:\.[0-9]{1,40})?")


@dataclass(frozen=True, slots=True)
class SortOption:
    """Something a list may be sorted by: a SQL expression, how its cursor value is
    decoded (``kind``: "str", "int", "decimal", "bool", "date" or "datetime"), and how
    to read that value for a loaded row."""

    expression: Any
    kind: str
    value_of: Callable[[Any], Any]

    @classmethod
    def column(cls, column: InstrumentedAttribute[Any], kind: str) -> SortOption:
        """Sort by a mapped column; the row's attribute is its cursor value."""
        key = column.key
        return cls(column, kind, lambda row: getattr(row, key))


# A list's sorts: name -> option, or (column, kind) for a plain mapped column.
Sorts = Mapping[str, "SortOption | tuple[Any, str]"]


@dataclass(frozen=True, slots=True)
class SortKey:
    """A sort order asked for: the option's expression and its direction."""

    name: str
    expression: Any
    descending: bool
    kind: str
    value_of: Callable[[Any], Any]


def _option(choice: SortOption | tuple[Any, str]) -> SortOption:
    if isinstance(choice, SortOption):
        return choice
    column, kind = choice
    return SortOption.column(column, kind)


def parse_limit(raw: str | None) -> int:
    """``limit`` query parameter, 1..MAX_LIMIT."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise validation_error({"limit": [f"Must be an integer between 1 and {MAX_LIMIT}."]})
    return int(raw)


def parse_sort(raw: str | None, allowed: Sorts, default: str) -> SortKey:
    """``sort`` query parameter: a field name, ``-`` prefix for descending."""
    value = (raw or default).strip()
    descending = value.startswith("-")
    name = value[1:] if descending else value
    if name not in allowed:
        shown = sorted(n for n in allowed if not n.startswith("cf."))
        extra = " (or cf.<key> of a custom field)" if len(shown) < len(allowed) else ""
        raise validation_error({"sort": [f"Sort by one of: {', '.join(shown)}{extra}."]})
    option = _option(allowed[name])
    return SortKey(
        name=name,
        expression=option.expression,
        descending=descending,
        kind=option.kind,
        value_of=option.value_of,
    )


def encode_cursor(sort: SortKey, value: Any, row_id: int) -> str:
    """Opaque cursor for the row after which the next page starts."""
    if isinstance(value, dt.date):  # datetimes and dates: ISO text
        value = value.isoformat()
    elif isinstance(value, Decimal):  # exact plain text (JSON numbers are floats)
        value = format(value, "f")
    raw = json.dumps([sort.name, sort.descending, value, row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(sort: SortKey, cursor: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True))
        if not isinstance(data, list) or len(data) != 4:
            raise ValueError("not a cursor")
        name, descending, value, row_id = data
        if name != sort.name or type(descending) is not bool or descending != sort.descending:
            raise ValueError("cursor belongs to another sort order")
        if type(row_id) is not int or not 1 <= row_id <= MAX_BIGINT:
            raise ValueError("bad row id")
        if value is not None:
            value = _decode_value(sort.kind, value)
        return value, row_id
    except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
        raise validation_error({"cursor": ["Invalid cursor; start again without it."]}) from exc


def _decode_value(kind: str, value: Any) -> Any:
    if kind == "datetime":
        if not isinstance(value, str):
            raise TypeError("bad datetime")
        stamp = dt.datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            raise ValueError("naive datetime")
        return stamp
    if kind == "date":
        if not isinstance(value, str):
            raise TypeError("bad date")
        return dt.date.fromisoformat(value)
    if kind == "int":
        if type(value) is not int or not -MAX_BIGINT - 1 <= value <= MAX_BIGINT:
            raise ValueError("bad int")
        return value
    if kind == "decimal":
        # Plain notation only: no exponent that PostgreSQL's numeric would overflow on.
        if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
            raise ValueError("bad decimal")
        return Decimal(value)
    if kind == "bool":
        if type(value) is not bool:
            raise TypeError("bad bool")
        return value
    if not isinstance(value, str) or UNSTORABLE.search(value):
        raise ValueError("bad str")
    return value


def paginate(
    stmt: Select[Any],
    sort: SortKey,
    id_column: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
) -> Select[Any]:
    """Order ``stmt`` by (sort key, id) and start after ``cursor``; fetches limit + 1."""
    col = sort.expression
    if sort.descending:
        stmt = stmt.order_by(col.desc().nulls_last(), id_column.desc())
    else:
        stmt = stmt.order_by(col.asc().nulls_last(), id_column.asc())
    if cursor:
        value, row_id = _decode(sort, cursor)
        if value is None:
            # Past every non-null value: only nulls remain, ordered by id.
            after = id_column < row_id if sort.descending else id_column > row_id
            stmt = stmt.where(and_(col.is_(None), after))
        elif sort.descending:
            stmt = stmt.where(
                or_(col < value, and_(col == value, id_column < row_id), col.is_(None))
            )
        else:
            stmt = stmt.where(
                or_(col > value, and_(col == value, id_column > row_id), col.is_(None))
            )
    return stmt.limit(limit + 1)


def page(rows: list[Any], sort: SortKey, limit: int) -> tuple[list[Any], str | None]:
    """Split the limit + 1 fetched rows into a page and the next cursor."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(sort, sort.value_of(last), last.id)
