"""OpenAPI documentation of the activities endpoints."""

from __future__ import annotations

from typing import Any

from apispec import APISpec

TAG: dict[str, Any] = {"name": "activities", "description": "Activities."}


def document(spec: APISpec) -> None:
    """Add the activities schemas and paths to ``spec``."""
