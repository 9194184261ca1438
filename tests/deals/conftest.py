"""Helpers for the deal tests: stage lookups and the deal's timeline, read straight from
the tenant schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.deals.models import Deal
from app.pipelines.models import Pipeline, Stage
from app.timeline.models import TimelineEvent
from tests.api.conftest import Api, tenant_session
from tests.conftest import TenantFixture

# The page tests' fixtures: a fresh workspace and its signed-in owner.
from tests.web.conftest import owner, tenant  # noqa: F401


def stages(app: Flask, tf: TenantFixture) -> dict[str, dict[str, Any]]:
    """The default pipeline's stages by name: {"Lead": {"id", "kind", "probability",
    "pipeline_id"}, ...}."""
    with tenant_session(app, tf) as session:
        rows = session.scalars(
            select(Stage).join(Pipeline).where(Pipeline.is_default.is_(True))
        ).all()
        return {
            s.name: {
                "id": s.id,
                "kind": s.kind,
                "probability": s.probability,
                "pipeline_id": s.pipeline_id,
            }
            for s in rows
        }


def add_pipeline(app: Flask, tf: TenantFixture, name: str = "Partners") -> dict[str, int]:
    """A second pipeline with two stages; returns {"pipeline", "first", "second"} ids."""
    with tenant_session(app, tf) as session:
        pipeline = Pipeline(name=name, position=1)
        session.add(pipeline)
        session.flush()
        first = Stage(pipeline_id=pipeline.id, name="Intro", position=0, probability=5)
        second = Stage(pipeline_id=pipeline.id, name="Signed", position=1, probability=100)
        second.kind = "won"
        session.add_all([first, second])
        session.commit()
        return {"pipeline": pipeline.id, "first": first.id, "second": second.id}


def events(app: Flask, tf: TenantFixture, deal_id: int) -> list[TimelineEvent]:
    """The deal's timeline, oldest first (detached copies)."""
    with tenant_session(app, tf) as session:
        rows = list(
            session.scalars(
                select(TimelineEvent)
                .where(TimelineEvent.deal_id == deal_id)
                .order_by(TimelineEvent.id)
            )
        )
        session.expunge_all()
        return rows


def backdate_stage_entry(app: Flask, tf: TenantFixture, deal_id: int, seconds: int) -> None:
    """Pretend the deal entered its stage ``seconds`` ago."""
    with tenant_session(app, tf) as session:
        deal = session.get(Deal, deal_id)
        assert deal is not None
        deal.stage_entered_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
        session.commit()


@pytest.fixture
def deal_api(client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture]) -> Api:
    """The owner of tenant A, calling the API with a bearer token on A's host."""
    return Api(client, two_tenants[0])


def new_deal(api: Api, **fields: Any) -> dict[str, Any]:
    """Create a deal through the API (asserting 201) and return its JSON."""
    response = api.post("/deals", json={"title": "Deal", **fields})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body
