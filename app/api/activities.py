"""REST API: activities (routes on the shared API blueprint)."""

from __future__ import annotations

from app.api.views import bp  # noqa: F401  (routes are added to it)
