"""A provisioned tenant schema equals one built by replaying every tenant migration.

Provisioning creates tenant tables from the current metadata (compiled DDL) and stamps
the Alembic head; the fleet runner brings older schemas forward by replaying migrations.
Both roads must end in the same place, or the fleet slowly drifts apart. The schemas are
compared from the PostgreSQL catalogs (not from SQLAlchemy's reflection, which glosses
over details such as identity options and constraint text). Both migration
environments are also checked against their metadata with Alembic's autogenerate
comparison: a model change without its migration fails here.
"""

from __future__ import annotations

import argparse
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

import app.models  # noqa: F401  (completes both metadata collections)
from app.database import PublicBase, TenantBase, db
from tenants.binding import bind_connection
from tenants.context import TenantRef
from tenants.fleet import migrate_tenant_schema, public_version, upgrade_public
from tenants.migrations import PUBLIC, TENANT, alembic_config, head_revision
from tenants.naming import UNBOUND_SCHEMA, quoted_schema, validate_schema_name
from tests.conftest import Factory, scratch_database

SCHEMA_TOKEN = "<schema>"

# One catalog query per aspect of a schema; every row becomes a tuple in a set, so the
# comparison says exactly which rows differ. ``:schema`` is the schema under test.
CATALOG_QUERIES: dict[str, str] = {
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.reloptions::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema
    """,
    # Column order is left out on purpose: an expand migration appends a column while
    # the model may declare it anywhere, and nothing in the application depends on it.
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
               coll.collname, col_description(c.oid, a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation coll
               ON coll.oid = a.attcollation AND a.attcollation <> 0
               AND coll.collname <> 'default'
        WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :schema
    """,
    "constraints": """
        SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid, true),
               con.condeferrable, con.condeferred, con.convalidated
        FROM pg_constraint con
        JOIN pg_namespace n ON n.oid = con.connamespace
        LEFT JOIN pg_class c ON c.oid = con.conrelid
        WHERE n.nspname = :schema
    """,
    "sequences": """
        SELECT sequencename, data_type::text, start_value, min_value, max_value,
               increment_by, cycle, cache_size
        FROM pg_sequences WHERE schemaname = :schema
    """,
    # Which column owns each sequence, and how (``i`` = identity, ``a`` = serial).
    "sequence_owners": """
        SELECT s.relname, t.relname, a.attname, d.deptype
        FROM pg_class s
        JOIN pg_namespace n ON n.oid = s.relnamespace
        JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
                        AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        WHERE n.nspname = :schema AND s.relkind = 'S'
    """,
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid, true)
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema AND NOT t.tgisinternal
    """,
    "views": """
        SELECT c.relname, pg_get_viewdef(c.oid, true)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema AND c.relkind IN ('v', 'm')
    """,
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = :schema AND p.prokind IN ('f', 'p')
    """,
    "types": """
        SELECT t.typname, t.typtype,
               (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                FROM pg_enum e WHERE e.enumtypid = t.oid)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = :schema
    """,
    "table_comments": """
        SELECT c.relname, obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema AND obj_description(c.oid, 'pg_class') IS NOT NULL
    """,
}


def _normalizer(schema: str) -> re.Pattern[str]:
    # The schema's own name, quoted or not, where it qualifies another name.
    return re.compile(r'(?<![\w"])"?' + re.escape(schema) + r'"?\.')


def schema_snapshot(conn: Connection, schema: str) -> dict[str, Any]:
    """Everything the catalogs say about ``schema``, with its name normalised away."""
    validate_schema_name(schema)
    pattern = _normalizer(schema)

    def norm(value: Any) -> Any:
        return pattern.sub(SCHEMA_TOKEN + ".", value) if isinstance(value, str) else value

    snapshot: dict[str, Any] = {}
    for aspect, query in CATALOG_QUERIES.items():
        rows = conn.execute(text(query), {"schema": schema}).all()
        snapshot[aspect] = {tuple(norm(v) for v in row) for row in rows}
    snapshot["alembic_version"] = sorted(
        conn.exec_driver_sql(
            f"SELECT version_num FROM {quoted_schema(schema)}.alembic_version"
        ).scalars()
    )
    return snapshot


