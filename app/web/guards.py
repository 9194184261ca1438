"""Checks every page of a workspace host runs before its view.

Each workspace blueprint installs them (:func:`install`), so a page added in any area
gets the same treatment: a session cookie that names another workspace (or a removed
member) answers 404 as if the page did not exist, a suspended workspace shows its
notice and nothing else, where the workspace requires two-factor sign-in, a member
without it is sent to set it up before anything else, and a workspace whose
subscription is unpaid refuses writes (billing.access).
"""

from __future__ import annotations

from flask import Blueprint, abort, g, make_response, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.database import db
from billing import access as billing_access
from tenants.models import TenantStatus

# Reachable while the workspace is suspended: the notice itself, and signing out.
SUSPENDED_ENDPOINTS = frozenset({"workspace.suspended", "workspace.logout"})
# Reachable by a member who still has to set up a required second factor.
ENROLMENT_ENDPOINTS = frozenset(
    {
        "account.security_settings",
        "account.totp_start",
        "account.totp_confirm",
        "workspace.logout",
        "workspace.suspended",
    }
)


def workspace_guard() -> Response | None:
    """The checks, in order; a response ends the request there."""
    # Loading the member flags a cookie that names another workspace (or a removed
    # member); such a visitor gets "not found", as if the workspace were not there.
    _ = current_user.is_authenticated
    if g.get("foreign_identity"):
        abort(404)
    if g.tenant.status == TenantStatus.SUSPENDED and request.endpoint not in SUSPENDED_ENDPOINTS:
        return redirect(url_for("workspace.suspended"))
    if (
        g.tenant.require_two_factor
        and current_user.is_authenticated
        and current_user.user.totp_enabled_at is None
        and request.endpoint not in ENROLMENT_ENDPOINTS
    ):
        return redirect(url_for("account.security_settings"))
    if current_user.is_authenticated and billing_access.refuses(
        db.session, g.tenant.id, request.method, request.endpoint
    ):
        # An unpaid subscription: reads work, writes get the read-only page.
        from app.web.billing import read_only_refusal

        return make_response(read_only_refusal())
    return None


def install(bp: Blueprint) -> None:
    """Run :func:`workspace_guard` before every view of ``bp``."""
    bp.before_request(workspace_guard)
