"""Account pages on a workspace host: password reset, email verification, profile,
two-factor sign-in."""

from __future__ import annotations

from app.hosts import workspace_blueprint
from app.web import guards

bp = workspace_blueprint("account", __name__)
guards.install(bp)
