"""Per-transaction, fail-closed binding of the database search path to the tenant.

Every ORM transaction begins with ``SET LOCAL search_path TO <tenant schema>``, taken
from :mod:`tenants.context`. With no tenant bound it points at a schema that does not
exist, so any unqualified (tenant) table raises instead of silently reading the wrong
place. ``SET LOCAL`` lasts exactly one transaction, so nothing leaks to the next user
of a pooled connection, even behind a transaction-mode pooler. Never a session-level
``SET`` and never the libpq ``options`` parameter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from app.database import DbSession
from tenants.context import TenantRef, current_tenant
from tenants.naming import UNBOUND_SCHEMA, quoted_schema

SESSION_TENANT_KEY = "crm_tenant_id"


class CrossTenantSession(RuntimeError):
    """One SQLAlchemy Session was about to serve two tenants (identity maps would mix)."""


def search_path_sql(tenant: TenantRef | None) -> str:
    """The ``SET LOCAL`` statement for ``tenant`` (or for no tenant)."""
    if tenant is None:
        return f'SET LOCAL search_path TO "{UNBOUND_SCHEMA}"'
    return f"SET LOCAL search_path TO {quoted_schema(tenant.schema_name)}"


def bind_connection(connection: Connection, tenant: TenantRef | None) -> None:
    """Point an open Core transaction at ``tenant``'s schema (for provisioning and
    migrations, which work on raw connections rather than ORM sessions)."""
    if not connection.in_transaction():
        raise RuntimeError("bind_connection needs an open transaction (SET LOCAL)")
    connection.exec_driver_sql(search_path_sql(tenant))


@event.listens_for(Session, "after_begin")
def _bind_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    tenant = current_tenant()
    if tenant is not None:
        seen: Any = session.info.get(SESSION_TENANT_KEY)
        if seen is not None and seen != tenant.id:
            raise CrossTenantSession(
                f"session already served tenant {seen}; open a new session for {tenant.id}"
            )
        session.info[SESSION_TENANT_KEY] = tenant.id
    connection.exec_driver_sql(search_path_sql(tenant))


def bind_session(session: DbSession, tenant: TenantRef) -> None:
    """Point the session's current transaction at ``tenant``'s schema.

    For a service that, inside a platform transaction (begun with no tenant bound),
    must also write one tenant's schema atomically with it: adding a member reserves a
    seat in the tenant's usage counters. The session is then tied to ``tenant`` like
    any session that served it, and refuses another.
    """
    real = session() if isinstance(session, scoped_session) else session
    seen: Any = real.info.get(SESSION_TENANT_KEY)
    if seen is not None and seen != tenant.id:
        raise CrossTenantSession(
            f"session already served tenant {seen}; open a new session for {tenant.id}"
        )
    real.info[SESSION_TENANT_KEY] = tenant.id
    real.connection().exec_driver_sql(search_path_sql(tenant))


def end_transaction_for_rebind(session: DbSession) -> None:
    """Close the session's current transaction so the next one picks up a new binding.

    Resolving a request's tenant reads platform tables before the tenant is known; the
    transaction that did so is bound to "no tenant" and must end before tenant data is
    read.
    """
    real = session() if isinstance(session, scoped_session) else session
    if real.in_transaction():
        # The rows it read (tenant, token, member) were read moments ago in this very
        # request: keep them loaded instead of reloading each one after the commit.
        expire = real.expire_on_commit
        real.expire_on_commit = False
        try:
            real.commit()
        finally:
            real.expire_on_commit = expire
