"""The read-only rule of an unpaid workspace, asked by the page guard
(``app.web.guards``) and the API (``app.api.views``) before any write.

Reads keep working; every write (a request whose method is not safe) is refused, except
what a member needs to get out of the state: signing in and out, their own account, and
the billing page (Checkout and the Customer Portal, to pay). API answer: 403
``read_only``. Pages: a 403 page saying why and where to pay.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.database import DbSession
from billing.limits import tenant_plan

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Page areas and endpoints that stay writable in a read-only workspace.
WRITABLE_BLUEPRINTS = frozenset({"account", "billing"})
WRITABLE_ENDPOINTS = frozenset({"workspace.login", "workspace.logout", "workspace.suspended"})
READ_ONLY_CODE = "read_only"
READ_ONLY_MESSAGE = _l(
    "This workspace is read-only because its subscription is unpaid. Everything can be "
    "viewed; changes are possible again once the open invoice is paid (the workspace "
    "owner can do that on the Billing page)."
)


def is_read_only(session: DbSession, tenant_id: int) -> bool:
    """Whether the tenant's subscription makes its workspace read-only (cached per
    session with the plan, so a create that checks its limits pays nothing more)."""
    return tenant_plan(session, tenant_id).read_only


def refuses(session: DbSession, tenant_id: int, method: str, endpoint: str | None) -> bool:
    """Whether a ``method`` request to ``endpoint`` must be refused as a write to a
    read-only workspace."""
    if method in SAFE_METHODS:
        return False
    endpoint = endpoint or ""
    if endpoint in WRITABLE_ENDPOINTS or endpoint.split(".", 1)[0] in WRITABLE_BLUEPRINTS:
        return False
    return is_read_only(session, tenant_id)
