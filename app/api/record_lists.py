"""One page of a contact, company or deal list for the API: the query string's filters
(:mod:`app.lists.filters`), ``sort`` (any sortable column or ``cf.<key>``), ``cursor``
and ``limit``. Shared by the list endpoints and a segment's items, so that both read
the same parameters the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.access.policy import Actor
from app.api.pagination import page, paginate, parse_limit, parse_sort
from app.database import DbSession
from app.errors import validation_error
from app.lists.filters import ENTITIES, filtered_query, parse_filters, sort_options

DEFAULT_SORTS = {"contact": "-created_at", "company": "name", "deal": "-created_at"}
MAX_CURSOR = 500


def list_page(
    session: DbSession,
    actor: Actor,
    entity: str,
    args: Mapping[str, str],
    *,
    filters: Mapping[str, Any] | None = None,
    default_sort: str | None = None,
) -> tuple[list[Any], str | None]:
    """The page of ``entity`` records ``actor`` may view that ``args`` asks for.

    ``args`` holds ``sort``, ``cursor``, ``limit`` and, unless ``filters`` is given (a
    segment's stored filters), the filters; anything else is refused (400)."""
    args = dict(args)
    limit = parse_limit(args.pop("limit", None))
    cursor = args.pop("cursor", None) or None
    if cursor is not None and len(cursor) > MAX_CURSOR:
        raise validation_error({"cursor": ["Invalid cursor; start again without it."]})
    raw_sort = args.pop("sort", None) or None
    options = sort_options(session, entity, raw_sort or default_sort)
    if default_sort is None or default_sort.lstrip("-") not in options:
        # A segment's own order may name a custom field deleted since.
        default_sort = DEFAULT_SORTS[entity]
    sort = parse_sort(raw_sort, options, default_sort)
    if filters is None:
        filters = parse_filters(session, entity, args)
    elif args:
        raise validation_error({name: ["Unknown parameter."] for name in args})
    stmt = filtered_query(session, actor, entity, filters)
    rows = list(session.scalars(paginate(stmt, sort, ENTITIES[entity].id, cursor, limit)))
    return page(rows, sort, limit)
