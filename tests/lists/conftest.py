"""Helpers of the list tests: a workspace with an owner and a sales rep, records seeded
straight into its schema (fast, with chosen timestamps), and custom fields made through
their services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.access.policy import actor_for
from app.companies.models import Company
from app.contacts.models import Contact
from app.custom_fields import services as custom_fields
from app.deals.models import Deal
from app.pipelines.models import Pipeline, Stage
from tests.api.conftest import Api, tenant_session
from tests.conftest import Factory, TenantFixture

# The page and browser fixtures of tests/web, shared rather than copied.
from tests.web.conftest import chromium, live_server, owner, tenant  # noqa: F401

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Team:
    """A workspace, its owner's API and a sales rep's (own-scope) API."""

    tf: TenantFixture
    api: Api
    rep_id: int
    rep_email: str
    rep: Api


@pytest.fixture
def team(client: FlaskClient, factory: Factory) -> Team:
    tf = factory.tenant("lists", plan="enterprise")
    rep_id, rep_email, rep_token = factory.member(tf, role="sales_rep")
    return Team(tf, Api(client, tf), rep_id, rep_email, Api(client, tf, token=rep_token))


def seed(app: Flask, tf: TenantFixture, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert records of ``model`` (owned by the owner unless a row says otherwise) in
    one transaction; returns their ids in order."""
    with tenant_session(app, tf) as session:
        defaults: dict[str, Any] = {"owner_id": tf.owner_id}
        if model is Deal:
            stage = session.scalars(
                select(Stage)
                .join(Pipeline)
                .where(Pipeline.is_default.is_(True), Stage.kind == "open")
                .order_by(Stage.position)
            ).first()
            assert stage is not None
            defaults.update(pipeline_id=stage.pipeline_id, stage_id=stage.id, title="Deal")
        if model is Company:
            defaults["name"] = "Company"
        records = [model(**{**defaults, **row}) for row in rows]
        session.add_all(records)
        session.commit()
        return [r.id for r in records]


def contacts(app: Flask, tf: TenantFixture, rows: list[dict[str, Any]]) -> list[int]:
    return seed(app, tf, Contact, rows)


def define(app: Flask, tf: TenantFixture, entity: str, key: str, kind: str, **extra: Any) -> None:
    """A custom field, made through the custom-field services (as the settings do)."""
    with tenant_session(app, tf) as session:
        custom_fields.create_definition(
            session,
            actor_for(tf.owner_id, "owner"),
            {"entity": entity, "key": key, "label": key.replace("_", " ").title(), "type": kind}
            | extra,
        )


def ids(response: Any) -> list[int]:
    """The ids of a list answer, in order (asserting 200)."""
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def listed(api: Api, path: str = "/contacts", **query: Any) -> list[int]:
    """Every id of a list, following the cursor (small pages), in order."""
    found: list[int] = []
    cursor = None
    for _ in range(200):
        params = {"limit": "2", **query}
        if cursor:
            params["cursor"] = cursor
        response = api.get(path, query_string=params)
        found += ids(response)
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("pagination did not end")
