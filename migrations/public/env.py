"""Alembic environment for the platform tables in ``public``.

Run through ``crm db upgrade`` (which passes a connection in ``config.attributes``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import app.models  # noqa: F401  (completes the metadata)
from app.database import PublicBase

config = context.config


def _include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # Only platform tables; tenant schemas are the other environment's business.
    if type_ == "table":
        return obj.schema == "public"
    return True


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=PublicBase.metadata,
        version_table_schema="public",
        include_schemas=True,
        include_object=_include_object,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
