"""Migration t0006 on a workspace that already has records: the generated columns are
computed for every existing row (PostgreSQL rewrites the table), and down again."""

from __future__ import annotations

import argparse

from alembic import command
from flask import Flask
from sqlalchemy import text

from app.database import db
from tenants.migrations import TENANT, alembic_config
from tenants.naming import quoted_schema
from tests.tenants.test_schema_equality import drop_schema, scratch_schema_name


def _migrate(conn: object, schema: str, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config(TENANT)
    cfg.cmd_opts = argparse.Namespace(x=[f"schema={schema}"])
    cfg.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(cfg, revision)


def test_existing_rows_get_their_search_columns(app: Flask) -> None:
    schema = scratch_schema_name()
    with app.app_context():
        engine = db.engine
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {quoted_schema(schema)}")
                _migrate(conn, schema, "t0005")
                conn.exec_driver_sql(
                    f"INSERT INTO {quoted_schema(schema)}.contacts "
                    "(first_name, last_name, email, phone, company_name) VALUES "
                    "('Zoë', 'Müller', 'Zoe@Example.test', '+49 (30) 123-456', 'Acme'), "
                    "('Bo', '', NULL, 'n/a', NULL)"
                )
                conn.exec_driver_sql(
                    f"INSERT INTO {quoted_schema(schema)}.companies (name, domain, phone) "
                    "VALUES ('ACME Corp', 'acme.example', '020 7946 0000')"
                )
                _migrate(conn, schema, "t0006")
                contacts = conn.execute(
                    text(
                        f"SELECT phone_digits, search_text FROM {quoted_schema(schema)}.contacts "
                        "ORDER BY id"
                    )
                ).all()
                companies = conn.execute(
                    text(f"SELECT phone_digits, search_text FROM {quoted_schema(schema)}.companies")
                ).all()
                assert [tuple(row) for row in contacts] == [
                    ("4930123456", "zoë müller zoe@example.test acme"),
                    (None, "bo   "),  # no digits at all: no number to match
                ]
                assert [tuple(row) for row in companies] == [
                    ("02079460000", "acme corp acme.example")
                ]
                _migrate(conn, schema, "t0005", down=True)
                left = conn.execute(
                    text(
                        "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                        ":schema AND column_name IN ('phone_digits', 'search_text')"
                    ),
                    {"schema": schema},
                ).scalar_one()
                assert left == 0
        finally:
            drop_schema(engine, schema)
