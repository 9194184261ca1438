"""The fleet migration runner: public first, then every tenant schema.

Each tenant is migrated in its own transaction with a ``lock_timeout``, and its new
revision is written to ``public.tenants.schema_version`` in that same transaction, so
a crash leaves every tenant either fully migrated (and recorded) or untouched. A rerun
picks up exactly the tenants not at head: the runner is resumable.

Parallelism uses processes, not threads: Alembic's ``op`` and ``context`` are
module-level proxies, so two migrations in one process would share them.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, select, text, update
from sqlalchemy.pool import NullPool

from app.database import TenantBase
from tenants import migrations
from tenants.binding import bind_connection
from tenants.context import TenantRef
from tenants.migrations import PUBLIC, TENANT, alembic_config, head_revision, script_directory
from tenants.models import LIVE_STATUSES, MigrationState, Tenant
from tenants.naming import validate_schema_name


@dataclass(frozen=True, slots=True)
class TenantResult:
    """Outcome of migrating one tenant."""

    tenant_id: int
    slug: str
    ok: bool
    version: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FleetStatus:
    """Answer of ``crm db status``."""

    public_version: str | None
    public_head: str
    tenant_head: str
    at_head: int
    behind: int
    failed: int
    provisioning: int

    @property
    def ok(self) -> bool:
        """Everything at head and nothing failed."""
        return self.public_version == self.public_head and self.behind == 0 and self.failed == 0


# pg_advisory_lock key held by `crm db upgrade` for its whole run ("crmupgr" in ASCII).
UPGRADE_LOCK_KEY = 0x63726D7570677200


class UpgradeInProgress(RuntimeError):
    """Another `crm db upgrade` holds the fleet upgrade lock."""


@contextmanager
def upgrade_lock(engine: Engine, *, wait: bool = True) -> Iterator[None]:
    """Hold the fleet-wide upgrade lock for the duration of the block.

    Two upgrades at once (a re-run deploy Job beside the first, an operator beside the
    chart) would both read "t0004" for a tenant and both apply the next revision: one
    would fail half-way through on DDL it did not expect. A session-level advisory lock
    on a connection of its own serialises whole runs; the second run then finds the
    work done and has nothing to do. With ``wait=False`` a busy lock raises
    :class:`UpgradeInProgress` instead of waiting. The lock ends with the connection,
    so a killed process never leaves it behind.
    """
    with engine.connect() as conn:
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
        elif not conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": UPGRADE_LOCK_KEY}
        ).scalar_one():
            raise UpgradeInProgress("another `crm db upgrade` is running")
        conn.commit()  # no transaction stays open (and holds a snapshot) while we work
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": UPGRADE_LOCK_KEY})
            conn.commit()


def upgrade_public(engine: Engine) -> None:
    """Bring the platform tables to head (one transaction)."""
    with engine.begin() as conn:
        cfg = alembic_config(PUBLIC)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def public_version(connection: Connection) -> str | None:
    """The public schema's Alembic revision, or None before the first migration."""
    return MigrationContext.configure(
        connection, opts={"version_table_schema": "public"}
    ).get_current_revision()


def migrate_tenant_schema(connection: Connection, ref: TenantRef, *, lock_timeout_ms: int) -> str:
    """Upgrade one tenant schema to head inside the caller's transaction."""
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'")
    bind_connection(connection, ref)
    script = script_directory(TENANT)
    head = head_revision(TENANT)

    def upgrade(rev: Any, _context: Any) -> Any:
        # Alembic's own recipe for driving an upgrade without going through env.py.
        return script._upgrade_revs(head, rev)

    with EnvironmentContext(
        alembic_config(TENANT), script, fn=upgrade, destination_rev=head
    ) as env:
        env.configure(connection=connection, target_metadata=TenantBase.metadata)
        with env.begin_transaction():  # joins the caller's transaction
            env.run_migrations()
    return head


def _migrate_one(
    engine: Engine, tenant_id: int, slug: str, schema: str, lock_ms: int
) -> TenantResult:
    ref = TenantRef(id=tenant_id, slug=slug, schema_name=validate_schema_name(schema))
    try:
        with engine.begin() as conn:
            version = migrate_tenant_schema(conn, ref, lock_timeout_ms=lock_ms)
            conn.execute(
                update(Tenant)
                .where(Tenant.id == tenant_id)
                .values(
                    schema_version=version,
                    migration_state=MigrationState.OK,
                    migration_error=None,
                    migrated_at=text("now()"),
                )
            )
        return TenantResult(tenant_id, slug, True, version)
    except Exception as exc:  # one tenant's failure must not stop the fleet
        message = f"{type(exc).__name__}: {exc}"[:2000]
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(Tenant)
                    .where(Tenant.id == tenant_id)
                    .values(migration_state=MigrationState.FAILED, migration_error=message)
                )
        except Exception as record_exc:  # e.g. the database went away: still report
            message += f" (not recorded: {type(record_exc).__name__}: {record_exc})"[:500]
        return TenantResult(tenant_id, slug, False, None, message)


