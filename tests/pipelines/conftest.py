"""Helpers for the pipeline tests: a Starter workspace (three pipelines allowed), its
owner's API client, and reads straight from the tenant schema."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.deals.models import Deal
from app.pipelines.models import Pipeline, Stage
from tests.api.conftest import Api, tenant_session
from tests.conftest import Factory, TenantFixture

# The browser test's fixtures (live server, Chromium) are the web tests'.
from tests.web.conftest import chromium, live_server  # noqa: F401


@pytest.fixture
def starter(factory: Factory) -> TenantFixture:
    """A workspace on the Starter plan (three pipelines)."""
    return factory.tenant("pipes", name="Pipes Ltd", plan="starter")


@pytest.fixture
def owner_api(client: FlaskClient, starter: TenantFixture) -> Api:
    """The Starter workspace's owner, calling with a bearer token."""
    return Api(client, starter)


def default_pipeline(api: Api) -> dict[str, Any]:
    """The default pipeline as the API answers it."""
    response = api.get("/pipelines")
    assert response.status_code == 200, response.get_json()
    found: dict[str, Any] = next(p for p in response.get_json()["items"] if p["is_default"])
    return found


def stage_named(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in pipeline["stages"] if s["name"] == name)
    return found


def new_deal(api: Api, **fields: Any) -> dict[str, Any]:
    """Create a deal through the API (asserting 201) and return its JSON."""
    response = api.post("/deals", json={"title": "Deal", **fields})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def board_problems(app: Flask, tf: TenantFixture) -> list[str]:
    """Everything wrong with the workspace's boards (empty when consistent): gaps in
    positions, not exactly one won / no lost / no open stage, deals in a stage of
    another pipeline or with a status other than their stage's kind."""
    problems: list[str] = []
    with tenant_session(app, tf) as session:
        for pipeline in session.scalars(select(Pipeline)):
            stages = list(
                session.scalars(
                    select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)
                )
            )
            if [s.position for s in stages] != list(range(len(stages))):
                problems.append(f"pipeline {pipeline.id}: positions {[s.position for s in stages]}")
            kinds = [s.kind for s in stages]
            if kinds.count("won") != 1 or "lost" not in kinds or "open" not in kinds:
                problems.append(f"pipeline {pipeline.id}: kinds {kinds}")
        rows = session.execute(
            select(Deal.id, Deal.pipeline_id, Deal.status, Stage.pipeline_id, Stage.kind).join(
                Stage, Stage.id == Deal.stage_id
            )
        )
        for deal_id, deal_pipeline, status, stage_pipeline, kind in rows:
            if deal_pipeline != stage_pipeline or status != kind:
                problems.append(f"deal {deal_id}: {deal_pipeline}/{stage_pipeline} {status}/{kind}")
    return problems
