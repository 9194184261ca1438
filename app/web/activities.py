"""Workspace pages: activities."""

from __future__ import annotations

from app.hosts import workspace_blueprint
from app.web import guards

bp = workspace_blueprint("activities", __name__)
guards.install(bp)