# Per-process engine for pool workers (set by the initializer).
_worker_engine: Engine | None = None


def _init_worker(url: str, migrations_dir: str) -> None:
    global _worker_engine  # one engine per worker process, by design
    # Workers are spawned, not forked (no inherited sockets, locks or threads), so they
    # are told which migration scripts the parent chose as head.
    if Path(migrations_dir) != migrations.MIGRATIONS_DIR:
        migrations.MIGRATIONS_DIR = Path(migrations_dir)
        script_directory.cache_clear()
    _worker_engine = create_engine(url, poolclass=NullPool)


def _worker_migrate(job: tuple[int, str, str, int]) -> TenantResult:
    assert _worker_engine is not None
    try:
        return _migrate_one(_worker_engine, *job)
    except Exception:  # the result must always come back to the parent
        return TenantResult(job[0], job[1], False, None, traceback.format_exc()[-2000:])


def pending_tenants(engine: Engine) -> list[tuple[int, str, str]]:
    """Live tenants whose schema is not at head (or whose last attempt failed)."""
    head = head_revision(TENANT)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Tenant.id, Tenant.slug, Tenant.schema_name)
            .where(Tenant.status.in_(LIVE_STATUSES))
            .where(Tenant.schema_name.is_not(None))
            .where(
                Tenant.schema_version.is_distinct_from(head)
                | (Tenant.migration_state == MigrationState.FAILED)
            )
            .order_by(Tenant.id)
        ).all()
    return [(r.id, r.slug, r.schema_name) for r in rows]


def upgrade_tenants(
    engine: Engine,
    *,
    jobs: int = 4,
    lock_timeout_ms: int = 5000,
    on_result: Callable[[TenantResult], None] | None = None,
    tenants: Sequence[tuple[int, str, str]] | None = None,
) -> list[TenantResult]:
    """Migrate every pending tenant with at most ``jobs`` processes at once."""
    todo = list(pending_tenants(engine) if tenants is None else tenants)
    results: list[TenantResult] = []
    if not todo:
        return results

    def report(result: TenantResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    if jobs <= 1 or len(todo) == 1:
        for tenant_id, slug, schema in todo:
            report(_migrate_one(engine, tenant_id, slug, schema, lock_timeout_ms))
        return results

    url = engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(todo)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(url, str(migrations.MIGRATIONS_DIR)),
    ) as pool:
        futures = [
            pool.submit(_worker_migrate, (tid, slug, schema, lock_timeout_ms))
            for tid, slug, schema in todo
        ]
        for future in as_completed(futures):
            report(future.result())
    return results


def fleet_status(engine: Engine) -> FleetStatus:
    """Public revision and tenant counts at head / behind / failed, in one query."""
    tenant_head = head_revision(TENANT)
    sql = text(
        """
        SELECT
          (SELECT version_num FROM public.alembic_version LIMIT 1) AS public_version,
          count(*) FILTER (WHERE status IN ('active', 'suspended')
                             AND migration_state = 'ok' AND schema_version = :head) AS at_head,
          count(*) FILTER (WHERE status IN ('active', 'suspended')
                             AND migration_state = 'ok'
                             AND schema_version IS DISTINCT FROM :head) AS behind,
          count(*) FILTER (WHERE status IN ('active', 'suspended')
                             AND migration_state = 'failed') AS failed,
          count(*) FILTER (WHERE status = 'provisioning') AS provisioning
        FROM public.tenants
        """
    )
    with engine.connect() as conn:
        row = conn.execute(sql, {"head": tenant_head}).one()
    return FleetStatus(
        public_version=row.public_version,
        public_head=head_revision(PUBLIC),
        tenant_head=tenant_head,
        at_head=row.at_head,
        behind=row.behind,
        failed=row.failed,
        provisioning=row.provisioning,
    )


def iter_live_tenants(engine: Engine) -> Iterator[TenantRef]:
    """Every active or suspended tenant, for code that walks the fleet (one session each)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Tenant.id, Tenant.slug, Tenant.schema_name)
            .where(Tenant.status.in_(LIVE_STATUSES), Tenant.schema_name.is_not(None))
            .order_by(Tenant.id)
        ).all()
    for row in rows:
        yield TenantRef(id=row.id, slug=row.slug, schema_name=row.schema_name)
