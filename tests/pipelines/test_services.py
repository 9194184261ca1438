"""Pipeline services under concurrency and at the edges the API does not reach: two
admins at once never leave an inconsistent board, and rotting is computed per stage."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from app.access.policy import actor_for
from app.database import db
from app.errors import InvalidInput
from app.pipelines import services
from app.pipelines.models import Pipeline, Stage
from tenants.context import tenant_context
from tests.api.conftest import Api
from tests.conftest import TenantFixture
from tests.pipelines.conftest import board_problems, default_pipeline, stage_named


def _race(app: Flask, tf: TenantFixture, calls: list[Callable[[Any], None]]) -> list[str]:
    """Run each call in its own thread, session and transaction, released together;
    returns "ok" or the exception's class name per call."""
    barrier = threading.Barrier(len(calls))
    outcomes = [""] * len(calls)

    def run(index: int, call: Callable[[Any], None]) -> None:
        with app.app_context(), tenant_context(tf.tenant.ref):
            try:
                barrier.wait(timeout=10)
                call(db.session)
                outcomes[index] = "ok"
            except (InvalidInput, services.StaleBoard) as exc:
                db.session.rollback()
                outcomes[index] = type(exc).__name__
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_admins_delete_the_two_lost_stages_at_once(
    app: Flask, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    owner_api.post(f"/pipelines/{sales['id']}/stages", json={"name": "Rival", "kind": "lost"})
    lost_ids = [
        s["id"]
        for s in owner_api.get(f"/pipelines/{sales['id']}").get_json()["stages"]
        if s["kind"] == "lost"
    ]
    actor = actor_for(starter.owner_id, "owner")

    def delete(stage_id: int) -> Callable[[Any], None]:
        def call(session: Any) -> None:
            pipeline = session.get(Pipeline, sales["id"])
            stage = session.get(Stage, stage_id)
            services.delete_stage(session, actor, pipeline, stage)

        return call

    outcomes = _race(app, starter, [delete(i) for i in lost_ids])
    assert sorted(outcomes) == ["InvalidInput", "ok"]
    assert board_problems(app, starter) == []


def test_two_admins_reorder_from_the_same_version(
    app: Flask, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    ids = [s["id"] for s in sales["stages"]]
    actor = actor_for(starter.owner_id, "owner")
    orders = [[ids[1], ids[0], *ids[2:]], [*ids[:4], ids[5], ids[4]]]

    def reorder(order: list[int]) -> Callable[[Any], None]:
        def call(session: Any) -> None:
            pipeline = session.get(Pipeline, sales["id"])
            services.reorder_stages(session, actor, pipeline, order, sales["version"])

        return call

    outcomes = _race(app, starter, [reorder(o) for o in orders])
    assert sorted(outcomes) == ["StaleBoard", "ok"]
    stored = [s["id"] for s in owner_api.get(f"/pipelines/{sales['id']}").get_json()["stages"]]
    assert stored == orders[outcomes.index("ok")]
    assert board_problems(app, starter) == []


def test_rotting(app: Flask, starter: TenantFixture, owner_api: Api) -> None:
    sales = default_pipeline(owner_api)
    lead, won = stage_named(sales, "Lead"), stage_named(sales, "Won")
    owner_api.patch(f"/pipelines/{sales['id']}/stages/{lead['id']}", json={"rotting_days": 7})
    now = dt.datetime.now(dt.UTC)
    with app.app_context(), tenant_context(starter.tenant.ref):
        try:
            stage = db.session.get(Stage, lead["id"])
            closed = db.session.get(Stage, won["id"])
            assert stage is not None and closed is not None
            assert services.is_rotting(stage, now - dt.timedelta(days=8), now)
            assert not services.is_rotting(stage, now - dt.timedelta(days=6), now)
            assert not services.is_rotting(closed, now - dt.timedelta(days=800), now)
        finally:
            db.session.remove()
