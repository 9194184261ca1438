"""Cursors for newest-first feeds ordered by (time, id): the timeline and notifications.

A cursor is opaque, URL-safe text holding a tag naming its feed, the time and the id of
the last item shown. A cursor of another feed, a hand-edited one or garbage is a
:class:`BadCursor`, which each feed answers as "start again", never a 500.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from app.input_rules import MAX_BIGINT


class BadCursor(ValueError):
    """The cursor is not one of this feed's."""


def encode_time_cursor(tag: str, stamp: dt.datetime, row_id: int) -> str:
    """The cursor after the row (``stamp``, ``row_id``) of the feed ``tag``."""
    raw = json.dumps([tag, stamp.isoformat(), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_time_cursor(tag: str, cursor: str) -> tuple[dt.datetime, int]:
    """The ``(time, id)`` a cursor of the feed ``tag`` holds; :class:`BadCursor` for
    anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True))
        if not isinstance(data, list) or len(data) != 3 or data[0] != tag:
            raise ValueError(f"not a {tag} cursor")
        _tag, stamp, row_id = data
        if not isinstance(stamp, str) or type(row_id) is not int:
            raise ValueError("bad cursor values")
        if not 1 <= row_id <= MAX_BIGINT:
            raise ValueError("bad id")
        moment = dt.datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            raise ValueError("naive timestamp")
        return moment, row_id
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError) as exc:
        raise BadCursor(str(exc)) from exc
