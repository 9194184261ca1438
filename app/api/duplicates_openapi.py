"""OpenAPI documentation of the duplicates endpoints (finding likely duplicates and
merging them).

Called by :func:`app.api.openapi.build_spec` after the contact and company components
exist; kept beside the handlers so that the endpoints and their description change
together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apispec import APISpec

from app.api.openapi_parts import error_response as _error
from app.api.openapi_parts import json_response as _json
from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.duplicates.finder import (
    COMPANY_REASONS,
    CONTACT_REASONS,
    MIN_PHONE_DIGITS,
    PER_REASON,
    SCAN_LIMITS,
)
from app.duplicates.services import BOTH, KEEP, OTHER

TAG: dict[str, Any] = {
    "name": "duplicates",
    "description": (
        "Likely duplicate contacts and companies, and merging two records into one "
        "without losing any activity, deal, comment or history entry of either."
    ),
}


@dataclass(frozen=True)
class _Entity:
    plural: str
    ref: str
    reasons: tuple[str, ...]
    why: str
    moves: str
    fields: str
    extra: str = ""


_ENTITIES = {
    "contact": _Entity(
        plural="contacts",
        ref="Contact",
        reasons=CONTACT_REASONS,
        why=(
            "`same_email` (ignoring case), `same_phone` (the same digits, at least "
            f"{MIN_PHONE_DIGITS}, however formatted) and `similar_name_same_company` (very "
            "similar full names, linked to the same company)."
        ),
        moves="activities, deals, comments and timeline entries",
        fields=(
            "first_name, last_name, email, phone, title, company_name, company_id, source, "
            "birthday, notes, owner_id"
        ),
        extra=" The merged contact's place in the plan's allowance is given back.",
    ),
    "company": _Entity(
        plural="companies",
        ref="Company",
        reasons=COMPANY_REASONS,
        why=(
            "`same_domain` and `similar_name` (very similar names once legal forms such as "
            "Inc or GmbH are set aside, with the same numbers in them)."
        ),
        moves="contacts, activities, deals, comments and timeline entries",
        fields="name, domain, industry, size, address, phone, notes, owner_id",
    ),
}


def _components(spec: APISpec) -> None:
    for info in _ENTITIES.values():
        ref = info.ref
        spec.components.schema(
            f"{ref}Duplicate",
            component={
                "type": "object",
                "required": ["ids", "reasons", "records"],
                "additionalProperties": False,
                "properties": {
                    "ids": {
                        "type": "array",
                        "items": {"type": "integer", "format": "int64"},
                        "minItems": 2,
                        "maxItems": 2,
                        "description": "The two records, lower id first.",
                    },
                    "reasons": {
                        "type": "array",
                        "items": {"type": "string", "enum": list(info.reasons)},
                        "minItems": 1,
                        "description": f"Why they look alike, strongest first: {info.why}",
                    },
                    "records": {
                        "type": "array",
                        "items": {"$ref": f"#/components/schemas/{ref}"},
                        "minItems": 2,
                        "maxItems": 2,
                        "description": f"The two {info.plural}, in the order of `ids`.",
                    },
                },
            },
        )
        spec.components.schema(
            f"{ref}DuplicateList",
            component={
                "type": "object",
                "required": ["items", "next_cursor"],
                "additionalProperties": False,
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {"$ref": f"#/components/schemas/{ref}Duplicate"},
                    },
                    "next_cursor": {
                        "type": "string",
                        "nullable": True,
                        "description": (
                            "Pass as `cursor` for the next page; null when every record "
                            "was looked at. A page can be short, or empty, and still have "
                            "one: each page looks at a bounded number of records."
                        ),
                    },
                },
            },
        )
    spec.components.schema(
        "MergeInput",
        component={
            "type": "object",
            "required": ["other_id"],
            "additionalProperties": False,
            "properties": {
                "other_id": {
                    "type": "integer",
                    "format": "int64",
                    "minimum": 1,
                    "description": "The record merged into (and then removed for) this one.",
                },
                "fields": {
                    "type": "object",
                    "maxProperties": 200,
                    "additionalProperties": {"type": "string", "enum": [KEEP, OTHER, BOTH]},
                    "description": (
                        "Per field (or `custom_fields.<key>`): whose value the kept record "
                        f"takes, `{KEEP}` or `{OTHER}`; `{BOTH}` keeps the notes of both, "
                        "when both have notes. A field left out keeps this record's value, "
                        "or takes the other's when this one has none; notes written on "
                        "both are kept both. Tags are always united, and custom field "
                        "values merged (this record's win unless the other's are chosen)."
                    ),
                },
            },
        },
    )


def document(spec: APISpec) -> None:
    """Add the duplicates schemas and paths to ``spec``."""
    from app.api.openapi import BODY_ERRORS, COMMON_ERRORS

    _components(spec)
    for entity, info in _ENTITIES.items():
        plural, ref = info.plural, info.ref
        record_id = {
            "name": f"{entity}_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "format": "int64", "minimum": 1},
            "description": f"The {entity} that is kept.",
        }
        spec.path(
            path=f"/api/v1/{plural}/duplicates",
            operations={
                "get": {
                    "operationId": f"{entity}_duplicates",
                    "summary": f"List likely duplicate {plural}",
                    "description": (
                        f"Pairs of {plural} that you may edit and delete and that look like "
                        f"one: {info.why} Each pair is listed once. Pages look at up to "
                        f"{SCAN_LIMITS[entity]:,} {plural} each, in id order, so follow "
                        f"`next_cursor` until it is null. A {entity} is paired with at most "
                        f"{PER_REASON} "
                        "others per reason. Needs the edit right."
                    ),
                    "tags": ["duplicates", plural],
                    "parameters": [
                        {
                            "name": "cursor",
                            "in": "query",
                            "schema": {"type": "string", "maxLength": 500},
                            "description": "`next_cursor` of the previous page.",
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
                            "description": "Most pairs per page.",
                        },
                    ],
                    "responses": {
                        "200": _json(f"{ref}DuplicateList", "A page of likely duplicates."),
                        "400": _error("Invalid cursor or limit, or an unknown parameter."),
                        **COMMON_ERRORS,
                    },
                }
            },
        )
        spec.path(
            path=f"/api/v1/{plural}/{{{entity}_id}}/merge",
            operations={
                "post": {
                    "operationId": f"merge_{entity}",
                    "summary": f"Merge another {entity} into this one",
                    "description": (
                        f"Moves every relation of `other_id` ({info.moves}) to this "
                        f"{entity}, takes the chosen values, then deletes `other_id`, in one "
                        f"transaction. The timeline of this {entity} gets a `merged` entry "
                        "saying what came over; the audit log keeps every value of the "
                        f"merged {entity}. Choosable fields: {info.fields}, and "
                        "`custom_fields.<key>`. Both records must be ones you may see "
                        f"(else 404); this one editable and `other_id` editable and "
                        f"deletable (else 403).{info.extra}"
                    ),
                    "tags": ["duplicates", plural],
                    "parameters": [record_id],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/MergeInput"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json(ref, f"The kept {entity}, as it is after the merge."),
                        **BODY_ERRORS,
                        "400": _error(
                            "Malformed JSON, an invalid body, `other_id` naming this same "
                            "record, a field that can not be chosen, a choice that does not "
                            "exist, or a result that breaks a rule (`details` says which, "
                            "e.g. `fields.email`)."
                        ),
                        **COMMON_ERRORS,
                        "409": _error(
                            "One of the records was merged or deleted by someone else at "
                            "the same time; nothing changed."
                        ),
                    },
                }
            },
        )
