"""What every record page shares: a keyset-paginated list read from the query string,
and fetching one record for a member (404 when not visible, 403 when not allowed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import abort, request
from sqlalchemy import Select

from app.access.policy import Actor, record_in_scope
from app.api.pagination import page, paginate, parse_sort
from app.database import db
from app.errors import ApiError
from app.input_rules import CONTROL_ANY

T = TypeVar("T")
PAGE_SIZE = 25
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class ListPage(Generic[T]):
    """One page of a record list, and how it was asked for."""

    rows: list[T]
    q: str
    sort: str
    cursor: str | None
    next_cursor: str | None

    @property
    def is_first_page(self) -> bool:
        return self.cursor is None


def search_text() -> str:
    """The list's search box (``q``), cleaned of control characters and trimmed."""
    return CONTROL_ANY.sub("", request.args.get("q", "")).strip()[:MAX_QUERY_LENGTH]


def list_page(
    query_for: Callable[[str], Select[Any]],
    id_column: Any,
    sorts: dict[str, tuple[Any, str]],
    default_sort: str,
    page_size: int = PAGE_SIZE,
) -> ListPage[Any]:
    """The page of ``query_for(q)`` that ``q``, ``sort`` and ``cursor`` in the query
    string ask for. A hand-edited sort or a stale cursor shows the first page in the
    default order: a list page never answers an error for its own links."""
    q = search_text()
    cursor = request.args.get("cursor") or None
    try:
        sort = parse_sort(request.args.get("sort"), sorts, default_sort)
    except ApiError:
        sort, cursor = parse_sort(None, sorts, default_sort), None

    def fetch(at: str | None) -> tuple[list[Any], str | None]:
        stmt = paginate(query_for(q), sort, id_column, at, page_size)
        return page(list(db.session.scalars(stmt)), sort, page_size)

    try:
        rows, next_cursor = fetch(cursor)
    except ApiError:
        cursor = None
        rows, next_cursor = fetch(None)
    return ListPage(
        rows=rows,
        q=q,
        sort=("-" if sort.descending else "") + sort.name,
        cursor=cursor,
        next_cursor=next_cursor,
    )


def record_or_404(
    get_visible: Callable[[Any, Actor, int], T | None],
    actor: Actor,
    resource: str,
    record_id: int,
    action: str = "view",
) -> T:
    """The record if ``actor`` may see it (404 otherwise, like a missing one) and may
    ``action`` it (403)."""
    record = get_visible(db.session, actor, record_id)
    if record is None:
        abort(404)
    if action != "view" and not record_in_scope(
        actor, resource, action, getattr(record, "owner_id", None)
    ):
        abort(403)
    return record
