"""Migration t0007 fills ``last_contacted_at`` of existing contacts and companies from
the activities they already have."""

from __future__ import annotations

import argparse
import uuid

from alembic import command
from flask import Flask
from sqlalchemy import Connection, text

from app.database import db
from tenants.migrations import TENANT, alembic_config
from tenants.naming import quoted_schema, validate_schema_name

_UTC = "to_char(last_contacted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"


def _upgrade(conn: Connection, schema: str, revision: str) -> None:
    cfg = alembic_config(TENANT)
    cfg.cmd_opts = argparse.Namespace(x=[f"schema={schema}"])
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def test_the_migration_backfills_the_last_contact_time(app: Flask) -> None:
    schema = validate_schema_name("t_zz" + uuid.uuid4().hex[:10])
    with app.app_context():
        engine = db.engine
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {quoted_schema(schema)}")
                _upgrade(conn, schema, "t0006")
                conn.exec_driver_sql(f"SET LOCAL search_path TO {quoted_schema(schema)}")
                conn.execute(
                    text(
                        "INSERT INTO companies (id, name) VALUES (1, 'Initech'), (2, 'Quiet');"
                        "INSERT INTO contacts (id, first_name, company_id) "
                        "VALUES (1, 'Ann', 1), (2, 'Bob', NULL), (3, 'Cy', NULL);"
                        "INSERT INTO activities"
                        " (type, subject, occurred_at, contact_id, company_id) VALUES"
                        " ('call', 'a', '2026-01-05T10:00:00Z', 1, 1),"
                        " ('email', 'b', '2026-02-01T09:00:00Z', 1, NULL),"
                        " ('note', 'c', '2026-03-01T09:00:00Z', 1, 1),"
                        " ('task', 'd', '2026-03-02T09:00:00Z', 2, NULL),"
                        " ('meeting', 'e', '2026-01-20T15:00:00Z', 2, 1)"
                    )
                )
                _upgrade(conn, schema, "t0007")
                conn.exec_driver_sql(f"SET LOCAL search_path TO {quoted_schema(schema)}")
                people = dict(conn.execute(text(f"SELECT first_name, {_UTC} FROM contacts")).all())
                companies = dict(conn.execute(text(f"SELECT name, {_UTC} FROM companies")).all())
        finally:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quoted_schema(schema)} CASCADE")
    assert people == {
        "Ann": "2026-02-01 09:00",
        "Bob": "2026-01-20 15:00",
        "Cy": None,
    }
    assert companies == {"Initech": "2026-01-20 15:00", "Quiet": None}
