"""Keyset (cursor) pagination: stable under inserts, constant cost at any depth.

A cursor is an opaque, URL-safe token holding the sort key and id of the last row of
the previous page. Malformed cursors are a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import validation_error
from app.input_rules import MAX_BIGINT, UNSTORABLE

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_DIGITS = re.compile(r"[0-9]{1,6}")  # ASCII digits only (str.isdigit also takes "²")


@dataclass(frozen=True, slots=True)
class SortKey:
    """A sortable column and its direction."""

    name: str
    column: InstrumentedAttribute[Any]
    descending: bool
    kind: str  # "str", "int", "date" or "datetime": how cursor values are decoded


def parse_limit(raw: str | None) -> int:
    """``limit`` query parameter, 1..MAX_LIMIT."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise validation_error({"limit": [f"Must be an integer between 1 and {MAX_LIMIT}."]})
    return int(raw)


def parse_sort(
    raw: str | None, allowed: dict[str, tuple[InstrumentedAttribute[Any], str]], default: str
) -> SortKey:
    """``sort`` query parameter: a field name, ``-`` prefix for descending."""
    value = (raw or default).strip()
    descending = value.startswith("-")
    name = value[1:] if descending else value
    if name not in allowed:
        raise validation_error({"sort": [f"Sort by one of: {', '.join(sorted(allowed))}."]})
    column, kind = allowed[name]
    return SortKey(name=name, column=column, descending=descending, kind=kind)


def encode_cursor(sort: SortKey, value: Any, row_id: int) -> str:
    """Opaque cursor for the row after which the next page starts."""
    if isinstance(value, dt.date):  # datetimes and dates: ISO text
        value = value.isoformat()
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
    col = sort.column
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
    # The column's attribute, not the sort's public name ("amount" sorts amount_minor).
    return rows, encode_cursor(sort, getattr(last, sort.column.key), last.id)
