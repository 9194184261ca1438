"""OpenAPI documentation of the companies endpoints.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together.
"""

from __future__ import annotations

import copy
from typing import Any

from apispec import APISpec

from app.api import lists_openapi
from app.api.openapi_parts import NEXT_PAGE, list_schema
from app.api.openapi_parts import error_response as _error
from app.api.openapi_parts import json_response as _json
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.api.views import CONTACT_SORTS
from app.companies.schemas import CompanySchema
from app.tags import MAX_TAG_LENGTH, MAX_TAGS

TAG: dict[str, Any] = {
    "name": "companies",
    "description": "Organisations your team sells to; contacts and deals may belong to one.",
}

_INT64 = ("id", "owner_id")


def _components(spec: APISpec) -> None:
    """``Company`` (as answered: every field present) and ``CompanyInput`` (as accepted:
    writable fields only; unknown fields refused)."""
    spec.components.schema("Company", schema=CompanySchema)
    generated = spec.to_dict()["components"]["schemas"]["Company"]
    company = copy.deepcopy(generated)
    company["required"] = sorted(company["properties"])
    company["additionalProperties"] = False
    company["description"] = (
        "A company. `owner_id` is the user id of the member who owns it; `contact_count` "
        "counts the contacts you may see."
    )
    for name in _INT64:
        company["properties"][name]["format"] = "int64"
    company["properties"]["tags"]["maxItems"] = MAX_TAGS
    writable = {
        name: {k: v for k, v in prop.items() if k != "default"}
        for name, prop in company["properties"].items()
        if not prop.get("readOnly")
    }
    company_input = {
        "type": "object",
        "additionalProperties": False,
        "properties": writable,
        "description": (
            "Writable company fields; unknown or read-only fields are refused (400). "
            "`name` is required on create. `domain` is stored as a bare lower-case host "
            "name (scheme, path and a leading `www.` are dropped) and must look like one. "
            "`owner_id` defaults to you; it must be an active member, and roles whose "
            "company scope is not `all` may only name themselves. Tags are trimmed and "
            f"deduplicated ignoring case (at most {MAX_TAGS}, {MAX_TAG_LENGTH} characters "
            "each). `custom_fields` holds values by key of the workspace's company fields "
            "(see /api/v1/custom-fields); a required one must be given on create."
        ),
    }
    spec.components.schemas["Company"] = company
    spec.components.schema("CompanyInput", component=company_input)
    spec.components.schema(
        "CompanyList",
        component=list_schema(
            "Company",
            cursor_description=NEXT_PAGE,
        ),
    )


def _paging(sorts: list[str], default: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "sort",
            "in": "query",
            "schema": {
                "type": "string",
                "default": default,
                "enum": [*sorts, *(f"-{s}" for s in sorts)],
            },
            "description": "Sort key; prefix with '-' for descending. Ties are broken by id.",
        },
        {
            "name": "cursor",
            "in": "query",
            "schema": {"type": "string", "maxLength": 500},
            "description": "`next_cursor` of the previous page, with the same sort.",
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
    ]


def document(spec: APISpec) -> None:
    """Add the companies schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS

    _components(spec)
    company_id = {
        "name": "company_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "format": "int64", "minimum": 1},
    }
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CompanyInput"}}},
    }
    list_errors = {
        "400": _error(
            "Invalid filter, sort, limit or cursor, or an unknown or repeated parameter."
        ),
        **COMMON_ERRORS,
    }
    location = {
        "Location": {"description": "URL of the new company.", "schema": {"type": "string"}}
    }
    spec.path(
        path="/api/v1/companies",
        operations={
            "get": {
                "operationId": "list_companies",
                "summary": "List companies",
                "tags": ["companies"],
                "parameters": lists_openapi.list_parameters("company"),
                "responses": {
                    "200": _json("CompanyList", "A page of companies you may see."),
                    **list_errors,
                },
            },
            "post": {
                "operationId": "create_company",
                "summary": "Create a company",
                "tags": ["companies"],
                "requestBody": body,
                "responses": {
                    "201": _json("Company", "Created.", headers=location),
                    **BODY_ERRORS,
                    **COMMON_ERRORS,
                },
            },
        },
    )
    spec.path(
        path="/api/v1/companies/{company_id}",
        operations={
            "get": {
                "operationId": "get_company",
                "summary": "Get a company",
                "tags": ["companies"],
                "parameters": [company_id],
                "responses": {"200": _json("Company", "The company."), **COMMON_ERRORS},
            },
            "patch": {
                "operationId": "update_company",
                "summary": "Update some fields of a company",
                "tags": ["companies"],
                "parameters": [company_id],
                "requestBody": body,
                "responses": {"200": _json("Company", "Updated."), **BODY_ERRORS, **COMMON_ERRORS},
            },
            "delete": {
                "operationId": "delete_company",
                "summary": "Delete a company",
                "description": "Its contacts and deals are kept; they no longer name a company.",
                "tags": ["companies"],
                "parameters": [company_id],
                "responses": {"204": {"description": "Deleted."}, **COMMON_ERRORS},
            },
        },
    )
    spec.path(
        path="/api/v1/companies/{company_id}/contacts",
        operations={
            "get": {
                "operationId": "list_company_contacts",
                "summary": "List a company's contacts",
                "description": "The contacts of the company that you may see.",
                "tags": ["companies", "contacts"],
                "parameters": [company_id, *_paging(sorted(CONTACT_SORTS), "last_name")],
                "responses": {
                    "200": _json("ContactList", "A page of the company's contacts."),
                    **list_errors,
                },
            }
        },
    )
