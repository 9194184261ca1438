"""Exact limits against real PostgreSQL: reservations, races, release, downgrades,
reconciliation and provisioning's counters."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select, text

from app.contacts.models import Contact
from app.database import db
from app.identity.models import Membership
from app.identity.services import add_member
from app.tasks import celery_app
from billing.limits import PlanLimitExceeded, reconcile_all, reconcile_tenant, reserve
from billing.tasks import reconcile_usage
from tenants.context import tenant_context
from tenants.models import Tenant
from tenants.provisioning import ProvisioningError, provision_tenant
from tests.api.conftest import Api, assert_error, seed_contacts
from tests.billing.conftest import contact_count, counters, set_counter, set_plan
from tests.conftest import PASSWORD, Factory, TenantFixture, unique_slug

RACERS = 100


def test_provisioning_seeds_the_counters_and_the_plan_version(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("seed", plan="starter")
    assert counters(app, tf) == {"contacts": 0, "seats": 1, "pipelines": 1, "custom_fields": 0}
    with app.app_context():
        tenant = db.session.get(Tenant, tf.tenant.id)
        assert tenant is not None
        assert (tenant.plan, tenant.plan_version, tenant.limit_overrides) == ("starter", 1, {})
        db.session.remove()


def test_provisioning_counts_what_the_seed_hook_adds(app: Flask) -> None:
    def add_contacts(conn: Any, _ref: Any) -> None:
        conn.execute(insert(Contact), [{"first_name": f"Seed {n}"} for n in range(7)])

    with app.app_context():
        made = provision_tenant(
            db.engine, slug=unique_slug("hook"), name="Hook", after_create=add_contacts
        )
        db.session.remove()
    tf = TenantFixture(made, "", 0, "")
    assert counters(app, tf) == {"contacts": 7, "seats": 0, "pipelines": 1, "custom_fields": 0}


def test_an_unknown_plan_is_refused_and_nothing_is_left(app: Flask) -> None:
    slug = unique_slug("noplan")
    with app.app_context():
        with pytest.raises(ProvisioningError, match="unknown plan"):
            provision_tenant(db.engine, slug=slug, name="No plan", plan="gold")
        assert db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is None
        db.session.remove()


def _race(calls: int, work: Any) -> list[Any]:
    """Run ``work(i)`` ``calls`` times from many threads, released together."""
    start = threading.Barrier(min(calls, 25))

    def run(i: int) -> Any:
        if i < 25:
            start.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(max_workers=25) as pool:
        return list(pool.map(run, range(calls)))


def test_parallel_creates_through_the_api_stop_exactly_at_the_cap(
    app: Flask, factory: Factory
) -> None:
    tf = factory.tenant("race")
    set_plan(app, tf, limit_overrides={"contacts": 15})
    api = Api(app.test_client(), tf)
    for n in range(5):
        api.create(first_name=f"Existing {n}")

    def create(i: int) -> Any:
        response = Api(app.test_client(), tf).post("/contacts", json={"first_name": f"R{i}"})
        return response.status_code, response.get_json()

    results = _race(RACERS, create)
    statuses = [status for status, _ in results]
    assert statuses.count(201) == 10, statuses
    assert statuses.count(402) == RACERS - 10, statuses
    for status, body in results:
        if status == 402:
            assert body["error"]["code"] == "plan_limit_exceeded"
            assert body["error"]["details"] == {
                "limit": "contacts",
                "used": 15,
                "max": 15,
                "plan": "free",
            }
    assert contact_count(app, tf) == 15
    assert counters(app, tf)["contacts"] == 15


def test_parallel_add_member_stops_exactly_at_the_seat_cap(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("seats")
    set_plan(app, tf, plan="starter")  # 5 seats, the owner has one

    def join(i: int) -> str:
        with app.app_context():
            tenant = db.session.get(Tenant, tf.tenant.id)
            assert tenant is not None
            try:
                add_member(
                    db.session,
                    tenant=tenant,
                    email=f"racer{i}-{uuid.uuid4().hex[:6]}@example.com",
                    password=PASSWORD,
                    role="sales_rep",
                    actor="test",
                )
                db.session.commit()
            except PlanLimitExceeded as exc:
                db.session.rollback()
                assert exc.details == {"limit": "seats", "used": 5, "max": 5, "plan": "starter"}
                return "refused"
            finally:
                db.session.remove()
            return "added"

    results = _race(40, join)
    assert results.count("added") == 4
    assert results.count("refused") == 36
    with app.app_context():
        seats = db.session.scalars(
            select(Membership.id).where(Membership.tenant_id == tf.tenant.id)
        ).all()
        db.session.remove()
    assert len(seats) == 5
    assert counters(app, tf)["seats"] == 5


def test_delete_gives_the_place_back(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("release")
    set_plan(app, tf, limit_overrides={"contacts": 2})
    api = Api(app.test_client(), tf)
    first = api.create(first_name="One")
    api.create(first_name="Two")
    assert_error(api.post("/contacts", json={"first_name": "Three"}), 402, "plan_limit_exceeded")
    assert api.delete(f"/contacts/{first['id']}").status_code == 204
    assert counters(app, tf)["contacts"] == 1
    api.create(first_name="Three")
    assert counters(app, tf)["contacts"] == 2 == contact_count(app, tf)


def test_release_never_goes_below_zero(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("floor")
    (cid,) = seed_contacts(app, tf, [{"first_name": "Uncounted"}])  # bypasses the counter
    assert counters(app, tf)["contacts"] == 0
    assert Api(app.test_client(), tf).delete(f"/contacts/{cid}").status_code == 204
    assert counters(app, tf)["contacts"] == 0


def test_an_over_limit_tenant_keeps_reading_editing_and_deleting(
    app: Flask, factory: Factory
) -> None:
    tf = factory.tenant("downgrade", plan="starter")
    api = Api(app.test_client(), tf)
    ids = [api.create(first_name=f"Kept {n}")["id"] for n in range(4)]
    set_plan(app, tf, plan="free", limit_overrides={"contacts": 2})  # a downgrade

    listed = api.get("/contacts")
    assert listed.status_code == 200
    assert len(listed.get_json()["items"]) == 4
    assert api.get(f"/contacts/{ids[0]}").status_code == 200
    assert api.patch(f"/contacts/{ids[0]}", json={"title": "Still here"}).status_code == 200
    details = assert_error(
        api.post("/contacts", json={"first_name": "New"}), 402, "plan_limit_exceeded"
    )
    assert details == {"limit": "contacts", "used": 4, "max": 2, "plan": "free"}
    assert api.delete(f"/contacts/{ids[1]}").status_code == 204
    assert_error(api.post("/contacts", json={"first_name": "New"}), 402, "plan_limit_exceeded")
    assert contact_count(app, tf) == 3 == counters(app, tf)["contacts"]


def test_reconciliation_fixes_a_corrupted_counter_and_reports_it(
    app: Flask, factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    tf = factory.tenant("drift")
    api = Api(app.test_client(), tf)
    for n in range(3):
        api.create(first_name=f"C{n}")
    set_counter(app, tf, "contacts", 40)
    set_counter(app, tf, "seats", 0)
    with app.app_context(), tenant_context(tf.tenant.ref), caplog.at_level(logging.WARNING):
        drift = reconcile_tenant(db.session)
        db.session.remove()
    assert {name: (d.recorded, d.actual) for name, d in drift.items()} == {
        "contacts": (40, 3),
        "seats": (0, 1),
    }
    assert f"tenant_id={tf.tenant.id} resource=contacts recorded=40 actual=3" in caplog.text
    assert counters(app, tf) == {"contacts": 3, "seats": 1, "pipelines": 1, "custom_fields": 0}
    with app.app_context(), tenant_context(tf.tenant.ref):
        assert reconcile_tenant(db.session) == {}
        db.session.remove()


def test_reconciliation_walks_the_fleet_and_recreates_missing_rows(
    app: Flask, factory: Factory
) -> None:
    a, b = factory.tenant("fleet-a"), factory.tenant("fleet-b")
    set_counter(app, a, "pipelines", 9)
    with app.app_context(), tenant_context(b.tenant.ref):
        db.session.execute(text("DELETE FROM usage_counters WHERE resource = 'seats'"))
        db.session.commit()
        db.session.remove()
    with app.app_context():
        report = reconcile_all(db.engine)
    assert report.failed == {}
    assert {r: (d.recorded, d.actual) for r, d in report.drift[a.tenant.id].items()} == {
        "pipelines": (9, 1)
    }
    assert {r: (d.recorded, d.actual) for r, d in report.drift[b.tenant.id].items()} == {
        "seats": (0, 1)
    }
    assert counters(app, a)["pipelines"] == 1
    assert counters(app, b)["seats"] == 1


def test_the_nightly_task_is_registered_scheduled_and_runs_eagerly(
    app: Flask, factory: Factory
) -> None:
    tf = factory.tenant("nightly")
    set_counter(app, tf, "contacts", 12)
    assert reconcile_usage.name in celery_app.tasks
    scheduled = [entry["task"] for entry in celery_app.conf.beat_schedule.values()]
    assert reconcile_usage.name in scheduled
    with app.app_context():
        assert celery_app.conf.task_always_eager
        result = reconcile_usage.delay().get()
    assert result["failed"] == {}
    assert result["drift"][str(tf.tenant.id)] == {"contacts": [12, 0]}
    assert counters(app, tf)["contacts"] == 0


def test_the_cli_reconciles_with_a_summary(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("clirec")
    set_counter(app, tf, "contacts", 5)
    result = app.test_cli_runner().invoke(args=["billing", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "reconciled" in result.output
    assert f"tenant {tf.tenant.id}: contacts 5 -> 0" in result.output
    assert counters(app, tf)["contacts"] == 0


def test_the_cli_refuses_a_member_past_the_seat_cap(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("clicap")  # free: 2 seats
    runner = app.test_cli_runner()
    args = ["users", "add", tf.slug, "--password", PASSWORD, "--role", "viewer"]
    ok = runner.invoke(args=[*args, "--email", f"second@{tf.slug}.example"])
    assert ok.exit_code == 0, ok.output
    refused = runner.invoke(args=[*args, "--email", f"third@{tf.slug}.example"])
    assert refused.exit_code == 1
    assert "all 2 seats of its Free plan in use" in refused.output
    assert "Traceback" not in refused.output
    assert counters(app, tf)["seats"] == 2


def test_the_cli_offers_the_catalogs_plans(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "tenants",
            "create",
            unique_slug("cli"),
            "--name",
            "X",
            "--owner-email",
            "x@example.com",
            "--owner-password",
            PASSWORD,
            "--plan",
            "gold",
        ]
    )
    assert result.exit_code == 2
    assert "'free', 'starter', 'pro', 'enterprise'" in result.output


def test_reserve_needs_a_counted_resource(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("badres")
    with app.app_context(), tenant_context(tf.tenant.ref):
        with pytest.raises(ValueError, match="not a counted resource"):
            reserve(db.session, "storage_mb")
        with pytest.raises(ValueError, match="at least one"):
            reserve(db.session, "contacts", 0)
        assert reserve(db.session, "contacts", 3) == 3
        db.session.rollback()  # a rolled-back reservation is given back
        db.session.remove()
    assert counters(app, tf)["contacts"] == 0
