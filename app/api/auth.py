"""Who is calling the API: a bearer token (any host) or a workspace session cookie.

A token names its own tenant; on a workspace host it must be that workspace's token,
or the request is refused (401) before anything is read. Cookie-authenticated writes
need the CSRF token in ``X-CSRFToken``, as forms do.
"""

from __future__ import annotations

import datetime as dt

from flask import g, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf

from app.api import rate_limit
from app.database import db, utcnow
from app.errors import ApiError
from app.identity.models import User
from app.identity.services import resolve_api_token, touch_api_token
from app.identity.sessions import Member
from tenants.models import Tenant, TenantStatus
from tenants.resolution import activate

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A token's "last used" time is written at most this often (a write per request would
# cost every API call a round trip and a commit).
TOUCH_EVERY = dt.timedelta(minutes=1)


def unauthorized(message: str = "Authentication required.") -> ApiError:
    """401 with the contract's body and a Bearer challenge."""
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="api"'}
    )


def authenticate_request() -> Member:
    """Authenticate the caller and bind their tenant; raise ApiError otherwise."""
    header = request.headers.get("Authorization")
    member = _from_token(header) if header is not None else _from_session()
    tenant = g.tenant
    if tenant.status == TenantStatus.SUSPENDED:
        raise ApiError(403, "tenant_suspended", "This workspace is suspended.")
    g.member = member
    rate_limit.enforce(tenant.id)  # the plan's requests per minute (429 past it)
    return member


def _from_token(header: str) -> Member:
    scheme, _, raw = header.partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw:
        raise unauthorized("Use 'Authorization: Bearer <token>'.")
    found = resolve_api_token(db.session, raw)
    if found is None:
        raise unauthorized("Invalid or revoked token.")
    token, tenant, user, membership = found
    host_tenant = g.get("tenant")
    if host_tenant is not None and host_tenant.id != tenant.id:
        # A token of one workspace on another workspace's host: refused outright.
        raise unauthorized("This token does not belong to this workspace.")
    if token.last_used_at is None or token.last_used_at < utcnow() - TOUCH_EVERY:
        touch_api_token(db.session, token.id)
        db.session.commit()
    activate(db.session, tenant)  # commits the lookup transaction, then binds
    _require_second_factor_if_asked(tenant, user)
    g.auth_method = "token"
    return Member(user=user, membership=membership)


def _require_second_factor_if_asked(tenant: Tenant, user: User) -> None:
    """A workspace that requires two-factor sign-in refuses members without it, on
    every credential: a token made before the rule (or by a member who never set it
    up) must not be the way around it. Setting it up makes the same token work."""
    if tenant.require_two_factor and user.totp_enabled_at is None:
        raise ApiError(
            403, "forbidden", "This workspace requires two-factor sign-in: set it up first."
        )


def _from_session() -> Member:
    if g.get("tenant") is None:
        raise unauthorized()
    if not current_user.is_authenticated:
        if g.get("foreign_identity"):
            raise ApiError(404, "not_found", "Not found.")
        raise unauthorized()
    if request.method in UNSAFE_METHODS:
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except CSRFError as exc:
            raise ApiError(403, "forbidden", "Missing or invalid X-CSRFToken header.") from exc
        except Exception as exc:  # flask-wtf raises ValidationError for bad tokens
            raise ApiError(403, "forbidden", "Missing or invalid X-CSRFToken header.") from exc
    member: Member = current_user._get_current_object()
    # The pages send this member to two-factor setup first; the API must not be the
    # way around it.
    _require_second_factor_if_asked(g.tenant, member.user)
    g.auth_method = "session"
    return member
