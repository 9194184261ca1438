"""REST API: one search over contacts, companies and deals (routes on the shared API
blueprint).

``GET /api/v1/search?q=...&limit=...`` answers the list shape of every other list,
``{"items": [...], "next_cursor": null}``: the best ``limit`` hits of each kind the
caller may view, contacts first, then companies, then deals, each kind best first. It
is one page by design (a search box shows the best few; the record lists, with the
same ``q``, page through everything), so ``next_cursor`` is always null.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for
from marshmallow import Schema, fields, validate

from app.api.views import _load, _query_args, bp, member
from app.database import db
from app.errors import validation_error
from app.search import services as search_services
from app.search.services import Hit

# The pages that show each kind of record (endpoint, URL value).
PAGES: dict[str, tuple[str, str]] = {
    "contact": ("workspace.contact_detail", "contact_id"),
    "company": ("companies.company_detail", "company_id"),
    "deal": ("deals.deal_detail", "deal_id"),
}


class SearchArgs(Schema):
    """Query parameters of the search (unknown parameters are refused). ``q`` is checked
    by the service, which owns the rule."""

    q = fields.String(load_default=None, validate=validate.Length(max=1000))
    limit = fields.String(load_default=None, validate=validate.Length(max=10))


_args = SearchArgs()


def parse_limit(raw: str | None) -> int:
    """``limit``: hits per kind, 1-50 (default 5)."""
    if raw is None or raw == "":
        return search_services.DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= search_services.MAX_LIMIT:
        raise validation_error(
            {"limit": [f"Must be an integer between 1 and {search_services.MAX_LIMIT}."]}
        )
    return int(raw)


def hit_payload(hit: Hit) -> dict[str, Any]:
    """One hit as the API answers it; ``url`` is the record's page in the workspace."""
    endpoint, key = PAGES[hit.kind]
    values: dict[str, Any] = {key: hit.id}
    return {
        "type": hit.kind,
        "id": hit.id,
        "title": hit.title,
        "subtitle": hit.subtitle,
        "match": hit.match,
        "url": url_for(endpoint, **values),
    }


@bp.get("/search")
def search() -> Response:
    """Contacts, companies and deals matching ``q`` that the caller may see."""
    args = _load(_args, _query_args())
    limit = parse_limit(args["limit"])
    results = search_services.search(db.session, member().actor, args["q"], limit_per_kind=limit)
    return jsonify({"items": [hit_payload(hit) for hit in results.hits], "next_cursor": None})
