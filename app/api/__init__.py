"""REST API v1, served on workspace hosts (session or token) and on the apex host
(token only)."""

from __future__ import annotations

from flask import Flask

from app.extensions import csrf


def init_app(app: Flask) -> None:
    """Register the API on workspace hosts and, for token callers, on the apex host."""
    from app.api import openapi  # noqa: F401  (adds its routes to the blueprint)
    from app.api.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(bp, name="api_apex", subdomain="")
    # Cookie-authenticated writes are checked in app.api.auth (X-CSRFToken header);
    # token callers need no CSRF token at all.
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith(("api.", "api_apex.")):
            csrf.exempt(view)
