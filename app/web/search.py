"""Workspace page: search results over contacts, companies and deals (``/search?q=``).

The top navigation's search box submits here; with JavaScript its typeahead
(static/search.js) asks ``GET /api/v1/search`` instead and only falls back to this page
for "all results". A query that is too short is not an error page: the page says what
to type, with the box ready for it.
"""

from __future__ import annotations

from flask import render_template, request
from flask_login import login_required

from app.database import db
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.search import services as search_services
from app.web import guards
from app.web.workspace import member

bp = workspace_blueprint("search", __name__)
guards.install(bp)

# Hits per kind on the page; each group links to its full list for more.
PAGE_LIMIT = 20

LIST_PAGES = {
    "contact": "workspace.contacts",
    "company": "companies.companies",
    "deal": "deals.deal_list",
}
DETAIL_PAGES = {
    "contact": ("workspace.contact_detail", "contact_id"),
    "company": ("companies.company_detail", "company_id"),
    "deal": ("deals.deal_detail", "deal_id"),
}


@bp.get("/search")
@login_required
def results() -> tuple[str, int] | str:
    """The best hits of each kind the member may see, grouped by kind."""
    raw = request.args.get("q", "")
    try:
        found = search_services.search(db.session, member().actor, raw, limit_per_kind=PAGE_LIMIT)
    except InvalidInput as refusal:
        # An empty box (the page opened from the navigation) is no mistake; otherwise
        # the page says what to type (in the member's language, hence a key).
        messages = refusal.details.get("q", [])
        problem = None
        if raw.strip():
            problem = "too_long" if search_services.QUERY_TOO_LONG in messages else "too_short"
        status = 400 if problem else 200
        return (
            render_template(
                "workspace/search/results.html",
                q=raw.strip()[: search_services.MAX_QUERY_LENGTH],
                results=None,
                problem=problem,
                list_pages=LIST_PAGES,
                detail_pages=DETAIL_PAGES,
                page_limit=PAGE_LIMIT,
            ),
            status,
        )
    return render_template(
        "workspace/search/results.html",
        q=found.q,
        results=found,
        problem=None,
        list_pages=LIST_PAGES,
        detail_pages=DETAIL_PAGES,
        page_limit=PAGE_LIMIT,
    )
