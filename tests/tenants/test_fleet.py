"""The fleet migration runner, against a real extra tenant migration.

Each test gets a database of its own (fleet-wide counts must be exact) and a copy of
``migrations/`` with one more tenant revision on top of the real head.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, event, select, text, update

from app.database import db
from tenants import migrations
from tenants.fleet import fleet_status, pending_tenants, upgrade_public, upgrade_tenants
from tenants.migrations import TENANT, head_revision
from tenants.models import MigrationState, Tenant, TenantStatus
from tenants.naming import quoted_schema
from tenants.services import set_tenant_status
from tests.conftest import Factory, TenantFixture, make_app, scratch_database

REVISION = "zz_fleet_probe"

REVISION_FILE = '''\
"""fleet probe (test-only revision)

Revision ID: {revision}
Revises: {down_revision}
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
'''

# Adds a nullable column and records which process ran the migration.
ADD_PROBE = """\
op.add_column("contacts", sa.Column("fleet_probe", sa.Text(), nullable=True))
op.execute(f"COMMENT ON COLUMN contacts.fleet_probe IS 'pid {os.getpid()}'")
"""

# Two steps; the second fails in a schema that already has the column.
TWO_STEPS = """\
op.add_column("pipelines", sa.Column("fleet_note", sa.Text(), nullable=True))
op.add_column("contacts", sa.Column("fleet_probe", sa.Text(), nullable=True))
"""

InstallMigration = Callable[[str], str]


@pytest.fixture
def fleet_app(server_uri: str, worker_id: str) -> Iterator[Flask]:
    """An app on a database of its own, public schema migrated, in an app context."""
    with scratch_database(server_uri, f"crm_fleet_{worker_id}") as url:
        application = make_app(url)
        with application.app_context():
            upgrade_public(db.engine)
            yield application
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def engine(fleet_app: Flask) -> Engine:
    return db.engine


@pytest.fixture
def install_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InstallMigration]:
    """Install a copy of migrations/ with one more tenant revision; returns the old head.

    The real migrations directory (and Alembic's cached script directory) is restored
    afterwards, so other tests see the real head again.
    """
    migrations.script_directory.cache_clear()
    tree = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, tree, ignore=shutil.ignore_patterns("__pycache__"))
    with monkeypatch.context() as patch:

        def install(body: str) -> str:
            old_head = head_revision(TENANT)
            source = REVISION_FILE.format(
                revision=REVISION, down_revision=old_head, body=textwrap.indent(body, "    ")
            )
            (tree / "tenant" / "versions" / f"{REVISION}.py").write_text(source)
            patch.setattr(migrations, "MIGRATIONS_DIR", tree)
            migrations.script_directory.cache_clear()
            assert head_revision(TENANT) == REVISION
            return old_head

        yield install
        migrations.script_directory.cache_clear()
    migrations.script_directory.cache_clear()
    assert tree != migrations.MIGRATIONS_DIR
    assert head_revision(TENANT) != REVISION


def tenant_row(engine: Engine, tenant_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(Tenant).where(Tenant.id == tenant_id)).one()


def has_column(engine: Engine, schema: str, table: str, column: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                text(
                    "SELECT 1 FROM information_schema.columns "
                    "WHERE table_schema = :s AND table_name = :t AND column_name = :c"
                ),
                {"s": schema, "t": table, "c": column},
            ).first()
            is not None
        )


def schema_stamp(engine: Engine, schema: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.exec_driver_sql(
                f"SELECT version_num FROM {quoted_schema(schema)}.alembic_version"
            ).scalars()
        )


def probe_comment(engine: Engine, schema: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT col_description(c.oid, a.attnum) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relname = 'contacts' AND a.attname = 'fleet_probe'"
            ),
            {"s": schema},
        ).scalar_one_or_none()


def make_tenants(app: Flask, count: int) -> list[TenantFixture]:
    factory = Factory(app)
    return [factory.tenant("fleet") for _ in range(count)]


def test_upgrade_migrates_every_live_tenant_in_worker_processes(
    fleet_app: Flask, engine: Engine, install_migration: InstallMigration
) -> None:
    active, suspended, other, deleted = make_tenants(fleet_app, 4)
    set_tenant_status(db.session, slug=suspended.slug, status="suspended", actor="test")
    db.session.execute(
        update(Tenant).where(Tenant.id == deleted.tenant.id).values(status=TenantStatus.DELETED)
    )
    db.session.commit()
    old_head = install_migration(ADD_PROBE)
    live = [active, suspended, other]

    status = fleet_status(engine)
    assert (status.at_head, status.behind, status.failed) == (0, 3, 0)
    assert not status.ok
    assert [t for t, _, _ in pending_tenants(engine)] == [t.tenant.id for t in live]

    reported: list[Any] = []
    results = upgrade_tenants(engine, jobs=2, lock_timeout_ms=5000, on_result=reported.append)

    assert sorted(r.tenant_id for r in results) == sorted(t.tenant.id for t in live)
    assert all(r.ok and r.version == REVISION and r.error is None for r in results), results
    assert reported == results
    for tf in live:
        schema = tf.tenant.schema_name
        row = tenant_row(engine, tf.tenant.id)
        assert row.schema_version == REVISION
        assert row.migration_state == MigrationState.OK
        assert row.migrated_at is not None
        assert has_column(engine, schema, "contacts", "fleet_probe")
        assert schema_stamp(engine, schema) == [REVISION]
        # Ran in a pool worker process, not in this one.
        comment = probe_comment(engine, schema)
        assert comment is not None and comment.startswith("pid ")
        assert comment != f"pid {os.getpid()}"
    assert tenant_row(engine, suspended.tenant.id).status == TenantStatus.SUSPENDED

    # A deleted workspace is left alone.
    assert not has_column(engine, deleted.tenant.schema_name, "contacts", "fleet_probe")
    assert schema_stamp(engine, deleted.tenant.schema_name) == [old_head]

    status = fleet_status(engine)
    assert (status.at_head, status.behind, status.failed) == (3, 0, 0)
    assert status.ok
    assert pending_tenants(engine) == []
    assert upgrade_tenants(engine, jobs=2) == []


def test_fleet_status_counts_in_one_query(
    fleet_app: Flask, engine: Engine, install_migration: InstallMigration
) -> None:
    at_head, behind, failed, suspended_behind = make_tenants(fleet_app, 4)
    install_migration(ADD_PROBE)
    upgrade_tenants(
        engine, jobs=1, tenants=[(at_head.tenant.id, at_head.slug, at_head.tenant.schema_name)]
    )
    set_tenant_status(db.session, slug=suspended_behind.slug, status="suspended", actor="test")
    db.session.execute(
        update(Tenant)
        .where(Tenant.id == failed.tenant.id)
        .values(migration_state=MigrationState.FAILED, migration_error="boom")
    )
    # A workspace still being provisioned is reported apart, and is not "behind".
    db.session.execute(
        text(
            "INSERT INTO public.tenants (slug, name, status, plan) "
            "VALUES (:slug, 'Half made', 'provisioning', 'free')"
        ),
        {"slug": f"{at_head.slug}-x"},
    )
    db.session.commit()
    fleet_status(engine)  # warm up: the first connection runs dialect set-up queries

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        status = fleet_status(engine)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert len(statements) == 1, statements
    assert (status.at_head, status.behind, status.failed, status.provisioning) == (1, 2, 1, 1)
    assert status.tenant_head == REVISION
    assert status.public_version == status.public_head
    assert not status.ok
    assert behind.tenant.id in {t for t, _, _ in pending_tenants(engine)}


def test_lock_conflict_fails_one_tenant_and_a_rerun_resumes_it(
    fleet_app: Flask, engine: Engine, install_migration: InstallMigration
) -> None:
    first, locked, last = make_tenants(fleet_app, 3)
    old_head = install_migration(ADD_PROBE)

    holder = engine.connect()
    hold = holder.begin()
    holder.exec_driver_sql(
        f"LOCK TABLE {quoted_schema(locked.tenant.schema_name)}.contacts IN ACCESS EXCLUSIVE MODE"
    )
    try:
        results = {r.tenant_id: r for r in upgrade_tenants(engine, jobs=2, lock_timeout_ms=300)}
    finally:
        hold.rollback()
        holder.close()

    assert set(results) == {first.tenant.id, locked.tenant.id, last.tenant.id}
    assert results[first.tenant.id].ok and results[last.tenant.id].ok
    failure = results[locked.tenant.id]
    assert not failure.ok and failure.version is None
    assert failure.error is not None and "lock timeout" in failure.error

    row = tenant_row(engine, locked.tenant.id)
    assert row.migration_state == MigrationState.FAILED
    assert row.migration_error is not None and "lock timeout" in row.migration_error
    assert row.schema_version == old_head
    assert schema_stamp(engine, locked.tenant.schema_name) == [old_head]
    assert not has_column(engine, locked.tenant.schema_name, "contacts", "fleet_probe")

    status = fleet_status(engine)
    assert (status.at_head, status.behind, status.failed) == (2, 0, 1)
    assert not status.ok

    # With the lock gone, a rerun takes exactly the tenant that failed.
    migrated_at = {t.tenant.id: tenant_row(engine, t.tenant.id).migrated_at for t in (first, last)}
    assert pending_tenants(engine) == [(locked.tenant.id, locked.slug, locked.tenant.schema_name)]
    rerun = upgrade_tenants(engine, jobs=2, lock_timeout_ms=300)
    assert [(r.tenant_id, r.ok, r.version) for r in rerun] == [(locked.tenant.id, True, REVISION)]

    row = tenant_row(engine, locked.tenant.id)
    assert (row.migration_state, row.migration_error, row.schema_version) == (
        MigrationState.OK,
        None,
        REVISION,
    )
    assert has_column(engine, locked.tenant.schema_name, "contacts", "fleet_probe")
    for tf in (first, last):
        assert tenant_row(engine, tf.tenant.id).migrated_at == migrated_at[tf.tenant.id]
    assert fleet_status(engine).ok


def test_failing_migration_rolls_back_that_tenant_only(
    fleet_app: Flask, engine: Engine, install_migration: InstallMigration
) -> None:
    good, broken, suspended = make_tenants(fleet_app, 3)
    set_tenant_status(db.session, slug=suspended.slug, status="suspended", actor="test")
    old_head = install_migration(TWO_STEPS)
    # The migration's second step collides with a column this one schema already has.
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"ALTER TABLE {quoted_schema(broken.tenant.schema_name)}.contacts "
            "ADD COLUMN fleet_probe text"
        )

    results = {r.tenant_id: r for r in upgrade_tenants(engine, jobs=2)}

    assert results[good.tenant.id].ok and results[suspended.tenant.id].ok
    failure = results[broken.tenant.id]
    assert not failure.ok
    assert failure.error is not None and "fleet_probe" in failure.error
    schema = broken.tenant.schema_name
    # Nothing of the migration stayed: not even its first, successful step.
    assert not has_column(engine, schema, "pipelines", "fleet_note")
    assert schema_stamp(engine, schema) == [old_head]
    row = tenant_row(engine, broken.tenant.id)
    assert (row.schema_version, row.migration_state) == (old_head, MigrationState.FAILED)

    for tf in (good, suspended):
        assert has_column(engine, tf.tenant.schema_name, "pipelines", "fleet_note")
        assert has_column(engine, tf.tenant.schema_name, "contacts", "fleet_probe")
        assert tenant_row(engine, tf.tenant.id).schema_version == REVISION

    # Rerunning without fixing the cause fails the same way, and touches no one else.
    again = upgrade_tenants(engine, jobs=2)
    assert [(r.tenant_id, r.ok) for r in again] == [(broken.tenant.id, False)]
    assert schema_stamp(engine, schema) == [old_head]
