"""OpenAPI documentation of the deals endpoints."""

from __future__ import annotations

from typing import Any

from apispec import APISpec

TAG: dict[str, Any] = {"name": "deals", "description": "Deals."}


def document(spec: APISpec) -> None:
    """Add the deals schemas and paths to ``spec``."""