def snapshot_differences(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """Per aspect, the rows only on the left and only on the right."""
    diffs: dict[str, Any] = {}
    for aspect in left.keys() | right.keys():
        a, b = left.get(aspect), right.get(aspect)
        if a == b:
            continue
        if isinstance(a, set) and isinstance(b, set):
            diffs[aspect] = {
                "only_left": sorted(a - b, key=repr),
                "only_right": sorted(b - a, key=repr),
            }
        else:
            diffs[aspect] = {"left": a, "right": b}
    return diffs


def scratch_schema_name() -> str:
    """A tenant-shaped schema name no tenant will ever have (ids are never that large)."""
    return validate_schema_name("t_zz" + uuid.uuid4().hex[:10])


def replay_with_fleet_runner(engine: Engine, schema: str) -> None:
    """Empty schema, then every tenant migration through the fleet runner's code path."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {quoted_schema(schema)}")
        migrate_tenant_schema(
            conn, TenantRef(id=0, slug="replay", schema_name=schema), lock_timeout_ms=10_000
        )


def replay_with_alembic_env(engine: Engine, schema: str) -> None:
    """Empty schema, then ``alembic upgrade head`` through migrations/tenant/env.py."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {quoted_schema(schema)}")
        cfg = alembic_config(TENANT)
        cfg.cmd_opts = argparse.Namespace(x=[f"schema={schema}"])
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def drop_schema(engine: Engine, schema: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quoted_schema(schema)} CASCADE")


@pytest.fixture(scope="module")
def schemas(app: Flask) -> Iterator[dict[str, str]]:
    """A provisioned tenant's schema and two schemas replayed from empty."""
    tf = Factory(app).tenant("schemaeq")
    replayed = {"fleet": scratch_schema_name(), "alembic_env": scratch_schema_name()}
    with app.app_context():
        engine = db.engine
        try:
            replay_with_fleet_runner(engine, replayed["fleet"])
            replay_with_alembic_env(engine, replayed["alembic_env"])
            yield {"provisioned": tf.tenant.schema_name, **replayed}
        finally:
            for schema in replayed.values():
                drop_schema(engine, schema)


@pytest.fixture(scope="module")
def snapshots(app: Flask, schemas: dict[str, str]) -> dict[str, dict[str, Any]]:
    with app.app_context(), db.engine.connect() as conn:
        return {key: schema_snapshot(conn, schema) for key, schema in schemas.items()}


@pytest.mark.parametrize("replayed", ["fleet", "alembic_env"])
def test_provisioned_schema_equals_replayed_migrations(
    snapshots: dict[str, dict[str, Any]], replayed: str
) -> None:
    provisioned = snapshots["provisioned"]
    diffs = snapshot_differences(provisioned, snapshots[replayed])
    assert not diffs, f"provisioned schema differs from the {replayed} replay: {diffs}"


def test_snapshot_sees_every_table_and_the_head(snapshots: dict[str, dict[str, Any]]) -> None:
    # Guards the comparison itself: an empty or partial snapshot would compare equal.
    snap = snapshots["provisioned"]
    tables = {name for name, kind, *_ in snap["relations"] if kind == "r"}
    assert tables == {t.name for t in TenantBase.metadata.tables.values()} | {"alembic_version"}
    assert snap["alembic_version"] == [head_revision(TENANT)]
    assert snap["indexes"] and snap["constraints"] and snap["sequences"]
    identity_columns = {(t, c) for t, c, _, _, _, ident, *_ in snap["columns"] if ident}
    assert identity_columns == {
        (t.name, c.name)
        for t in TenantBase.metadata.tables.values()
        for c in t.columns
        if c.identity is not None
    }
    assert {(table, col, deptype) for _, table, col, deptype in snap["sequence_owners"]} == {
        (t, c, "i") for t, c in identity_columns
    }


