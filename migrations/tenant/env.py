"""Alembic environment for per-tenant tables.

The fleet runner (``tenants.fleet``) does not go through this file: it drives the same
migration scripts tenant by tenant. This env exists for autogenerate and for manual work
on one schema: ``-x schema=t_1`` with a connection passed by the caller.
"""

from __future__ import annotations

from alembic import context

import app.models  # noqa: F401  (completes the metadata)
from app.database import TenantBase
from tenants.binding import bind_connection
from tenants.context import TenantRef

config = context.config


def run() -> None:
    connection = config.attributes["connection"]
    schema = context.get_x_argument(as_dictionary=True)["schema"]
    context.configure(connection=connection, target_metadata=TenantBase.metadata)
    with context.begin_transaction():
        bind_connection(connection, TenantRef(id=0, slug="-", schema_name=schema))
        context.run_migrations()


run()
