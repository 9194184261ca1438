"""One tag rule for every record that carries tags (contacts, companies, deals).

Tags keep the case people typed ("VIP" stays "VIP"), because labels are read by people
and lower-casing mangles acronyms and names. Duplicates are dropped case-insensitively
(the first spelling wins), so "vip" and "VIP" never sit side by side on one record and
filters can match without caring about case. The limits match the column type
(``varchar(50)[]``) and keep a record's tag list readable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from app.errors import InvalidInput
from app.input_rules import CONTROL_ANY, UNSTORABLE

MAX_TAG_LENGTH = 50
MAX_TAGS = 30


class TagError(ValueError):
    """A tag list that can not be stored; ``message`` says why, for the ``tags`` field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def clean_tags(value: Any) -> list[str]:
    """The tags in ``value`` (a list of strings, or one comma-separated string as typed
    in a form), trimmed and deduplicated case-insensitively, in their first order.

    Raises :class:`TagError` for anything else: non-strings, control characters, a tag
    longer than ``MAX_TAG_LENGTH`` or more than ``MAX_TAGS`` tags. Empty entries (as in
    ``"a,,b"``) are dropped rather than refused.
    """
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise TagError("Give the tags as a list of strings.")
    tags: list[str] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise TagError("Give the tags as a list of strings.")
        if UNSTORABLE.search(item) or CONTROL_ANY.search(item):
            raise TagError("A tag contains characters that are not allowed.")
        tag = " ".join(item.split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise TagError(f"Each tag can have at most {MAX_TAG_LENGTH} characters.")
        key = tag.casefold()
        if key in seen:
            continue
        seen.add(key)
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise TagError(f"At most {MAX_TAGS} tags.")
    return tags


def normalize_tags(value: Any, field: str = "tags") -> list[str]:
    """:func:`clean_tags` for services: a refusal is an :class:`InvalidInput` naming
    ``field``, so API clients get a 400 ``validation_error`` for it."""
    try:
        return clean_tags(value)
    except TagError as exc:
        raise InvalidInput({field: [exc.message]}) from exc


def tag_key(tag: str) -> str:
    """The form a tag is compared by in SQL filters: PostgreSQL's ``lower()`` of the
    stored tag equals this for the same tag in any case."""
    return " ".join(tag.split()).lower()


def has_tag(column: Any, tag: str) -> ColumnElement[bool]:
    """SQL condition: the tag array ``column`` holds ``tag``, whatever its case."""
    values = func.unnest(column).table_valued("tag").render_derived(name="tag_values")
    wanted = tag_key(UNSTORABLE.sub("", tag))
    return select(1).select_from(values).where(func.lower(values.c.tag) == wanted).exists()
