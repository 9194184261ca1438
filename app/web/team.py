"""Team pages on a workspace host: members, invitations, seats."""

from __future__ import annotations

from app.hosts import workspace_blueprint
from app.web import guards

bp = workspace_blueprint("team", __name__)
guards.install(bp)
