"""Apex host vs. workspace hosts.

Flask matches the subdomain of ``SERVER_NAME``: blueprints made with
:func:`workspace_blueprint` only answer on ``<slug>.<SERVER_NAME>`` and bind that tenant
before any view runs; plain blueprints answer on the apex host only. Any other host
finds no route at all (404).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, url_for

from app.database import db
from tenants.resolution import resolve_from_subdomain

SUBDOMAIN = "<tenant_slug>"


def workspace_blueprint(name: str, import_name: str, **kwargs: Any) -> Blueprint:
    """A blueprint served on tenant hosts; the tenant is bound before its views run."""
    bp = Blueprint(name, import_name, subdomain=SUBDOMAIN, **kwargs)

    @bp.url_value_preprocessor
    def _bind_tenant(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        # Absent only when the blueprint is also registered on the apex host (the API).
        if values is not None and "tenant_slug" in values:
            resolve_from_subdomain(db.session, values.pop("tenant_slug"))

    @bp.url_defaults
    def _current_slug(endpoint: str, values: dict[str, Any]) -> None:
        tenant = g.get("tenant")
        if tenant is not None and current_app.url_map.is_endpoint_expecting(
            endpoint, "tenant_slug"
        ):
            values.setdefault("tenant_slug", tenant.slug)

    return bp


def workspace_url(tenant: Any, endpoint: str, **values: Any) -> str:
    """An absolute URL of ``endpoint`` on ``tenant``'s host, in the configured scheme:
    mail and task output are read far from any request (whose scheme, behind a proxy,
    may not be the public one)."""
    return url_for(
        endpoint,
        tenant_slug=tenant.slug,
        _external=True,
        _scheme=current_app.config.get("PREFERRED_URL_SCHEME", "http"),
        **values,
    )
