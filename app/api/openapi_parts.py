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


# The plans' API rate limit (app.api.rate_limit): the headers it sets and its 429.
RATE_LIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Limit": {
        "description": "Requests the workspace's plan allows per window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the current window ends and the count starts over.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Policy": {
        "description": "The limit and its window in seconds, e.g. `60;w=60`.",
        "schema": {"type": "string", "example": "60;w=60"},
    },
    "Retry-After": {
        "description": "Seconds to wait before the next request is served.",
        "schema": {"type": "integer", "minimum": 1},
    },
}
RATE_LIMIT_NOTE = (
    " Each workspace's plan allows so many API requests per minute (all of its tokens "
    "and sessions together, in fixed 60-second windows); answers carry "
    "`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) and "
    "`RateLimit-Policy`, and past the limit the API answers 429 `rate_limited` with "
    "`Retry-After`. Plans without a limit get no such headers."
)


def document_rate_limits(document: dict[str, Any]) -> None:
    """Add the rate limit to a built document: its headers (components), a shared 429
    response, and that response on every operation that needs credentials (those
    documenting a 401)."""
    components = document.setdefault("components", {})
    components.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
    too_many = error_response(
        "The workspace's plan allows no more API requests in this window: wait "
        "`Retry-After` seconds (`details`: `limit`, `window_seconds`, `retry_after`)."
    )
    too_many["headers"] = {
        name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS
    }
    components.setdefault("responses", {})["RateLimited"] = too_many
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if responses and "401" in responses:
                responses.setdefault("429", {"$ref": "#/components/responses/RateLimited"})
    info = document.setdefault("info", {})
    info["description"] = info.get("description", "") + RATE_LIMIT_NOTE
