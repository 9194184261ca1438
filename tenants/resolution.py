"""Which tenant a request belongs to: from its host's subdomain or its API token only.

Never from a header or body field a client can set. An unknown subdomain is a 404, never
a fallback. The bound tenant lives in the ContextVar of :mod:`tenants.context` for the
rest of the request and is reset at teardown.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, g, request
from sqlalchemy import select

from app.database import DbSession
from tenants.binding import end_transaction_for_rebind
from tenants.context import TenantRef, reset_current_tenant, set_current_tenant
from tenants.models import LIVE_STATUSES, Tenant
from tenants.naming import SLUG_RE

_TOKEN_KEY = "_crm_tenant_token"  # noqa: S105 - a g attribute name


class TenantSuspended(Exception):
    """The workspace exists but is suspended: its users get a clear page or 403."""


def ref_of(tenant: Tenant) -> TenantRef:
    """The binding reference of a loaded tenant row."""
    assert tenant.schema_name is not None, "a live tenant always has a schema"
    return TenantRef(id=tenant.id, slug=tenant.slug, schema_name=tenant.schema_name)


def find_servable_tenant(session: DbSession, slug: str) -> Tenant | None:
    """The active or suspended tenant with ``slug``; None for anything else.

    Malformed slugs never reach SQL; provisioning and deleted tenants are invisible.
    """
    if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug):
        return None
    return session.scalars(
        select(Tenant).where(Tenant.slug == slug, Tenant.status.in_(LIVE_STATUSES))
    ).first()


def activate(session: DbSession, tenant: Tenant) -> None:
    """Bind ``tenant`` for the rest of this request.

    The transaction that looked the tenant up ran unbound; it is closed first so that
    the next one begins with the tenant's search path.
    """
    current = getattr(g, "tenant", None)
    if current is not None:
        if current.id != tenant.id:
            # A request never switches tenants (e.g. host of A with a token of B).
            abort(404)
        return
    # Bind first, then end the unbound transaction: anything that begins afterwards
    # (even the refresh of the expired tenant row) begins bound.
    g.tenant = tenant
    g.tenant_ref = ref_of(tenant)
    setattr(g, _TOKEN_KEY, set_current_tenant(g.tenant_ref))
    end_transaction_for_rebind(session)


def resolve_from_subdomain(session: DbSession, slug: str) -> Tenant:
    """Bind the tenant named by the request's subdomain, or answer 404."""
    tenant = find_servable_tenant(session, slug)
    if tenant is None:
        abort(404)
    activate(session, tenant)
    return tenant


def _reset(_exc: BaseException | None = None) -> None:
    token: Any = g.pop(_TOKEN_KEY, None)
    if token is not None:
        reset_current_tenant(token)


def _refuse_malformed_host(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Werkzeug drops empty labels when it splits off the subdomain, so ".<domain>" would
    # be served as the apex and "..acme.<domain>" as acme: such hosts are not ours. This
    # runs before any blueprint binds a tenant.
    host = request.host
    if host and not host.startswith("[") and "" in host.rsplit(":", 1)[0].split("."):
        abort(404)


def init_app(app: Flask) -> None:
    """Refuse malformed hosts; reset the binding at the end of every request."""
    app.url_value_preprocessor(_refuse_malformed_host)
    app.teardown_request(_reset)
