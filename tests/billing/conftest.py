"""Helpers for billing tests: reading and changing a tenant's plan and counters."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from app.contacts.models import Contact
from app.database import db
from billing.models import UsageCounter
from tenants.context import tenant_context
from tenants.models import Tenant
from tests.conftest import TenantFixture


def counters(app: Flask, tf: TenantFixture) -> dict[str, int]:
    """The tenant's usage counters."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        rows = db.session.execute(select(UsageCounter.resource, UsageCounter.used)).all()
        db.session.remove()
    return {row.resource: row.used for row in rows}


def contact_count(app: Flask, tf: TenantFixture) -> int:
    """``COUNT(*)`` of the tenant's contacts."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        total = db.session.scalar(select(func.count()).select_from(Contact))
        db.session.remove()
    return int(total or 0)


def set_plan(app: Flask, tf: TenantFixture, **values: Any) -> None:
    """Change the tenant's registry row (plan, plan_version, limit_overrides)."""
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == tf.tenant.id).values(**values))
        db.session.commit()
        db.session.remove()


def set_counter(app: Flask, tf: TenantFixture, resource: str, used: int) -> None:
    """Corrupt (or set) one counter directly."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        db.session.execute(
            update(UsageCounter).where(UsageCounter.resource == resource).values(used=used)
        )
        db.session.commit()
        db.session.remove()
