"""Response objects every ``*_openapi`` module describes its operations with."""

from __future__ import annotations

from typing import Any

# What a list's `next_cursor` is, for lists that page.
NEXT_PAGE = "Pass as `cursor` for the next page; null on the last page."


def error_response(description: str) -> dict[str, Any]:
    """A response with the contract's error body (``#/components/schemas/Error``)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def json_response(
    ref: str, description: str, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A JSON response whose body is the component schema ``ref`` (with ``headers``)."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def list_schema(
    ref: str, *, description: str = "", cursor_description: str | None = None
) -> dict[str, Any]:
    """The contract's list body, ``{"items": [<ref>...], "next_cursor": str|null}``."""
    cursor: dict[str, Any] = {"type": "string", "nullable": True}
    if cursor_description is not None:
        cursor["description"] = cursor_description
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["items", "next_cursor"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}},
            "next_cursor": cursor,
        },
    }
    if description:
        schema["description"] = description
    return schema