# Each drift is applied inside a transaction that is rolled back; the snapshot must see
# it in the named aspect. A comparison that misses one of these would pass on drift.
DRIFTS = {
    # (Not phone: the generated phone_digits depends on it and forbids a type change.)
    "column type": ("ALTER TABLE {s}.contacts ALTER COLUMN title TYPE varchar(151)", "columns"),
    "nullability": ("ALTER TABLE {s}.contacts ALTER COLUMN phone SET NOT NULL", "columns"),
    "default": ("ALTER TABLE {s}.contacts ALTER COLUMN phone SET DEFAULT 'x'", "columns"),
    "identity kind": ("ALTER TABLE {s}.roles ALTER COLUMN id SET GENERATED ALWAYS", "columns"),
    "identity options": ("ALTER TABLE {s}.roles ALTER COLUMN id SET INCREMENT BY 2", "sequences"),
    "extra column": ("ALTER TABLE {s}.contacts ADD COLUMN extra text", "columns"),
    "missing index": ("DROP INDEX {s}.ix_contacts_name", "indexes"),
    "index definition": (
        "DROP INDEX {s}.ix_contacts_name; "
        "CREATE INDEX ix_contacts_name ON {s}.contacts (last_name, first_name)",
        "indexes",
    ),
    "constraint": ("ALTER TABLE {s}.stages DROP CONSTRAINT ck_stages_kind_valid", "constraints"),
    "constraint definition": (
        "ALTER TABLE {s}.stages DROP CONSTRAINT ck_stages_probability_range; "
        "ALTER TABLE {s}.stages ADD CONSTRAINT ck_stages_probability_range "
        "CHECK (probability BETWEEN 0 AND 99)",
        "constraints",
    ),
    "constraint name": (
        "ALTER TABLE {s}.roles RENAME CONSTRAINT uq_roles_key TO uq_roles_key_2",
        "constraints",
    ),
    "extra table": ("CREATE TABLE {s}.extra (id int)", "relations"),
    "trigger": (
        "CREATE FUNCTION {s}.noop() RETURNS trigger LANGUAGE plpgsql AS "
        "'BEGIN RETURN NEW; END'; "
        "CREATE TRIGGER noop BEFORE INSERT ON {s}.contacts "
        "FOR EACH ROW EXECUTE FUNCTION {s}.noop()",
        "triggers",
    ),
    "alembic version": (
        "UPDATE {s}.alembic_version SET version_num = 'elsewhere'",
        "alembic_version",
    ),
}


@pytest.mark.parametrize("drift", sorted(DRIFTS))
def test_snapshot_detects_drift(
    app: Flask, schemas: dict[str, str], snapshots: dict[str, dict[str, Any]], drift: str
) -> None:
    statement, aspect = DRIFTS[drift]
    schema = schemas["fleet"]
    with app.app_context(), db.engine.connect() as conn:
        trans = conn.begin()
        try:
            conn.exec_driver_sql(statement.format(s=quoted_schema(schema)))
            drifted = schema_snapshot(conn, schema)
        finally:
            trans.rollback()
    diffs = snapshot_differences(snapshots["provisioned"], drifted)
    assert aspect in diffs, f"{drift} went unnoticed: {diffs}"


COMPARE_OPTS = {"compare_type": True, "compare_server_default": True}


def _compare(conn: Connection, metadata: Any, **opts: Any) -> list[Any]:
    context = MigrationContext.configure(conn, opts={**COMPARE_OPTS, **opts})
    return list(compare_metadata(context, metadata))


def test_tenant_migrations_produce_exactly_the_tenant_metadata(
    app: Flask, schemas: dict[str, str]
) -> None:
    with app.app_context(), db.engine.connect() as conn, conn.begin() as trans:
        # Reflection with no schema reads what the search path shows: the replayed one.
        bind_connection(conn, TenantRef(id=0, slug="replay", schema_name=schemas["fleet"]))
        diffs = _compare(conn, TenantBase.metadata)
        # The same comparison notices a column the models do not have.
        conn.exec_driver_sql("ALTER TABLE contacts ADD COLUMN unmodelled text")
        drifted = _compare(conn, TenantBase.metadata)
        trans.rollback()
    assert diffs == [], f"tenant migrations and TenantBase metadata disagree: {diffs}"
    assert [d[0] for d in drifted] == ["remove_column"]


def _only_public(name: str | None, type_: str, _parent: Any) -> bool:
    return name == "public" if type_ == "schema" else True


def test_public_migrations_produce_exactly_the_public_metadata(
    server_uri: str, worker_id: str
) -> None:
    public_opts = {
        "include_schemas": True,
        "include_name": _only_public,
        "version_table_schema": "public",
    }
    with scratch_database(server_uri, f"crm_pub_{worker_id}") as url:
        engine = create_engine(url, poolclass=NullPool)
        # With ``public`` off the search path, reflection names it explicitly, as the
        # metadata does (``schema="public"``); otherwise every foreign key and enum
        # would differ by an implied schema alone. (A test-only engine: the app never
        # sets a search path this way.)
        inspecting = create_engine(
            url, poolclass=NullPool, connect_args={"options": f"-csearch_path={UNBOUND_SCHEMA}"}
        )
        try:
            upgrade_public(engine)
            with inspecting.connect() as conn, conn.begin() as trans:
                assert public_version(conn) == head_revision(PUBLIC)
                diffs = _compare(conn, PublicBase.metadata, **public_opts)
                conn.exec_driver_sql("ALTER TABLE public.users ADD COLUMN unmodelled text")
                drifted = _compare(conn, PublicBase.metadata, **public_opts)
                trans.rollback()
        finally:
            engine.dispose()
            inspecting.dispose()
    assert diffs == [], f"public migrations and PublicBase metadata disagree: {diffs}"
    assert [d[0] for d in drifted] == ["remove_column"]
