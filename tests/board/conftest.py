"""Helpers for the board tests: a Starter workspace (several pipelines), its owner's
API client, deals seeded straight into the tenant schema, and history reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import insert, select

from app.board.models import DealStageHistory
from app.deals.models import Deal
from tests.api.conftest import tenant_session
from tests.conftest import TenantFixture

# The pipeline tests' fixtures (Starter workspace, owner API) and the browser's.
from tests.pipelines.conftest import owner_api, starter  # noqa: F401
from tests.web.conftest import chromium, live_server  # noqa: F401


def history(app: Flask, tf: TenantFixture, deal_id: int) -> list[dict[str, Any]]:
    """The deal's stage history, oldest first, as plain dicts."""
    with tenant_session(app, tf) as session:
        rows = session.scalars(
            select(DealStageHistory)
            .where(DealStageHistory.deal_id == deal_id)
            .order_by(DealStageHistory.id)
        )
        return [
            {
                "pipeline_id": r.pipeline_id,
                "from": r.from_stage_id,
                "to": r.to_stage_id,
                "by": r.moved_by,
                "seconds": r.seconds_in_from_stage,
            }
            for r in rows
        ]


def seed_deals(
    app: Flask,
    tf: TenantFixture,
    *,
    pipeline_id: int,
    stage_id: int,
    count: int,
    owner_id: int | None = None,
    currency: str = "EUR",
    amount_minor: int | None = 1000,
    status: str = "open",
    entered_days_ago: int = 0,
) -> None:
    """``count`` deals in one stage, inserted in one statement (fast, no history)."""
    entered = dt.datetime.now(dt.UTC) - dt.timedelta(days=entered_days_ago)
    with tenant_session(app, tf) as session:
        session.execute(
            insert(Deal),
            [
                {
                    "title": f"Seeded {i}",
                    "pipeline_id": pipeline_id,
                    "stage_id": stage_id,
                    "owner_id": owner_id if owner_id is not None else tf.owner_id,
                    "currency": currency,
                    "amount_minor": amount_minor,
                    "status": status,
                    "stage_entered_at": entered,
                    "lost_reason": "Seeded" if status == "lost" else None,
                }
                for i in range(count)
            ],
        )
        session.commit()
