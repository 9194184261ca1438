"""Fixtures of the duplicate tests: pg_trgm in ``public`` (as migration p0004 installs
it), fast seeding straight into a tenant schema, and the page and browser fixtures of
tests/web."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from app.access.policy import Actor, actor_for
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import db
from tenants.binding import bind_connection
from tests.api.conftest import tenant_session
from tests.conftest import TenantFixture
from tests.web.conftest import chromium, live_server, owner, tenant

__all__ = ["chromium", "live_server", "owner", "tenant"]


@pytest.fixture(scope="session", autouse=True)
def trigram(app: Flask) -> Iterator[None]:
    """pg_trgm in ``public``, whether or not the public migrations already add it."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    yield


def offset_ids(app: Flask, tf: TenantFixture, start: int = 1_000_000) -> None:
    """Start the tenant's contact and company ids at ``start``, so that another
    workspace's ids name nothing here (and the other way round)."""
    with app.app_context(), db.engine.begin() as conn:
        bind_connection(conn, tf.tenant.ref)
        for table in ("contacts", "companies"):
            conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN id RESTART WITH {int(start)}"))


def owner_actor(tf: TenantFixture) -> Actor:
    """The workspace owner as the services see them."""
    return actor_for(tf.owner_id, "owner")


def seed(app: Flask, tf: TenantFixture, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``model`` rows (owned by the tenant's owner unless said otherwise) in one
    transaction; returns their ids in order."""
    with tenant_session(app, tf) as session:
        records = [model(**{"owner_id": tf.owner_id, **row}) for row in rows]
        session.add_all(records)
        session.commit()
        return [r.id for r in records]


def seed_contacts(app: Flask, tf: TenantFixture, rows: list[dict[str, Any]]) -> list[int]:
    """Contacts straight into the schema (no usage counting: see the merge tests)."""
    return seed(app, tf, Contact, rows)


def seed_companies(app: Flask, tf: TenantFixture, rows: list[dict[str, Any]]) -> list[int]:
    """Companies straight into the schema."""
    return seed(app, tf, Company, rows)
