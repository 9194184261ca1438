"""Tenant lifecycle services (status changes are audited)."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.services import record_platform
from app.database import DbSession
from tenants.models import Tenant, TenantStatus


class TenantNotFound(LookupError):
    """No tenant with that slug."""


def get_tenant_by_slug(session: DbSession, slug: str) -> Tenant:
    """The tenant with ``slug`` (any status), or raise."""
    tenant = session.scalars(select(Tenant).where(Tenant.slug == slug)).first()
    if tenant is None:
        raise TenantNotFound(f"No workspace {slug!r}.")
    return tenant


def set_tenant_status(
    session: DbSession, *, slug: str, status: str, actor: str, reason: str = ""
) -> Tenant:
    """Suspend or resume a workspace. Nothing is ever deleted by a status change."""
    new_status = TenantStatus(status)
    if new_status not in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        raise ValueError("only suspend and resume are status changes")
    tenant = get_tenant_by_slug(session, slug)
    if tenant.status in (TenantStatus.DELETED, TenantStatus.PROVISIONING):
        raise TenantNotFound(f"Workspace {slug!r} is {tenant.status.value}.")
    old = tenant.status
    tenant.status = new_status
    record_platform(
        session,
        actor=actor,
        action="tenant.suspended" if new_status == TenantStatus.SUSPENDED else "tenant.resumed",
        tenant_id=tenant.id,
        reason=reason,
        details={"from": old.value, "to": new_status.value},
    )
    session.commit()
    return tenant
