"""REST API: likely duplicate contacts and companies, and merging two into one (routes
on the shared API blueprint).

Handlers stay thin: parse -> authorize -> fetch through the access helpers -> service
-> serialize. Both records of a merge must be visible (else 404, like missing ones);
the kept one editable and the merged one editable and deletable (else 403).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify
from sqlalchemy import select

from app.access.policy import record_in_scope
from app.api.companies import _fetch_company, company_payloads
from app.api.pagination import parse_limit
from app.api.views import (
    _fetch_contact,
    _json_body,
    _load,
    _query_args,
    _require,
    bp,
    contact_payloads,
    member,
)
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import db
from app.duplicates import finder
from app.duplicates.schemas import DuplicateListArgs, MergeSchema
from app.duplicates.services import MergeConflict, merge_companies, merge_contacts
from app.errors import ApiError

_list_args = DuplicateListArgs()
_merge_body = MergeSchema()


def _suggestions(
    page: finder.SuggestionPage, model: Any, payloads: Callable[[list[Any]], list[dict[str, Any]]]
) -> Response:
    """The page as ``{"items": [{"ids", "reasons", "records"}], "next_cursor"}``, the
    records as their own endpoints answer them (one query for the page)."""
    ids = {record_id for suggestion in page.items for record_id in suggestion.ids}
    rows = list(db.session.scalars(select(model).where(model.id.in_(ids)))) if ids else []
    by_id = {payload["id"]: payload for payload in payloads(rows)}
    items = [
        {
            "ids": list(suggestion.ids),
            "reasons": list(suggestion.reasons),
            "records": [by_id[record_id] for record_id in suggestion.ids],
        }
        for suggestion in page.items
    ]
    return jsonify({"items": items, "next_cursor": page.next_cursor})


def _merge(
    resource: str,
    noun: str,
    record_id: int,
    fetch: Callable[[int, str], Any],
    merge: Callable[..., Any],
    payloads: Callable[[list[Any]], list[dict[str, Any]]],
) -> Response:
    """Merge the record ``other_id`` of the body into ``record_id``; answers the kept one.

    Both must be visible (else 404) and editable, the other deletable too (else 403)."""
    _require(resource, "edit")
    _require(resource, "delete")
    keep = fetch(record_id, "edit")
    data = _load(_merge_body, _json_body())
    other = fetch(data["other_id"], "edit")
    if not record_in_scope(member().actor, resource, "delete", other.owner_id):
        raise ApiError(403, "forbidden", f"Your role may not delete the other {noun}.")
    try:
        merge(db.session, member().actor, keep, other, data["choices"])
    except MergeConflict as exc:
        raise ApiError(409, "conflict", exc.message) from exc
    return jsonify(payloads([keep])[0])


@bp.get("/contacts/duplicates")
def contact_duplicates() -> Response:
    """Likely duplicate contacts among those the caller may edit and delete."""
    _require("contacts", "edit")
    args = _load(_list_args, _query_args())
    found = finder.find_contact_duplicates(
        db.session, member().actor, args["cursor"], parse_limit(args["limit"])
    )
    return _suggestions(found, Contact, contact_payloads)


@bp.post("/contacts/<int:contact_id>/merge")
def merge_contact(contact_id: int) -> Response:
    """Merge the contact ``other_id`` into this one; answers the kept contact."""
    return _merge(
        "contacts", "contact", contact_id, _fetch_contact, merge_contacts, contact_payloads
    )


@bp.get("/companies/duplicates")
def company_duplicates() -> Response:
    """Likely duplicate companies among those the caller may edit and delete."""
    _require("companies", "edit")
    args = _load(_list_args, _query_args())
    found = finder.find_company_duplicates(
        db.session, member().actor, args["cursor"], parse_limit(args["limit"])
    )
    return _suggestions(found, Company, company_payloads)


@bp.post("/companies/<int:company_id>/merge")
def merge_company(company_id: int) -> Response:
    """Merge the company ``other_id`` into this one; answers the kept company."""
    return _merge(
        "companies", "company", company_id, _fetch_company, merge_companies, company_payloads
    )
