"""OpenAPI documentation of the search endpoint.

Called by :func:`app.api.openapi.build_spec`; kept beside the handler so that the
endpoint and its description change together.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.api.openapi_parts import error_response, json_response, list_schema
from app.search.services import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY_LENGTH,
    MIN_PHONE_DIGITS,
    MIN_QUERY_LENGTH,
)

TAG: dict[str, Any] = {
    "name": "search",
    "description": "One search over contacts, companies and deals, as the search box does.",
}

HIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "id", "title", "subtitle", "match", "url"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": ["contact", "company", "deal"]},
        "id": {"type": "integer", "format": "int64"},
        "title": {
            "type": "string",
            "description": "The contact's name (or email), the company's name, the deal's title.",
        },
        "subtitle": {
            "type": "string",
            "description": "What tells records with the same title apart, as one line: a "
            "contact's email, company and phone; a company's domain, industry and phone; a "
            "deal's amount and stage. May be empty.",
        },
        "match": {
            "type": "string",
            "enum": ["exact", "prefix", "contains", "similar"],
            "description": "How the record matched: a whole field equals the query; a field "
            "or one of its words starts with it; a field contains it; or the record is only "
            "similar to it (a typo), offered when nothing matched otherwise.",
        },
        "url": {
            "type": "string",
            "description": "The record's page in the workspace (relative on the workspace "
            "host, absolute elsewhere).",
        },
    },
}


def document(spec: APISpec) -> None:
    """Add the search schemas and path to ``spec``."""
    from app.api.openapi import COMMON_ERRORS

    spec.components.schema("SearchHit", component=HIT_SCHEMA)
    spec.components.schema(
        "SearchResults",
        component=list_schema(
            "SearchHit",
            cursor_description="Always null: a search answers its best hits in one page.",
        ),
    )
    spec.path(
        path="/api/v1/search",
        operations={
            "get": {
                "operationId": "search",
                "summary": "Search contacts, companies and deals",
                "description": (
                    "The best `limit` records of each kind that you may see, contacts "
                    "first, then companies, then deals, each kind best first: exact "
                    "matches, then records where a word starts with `q`, then records "
                    "containing it; when nothing matches at all, records similar to it "
                    "(typos). Contacts match on name, email, company and phone; companies "
                    "on name, domain and phone; deals on title. Case is ignored; `%` and "
                    f"`_` are plain characters. Phone numbers match on their digits (at "
                    f"least {MIN_PHONE_DIGITS}) whatever the formatting. To page through "
                    "every match of one kind, use the list's own `q` (e.g. "
                    "`/api/v1/contacts?q=`)."
                ),
                "tags": ["search"],
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "minLength": MIN_QUERY_LENGTH,
                            "maxLength": MAX_QUERY_LENGTH,
                        },
                        "description": f"What to look for, {MIN_QUERY_LENGTH} to "
                        f"{MAX_QUERY_LENGTH} characters (spaces at the ends and repeated "
                        "spaces do not count).",
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
                        "description": "Hits per kind.",
                    },
                ],
                "responses": {
                    "200": json_response("SearchResults", "The hits, kind by kind."),
                    "400": error_response(
                        "`q` missing, too short or too long, a bad `limit`, or an unknown or "
                        "repeated parameter."
                    ),
                    **COMMON_ERRORS,
                },
            }
        },
    )
