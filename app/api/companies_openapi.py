"""OpenAPI documentation of the companies endpoints."""

from __future__ import annotations

from typing import Any

from apispec import APISpec

TAG: dict[str, Any] = {"name": "companies", "description": "Companies."}


def document(spec: APISpec) -> None:
    """Add the companies schemas and paths to ``spec``."""
