"""Helpers for billing tests: reading and changing a tenant's plan and counters; a
Stripe-mode app wired to the local fake Stripe (tests/billing/fake_stripe.py), and
signed webhook deliveries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app.contacts.models import Contact
from app.database import db
from billing.models import BillingSubscription, StripeEvent, UsageCounter
from tenants.context import tenant_context
from tenants.models import Tenant
from tests.billing.fake_stripe import FakeStripe, sign
from tests.conftest import SERVER_NAME, TenantFixture, mail_settings, make_app
from tests.support.smtp import SmtpSink

WEBHOOK_SECRET = "whsec_test_" + "s" * 24
WEBHOOK_PATH = "/billing/stripe/webhook"
APEX_URL = f"http://{SERVER_NAME}"


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    """The local Stripe API (one per test process)."""
    server = FakeStripe().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stripe_app(
    app: Flask, database_url: str, smtp_sink: SmtpSink, fake_stripe: FakeStripe
) -> Iterator[Flask]:
    """The application in Stripe mode, its API base the fake (``app`` migrated the
    database already)."""
    application = make_app(
        database_url,
        STRIPE_SECRET_KEY="sk_test_fake",
        BILLING_BACKEND="stripe",
        STRIPE_API_BASE=fake_stripe.url,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        **mail_settings(smtp_sink),
    )
    yield application
    with application.app_context():
        db.engine.dispose()


def deliver(
    client: FlaskClient,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    """POST ``event`` to the webhook as Stripe does (raw JSON, signed)."""
    payload = json.dumps(event).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    header = signature if signature is not None else sign(payload, secret, timestamp)
    if header:
        headers["Stripe-Signature"] = header
    return client.post(WEBHOOK_PATH, base_url=APEX_URL, data=payload, headers=headers)


def subscription_row(app: Flask, tf: TenantFixture) -> BillingSubscription | None:
    """The tenant's stored subscription (detached)."""
    with app.app_context():
        row = db.session.get(BillingSubscription, tf.tenant.id)
        if row is not None:
            db.session.expunge(row)
        db.session.remove()
    return row


def stored_event(app: Flask, event_id: str) -> StripeEvent | None:
    """The stored webhook event (detached)."""
    with app.app_context():
        row = db.session.get(StripeEvent, event_id)
        if row is not None:
            db.session.expunge(row)
        db.session.remove()
    return row


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
