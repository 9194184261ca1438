"""``reserve`` decides with the plan this process read before, in one statement, and
never lets a stale plan through: any change of the plan's inputs (registry row,
overrides, subscription, a trial running out) is seen by the very next reservation."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, insert

from app.database import db
from billing.limits import PlanLimitExceeded, reserve
from billing.models import BillingSubscription
from tenants.context import tenant_context
from tests.billing.conftest import set_counter, set_plan
from tests.conftest import Factory, TenantFixture


@contextmanager
def _statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _reserve(app: Flask, tf: TenantFixture) -> int:
    """One reservation of a contact in a fresh session, committed (as a request makes)."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            used = reserve(db.session, "contacts")
            db.session.commit()
        finally:
            db.session.remove()
    return used


def test_a_known_plan_costs_one_statement(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("cache", plan="pro")
    assert _reserve(app, tf) == 1  # reads the plan
    with _statements(app) as seen:
        assert _reserve(app, tf) == 2
    work = [s for s in seen if not s.startswith("SET LOCAL search_path")]
    assert len(work) == 1 and work[0].startswith("UPDATE usage_counters"), work


def test_a_downgrade_is_seen_by_the_next_reservation(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("cache", plan="pro")
    _reserve(app, tf)  # Pro (50,000 contacts) is now known to this process
    set_counter(app, tf, "contacts", 500)
    set_plan(app, tf, plan="free")
    with pytest.raises(PlanLimitExceeded) as refused:
        _reserve(app, tf)
    assert (refused.value.plan, refused.value.max, refused.value.used) == ("free", 500, 500)
    # An operator's override lifts it, at once.
    set_plan(app, tf, limit_overrides={"contacts": 501})
    assert _reserve(app, tf) == 501
    with pytest.raises(PlanLimitExceeded):
        _reserve(app, tf)


def test_a_canceled_subscription_is_seen_by_the_next_reservation(
    app: Flask, factory: Factory
) -> None:
    tf = factory.tenant("cache", plan="pro")
    _reserve(app, tf)
    set_counter(app, tf, "contacts", 500)
    with app.app_context():
        db.session.execute(
            insert(BillingSubscription).values(
                tenant_id=tf.tenant.id,
                stripe_customer_id=f"cus_{tf.slug}",
                status="canceled",
                plan="pro",
                plan_version=1,
            )
        )
        db.session.commit()
        db.session.remove()
    with pytest.raises(PlanLimitExceeded) as refused:
        _reserve(app, tf)
    assert refused.value.plan == "free"


def test_a_trial_running_out_is_seen_by_the_next_reservation(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("cache", plan="pro")
    set_counter(app, tf, "contacts", 499)
    set_plan(app, tf, trial_ends_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5))
    assert _reserve(app, tf) == 500  # on the Pro trial
    assert _reserve(app, tf) == 501
    time.sleep(2)  # nothing in the database changes: only the clock
    with pytest.raises(PlanLimitExceeded) as refused:
        _reserve(app, tf)
    assert (refused.value.plan, refused.value.max) == ("free", 500)
