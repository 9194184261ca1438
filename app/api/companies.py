"""REST API: companies (routes on the shared API blueprint).

Handlers stay thin: parse -> authorize -> fetch through the access helper -> service
-> serialize. Scope decides visibility in SQL; out-of-scope ids are 404 like missing
ones, and forbidden actions on visible companies are 403.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from app.access.policy import record_in_scope
from app.api import record_lists
from app.api.pagination import page, paginate, parse_limit, parse_sort
from app.api.views import (
    CONTACT_SORTS,
    _json_body,
    _load,
    _query_args,
    _require,
    bp,
    contact_payloads,
    member,
)
from app.companies import services as companies
from app.companies.models import Company
from app.companies.schemas import CompanyContactsArgs, CompanySchema
from app.contacts import services as contacts
from app.contacts.models import Contact
from app.database import db
from app.errors import ApiError, not_found

_company = CompanySchema()
_company_many = CompanySchema(many=True)
_company_update = CompanySchema(partial=True)
_contacts_args = CompanyContactsArgs()


def company_payloads(items: list[Company]) -> list[dict[str, Any]]:
    """Companies as the API answers them, with the caller's count of their contacts."""
    counts = companies.contact_counts(db.session, member().actor, (c.id for c in items))
    payloads: list[dict[str, Any]] = _company_many.dump(items)
    for payload in payloads:
        payload["contact_count"] = counts.get(payload["id"], 0)
    return payloads


def _fetch_company(company_id: int, action: str = "view") -> Company:
    """The company if the caller may see it (else 404) and may ``action`` it (else 403)."""
    actor = member().actor
    company = companies.get_visible_company(db.session, actor, company_id)
    if company is None:
        raise not_found()
    if action != "view" and not record_in_scope(actor, "companies", action, company.owner_id):
        raise ApiError(403, "forbidden", f"Your role may not {action} this company.")
    return company


@bp.get("/companies")
def list_companies() -> Response:
    """Companies the caller may see; ``q`` searches name and domain, filters narrow
    (app.lists.filters)."""
    _require("companies", "view")
    args = _query_args()
    items, next_cursor = record_lists.list_page(db.session, member().actor, "company", args)
    return jsonify({"items": company_payloads(items), "next_cursor": next_cursor})


@bp.post("/companies")
def create_company() -> tuple[Response, int, dict[str, str]]:
    """Create a company (owned by the caller unless ``owner_id`` says otherwise)."""
    _require("companies", "create")
    data = _load(_company, _json_body())
    company = companies.create_company(db.session, member().actor, data)
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_company", company_id=company.id)
    return jsonify(company_payloads([company])[0]), 201, {"Location": location}


@bp.get("/companies/<int:company_id>")
def get_company(company_id: int) -> Response:
    """One company (404 when missing, another tenant's, or out of scope)."""
    _require("companies", "view")
    return jsonify(company_payloads([_fetch_company(company_id)])[0])


@bp.patch("/companies/<int:company_id>")
def update_company(company_id: int) -> Response:
    """Change some fields of a company."""
    _require("companies", "edit")
    company = _fetch_company(company_id, "edit")
    data = _load(_company_update, _json_body())
    companies.update_company(db.session, member().actor, company, data)
    return jsonify(company_payloads([company])[0])


@bp.delete("/companies/<int:company_id>")
def delete_company(company_id: int) -> tuple[str, int]:
    """Delete a company; its contacts and deals stay, unlinked."""
    _require("companies", "delete")
    company = _fetch_company(company_id, "delete")
    companies.delete_company(db.session, member().actor, company)
    return "", 204


@bp.get("/companies/<int:company_id>/contacts")
def list_company_contacts(company_id: int) -> Response:
    """The company's contacts that the caller may see, cursor-paginated."""
    _require("companies", "view")
    _require("contacts", "view")
    company = _fetch_company(company_id)
    args = _load(_contacts_args, _query_args())
    limit = parse_limit(args["limit"])
    sort = parse_sort(args["sort"], CONTACT_SORTS, "last_name")
    stmt = contacts.visible_contacts_query(member().actor, company_id=company.id)
    rows = list(db.session.scalars(paginate(stmt, sort, Contact.id, args["cursor"], limit)))
    items, next_cursor = page(rows, sort, limit)
    return jsonify({"items": contact_payloads(items), "next_cursor": next_cursor})
