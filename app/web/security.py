"""Security headers on every response (pages, the API, errors, static files).

The Content-Security-Policy allows scripts, styles and images from the app's own origin
only: no inline script or style anywhere, so an injected ``<script>`` or ``style=`` does
nothing. Forms may post to this origin and to workspace hosts (the apex "find my
workspace" form redirects there). A view that sets its own policy (a sandboxed mail
preview, say) keeps it.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from werkzeug.wrappers import Response

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(scheme: str, server_name: str) -> str:
    """The policy for this deployment's host names.

    Static files are served by the apex host for every workspace (one cached copy), so
    the apex origin counts as "self" for scripts, styles, images and fonts.
    """
    apex = f"{scheme}://{server_name}"
    workspaces = f"{scheme}://*.{server_name}"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {apex}",
            f"style-src 'self' {apex}",
            f"img-src 'self' {apex} data:",
            f"font-src 'self' {apex}",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "object-src 'none'",
            f"form-action 'self' {workspaces}",
        ]
    )


def no_store(response: Response) -> Response:
    """Keep ``response`` out of every cache (pages that show secrets or codes)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def token_page() -> None:
    """Mark the current request's page as carrying a secret in its address: not cached,
    and no referrer at all, so the link's token can not leak to another page."""
    g.token_page = True


def _add_headers(response: Response) -> Response:
    config = current_app.config
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = current_app.extensions["crm_csp"]
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if g.get("token_page"):
        headers["Referrer-Policy"] = "no-referrer"
        no_store(response)
    else:
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if config.get("PREFERRED_URL_SCHEME") == "https":
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Compute the policy once and register the response hook."""
    app.extensions["crm_csp"] = content_security_policy(
        str(app.config.get("PREFERRED_URL_SCHEME") or "http"),
        str(app.config.get("SERVER_NAME") or "localhost"),
    )
    app.after_request(_add_headers)
