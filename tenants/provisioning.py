"""Provisioning a tenant: one transaction from registry row to a ready workspace.

Inside that one transaction: insert the registry row (to get the immutable id), derive
the schema name from the id, ``CREATE SCHEMA``, create every tenant table from the
current metadata, stamp the tenant Alembic head, seed the defaults, add the owner's
membership and mark the tenant active. Any failure rolls all of it back: there is never
a half-made workspace.

The DDL is compiled once per process and sent as one multi-statement round trip, which
keeps provisioning fast and flat as the catalog grows (see bench/provisioning.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, CreateTable

from app.audit.models import PlatformAuditEntry
from app.database import TenantBase
from app.identity.models import Membership
from app.tenant_defaults import seed_defaults
from billing.limits import seed_usage_counters
from billing.plans import PLAN_KEYS, current_version, is_plan
from tenants.binding import bind_connection
from tenants.context import TenantRef
from tenants.migrations import TENANT, VERSION_TABLE, head_revision
from tenants.models import Tenant, TenantStatus
from tenants.naming import is_valid_slug, quoted_schema, schema_name_for

# A PostgreSQL backend keeps catalog-cache entries for every relation it has created,
# and its DDL and invalidation work grows with them: on one pooled connection, tenant
# 2,000 took 1.6-1.9x as long as tenant 100. Such a connection is closed instead of
# pooled after this many tenants, which keeps provisioning flat (bench/provisioning.py).
RETIRE_CONNECTION_AFTER = 50
_PROVISIONED_KEY = "crm_tenants_provisioned"


class ProvisioningError(RuntimeError):
    """The tenant could not be created; nothing was left behind."""


class SlugTaken(ProvisioningError):
    """Another tenant already uses this slug."""


class InvalidSlug(ProvisioningError):
    """The slug is malformed or reserved."""


@dataclass(frozen=True, slots=True)
class ProvisionedTenant:
    """What a caller needs after provisioning."""

    id: int
    slug: str
    name: str
    schema_name: str
    elapsed_ms: float

    @property
    def ref(self) -> TenantRef:
        """The binding reference for this tenant."""
        return TenantRef(id=self.id, slug=self.slug, schema_name=self.schema_name)


@lru_cache(maxsize=1)
def tenant_ddl() -> str:
    """Every CREATE TABLE / CREATE INDEX of the tenant metadata, plus Alembic's version
    table, as one script (unqualified names: they land in the bound schema)."""
    import app.models  # noqa: F401  (completes TenantBase.metadata)
    from app.timeline.models import TIMELINE_DDL

    dialect = postgresql.dialect()  # compiles without a connection
    statements: list[str] = []
    for table in TenantBase.metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        for index in sorted(table.indexes, key=lambda ix: ix.name or ""):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    statements.extend(TIMELINE_DDL)  # functions and triggers: not part of the metadata
    # Same shape as Alembic's own version table, so stamped and replayed schemas match.
    statements.append(
        f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
        f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
    )
    return ";\n".join(statements) + ";"


def create_tenant_schema(connection: Connection, ref: TenantRef) -> None:
    """Create ``ref``'s schema with all tables and the Alembic stamp, in the caller's
    transaction, leaving the connection bound to it."""
    connection.exec_driver_sql(f"CREATE SCHEMA {quoted_schema(ref.schema_name)}")
    bind_connection(connection, ref)
    connection.exec_driver_sql(tenant_ddl())
    connection.exec_driver_sql(
        f"INSERT INTO {VERSION_TABLE} (version_num) VALUES ('{head_revision(TENANT)}')"
    )


def provision_tenant(
    engine: Engine,
    *,
    slug: str,
    name: str,
    owner_user_id: int | None = None,
    plan: str = "free",
    actor: str = "system",
    after_create: Callable[[Connection, TenantRef], None] | None = None,
) -> ProvisionedTenant:
    """Create a tenant and its schema in one transaction; raise on any problem.

    ``after_create`` runs in the same transaction, bound to the new schema (used by the
    demo seed to add sample data atomically).
    """
    if not is_valid_slug(slug):
        raise InvalidSlug(f"invalid or reserved workspace address: {slug!r}")
    name = name.strip()
    if not name:
        raise ProvisioningError("a workspace needs a name")
    if not is_plan(plan):
        raise ProvisioningError(f"unknown plan {plan!r}; use one of: {', '.join(PLAN_KEYS)}")
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            tenant_id = conn.execute(
                insert(Tenant)
                .values(
                    slug=slug,
                    name=name,
                    status=TenantStatus.PROVISIONING,
                    plan=plan,
                    plan_version=current_version(plan),
                )
                .returning(Tenant.id)
            ).scalar_one()
            ref = TenantRef(id=tenant_id, slug=slug, schema_name=schema_name_for(tenant_id))
            create_tenant_schema(conn, ref)
            seed_defaults(conn)
            if owner_user_id is not None:
                conn.execute(
                    insert(Membership).values(
                        user_id=owner_user_id, tenant_id=tenant_id, role="owner"
                    )
                )
            if after_create is not None:
                after_create(conn, ref)
            seed_usage_counters(conn, tenant_id)
            conn.execute(
                update(Tenant)
                .where(Tenant.id == tenant_id)
                .values(
                    schema_name=ref.schema_name,
                    status=TenantStatus.ACTIVE,
                    schema_version=head_revision(TENANT),
                )
            )
            conn.execute(
                insert(PlatformAuditEntry).values(
                    actor=actor,
                    action="tenant.created",
                    tenant_id=tenant_id,
                    reason="",
                    details={"slug": slug, "plan": plan},
                )
            )
            _retire_when_cache_heavy(conn)
    except IntegrityError as exc:
        if "tenants_slug" in str(exc.orig):
            raise SlugTaken(f"the workspace address {slug!r} is taken") from exc
        raise
    return ProvisionedTenant(
        id=tenant_id,
        slug=slug,
        name=name,
        schema_name=ref.schema_name,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _retire_when_cache_heavy(connection: Connection) -> None:
    """Count the tenants made on this database connection; past the limit, detach it so
    that it is closed, not pooled, once this transaction ends."""
    made = connection.info.get(_PROVISIONED_KEY, 0) + 1
    connection.info[_PROVISIONED_KEY] = made
    if made >= RETIRE_CONNECTION_AFTER:
        connection.detach()


def slug_available(connection: Connection, slug: str) -> bool:
    """Whether ``slug`` is well-formed, not reserved and not used by any tenant."""
    if not is_valid_slug(slug):
        return False
    return connection.execute(select(Tenant.id).where(Tenant.slug == slug)).first() is None
