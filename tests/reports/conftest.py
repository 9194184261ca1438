"""A small hand-built workspace whose reports are worked out by hand in the tests.

Period of interest: February 2026 (all times UTC; members have no time zone set, so UTC).
Default pipeline stages: Lead, Qualified, Proposal, Negotiation (open), Won, Lost.

=====  =====  ========  ===================================================  ========
deal   owner  amount    path (day of February 2026, 10:00)                    source
=====  =====  ========  ===================================================  ========
D1     O      EUR 1000  Lead 1 > Qualified 3 > Proposal 6 > Won 10 (1200)    Web
D2     O      EUR 500   Lead 2 > Qualified 4 > Lost 8 (Price too high, Acme) Web
D3     R      USD 200   Lead 3 > Qualified 5 > Proposal 9, open, close 03-15 Referral
D4     R      USD 300   Lead 5 > Lost 6 (No budget)                          none
D5     R      EUR 80    Negotiation 7, open, probability 90, close 02-20     Referral
D6     O      EUR 700   Lead Jan 15 > Won Feb 12                             none
D7     O      EUR 999   another pipeline: created Feb 4, won Feb 9           Web
D8     O      EUR 333.33  created Mar 2, open in Lead, p 33, close Jan 10    none
D9     O      no amount   created 2025-12-01, open in Lead, no close date    none
=====  =====  ========  ===================================================  ========

Activities: O a call on Feb 10, a task done on Feb 11, an open task, a call on Mar 5;
R a note on Feb 5.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from app.activities.models import Activity
from app.board.models import DealStageHistory
from app.deals.models import Deal
from app.pipelines.models import Pipeline, Stage
from tests.api.conftest import Api, tenant_session
from tests.conftest import Factory, TenantFixture

FEB = {"from": "2026-02-01", "to": "2026-02-28"}


def at(month: int, day: int, year: int = 2026, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


@dataclass
class World:
    tf: TenantFixture
    rep_id: int
    rep_email: str
    rep_token: str
    viewer_token: str
    manager_token: str
    pipeline_id: int
    other_pipeline_id: int
    stages: dict[str, int]
    deals: dict[str, int]


def _seed(
    app: Flask, tf: TenantFixture, rep_id: int
) -> tuple[int, int, dict[str, int], dict[str, int]]:
    owner = tf.owner_id
    with tenant_session(app, tf) as session:
        default = session.scalars(select(Pipeline).where(Pipeline.is_default)).one()
        other = Pipeline(name="Other", position=1)
        session.add(other)
        session.flush()
        session.add_all(
            Stage(pipeline_id=other.id, name=name, position=i, probability=p, kind=kind)
            for i, (name, p, kind) in enumerate(
                [("Start", 10, "open"), ("Done", 100, "won"), ("Gone", 0, "lost")]
            )
        )
        session.flush()
        stages = {
            s.name: s.id
            for s in session.scalars(select(Stage).where(Stage.pipeline_id == default.id))
        }
        other_stages = {
            s.name: s.id
            for s in session.scalars(select(Stage).where(Stage.pipeline_id == other.id))
        }
        deals: dict[str, int] = {}

        def deal(key: str, **values: Any) -> int:
            row = {
                "title": key,
                "pipeline_id": default.id,
                "owner_id": owner,
                "currency": "EUR",
                "status": "open",
                **values,
            }
            row.setdefault("stage_entered_at", row["created_at"])
            deal_id = session.execute(insert(Deal).values(**row).returning(Deal.id)).scalar_one()
            deals[key] = deal_id
            return deal_id

        def moves(deal_id: int, path: list[tuple[str, dt.datetime]], pipeline: int = 0) -> None:
            ids = other_stages if pipeline else stages
            previous: tuple[str, dt.datetime] | None = None
            rows = []
            for name, when in path:
                rows.append(
                    {
                        "deal_id": deal_id,
                        "pipeline_id": pipeline or default.id,
                        "from_stage_id": ids[previous[0]] if previous else None,
                        "to_stage_id": ids[name],
                        "moved_by": owner,
                        "moved_at": when,
                        "seconds_in_from_stage": int((when - previous[1]).total_seconds())
                        if previous
                        else None,
                    }
                )
                previous = (name, when)
            session.execute(insert(DealStageHistory), rows)

        d1 = deal(
            "D1",
            amount_minor=100_000,
            stage_id=stages["Won"],
            status="won",
            created_at=at(2, 1),
            closed_at=at(2, 10),
            won_amount_minor=120_000,
            source="Web",
        )
        moves(
            d1,
            [
                ("Lead", at(2, 1)),
                ("Qualified", at(2, 3)),
                ("Proposal", at(2, 6)),
                ("Won", at(2, 10)),
            ],
        )
        d2 = deal(
            "D2",
            amount_minor=50_000,
            stage_id=stages["Lost"],
            status="lost",
            created_at=at(2, 2),
            closed_at=at(2, 8),
            lost_reason="Price too high",
            lost_to_competitor="Acme",
            source="Web",
        )
        moves(d2, [("Lead", at(2, 2)), ("Qualified", at(2, 4)), ("Lost", at(2, 8))])
        d3 = deal(
            "D3",
            amount_minor=20_000,
            currency="USD",
            owner_id=rep_id,
            stage_id=stages["Proposal"],
            created_at=at(2, 3),
            expected_close_date=dt.date(2026, 3, 15),
            source="Referral",
        )
        moves(d3, [("Lead", at(2, 3)), ("Qualified", at(2, 5)), ("Proposal", at(2, 9))])
        d4 = deal(
            "D4",
            amount_minor=30_000,
            currency="USD",
            owner_id=rep_id,
            stage_id=stages["Lost"],
            status="lost",
            created_at=at(2, 5),
            closed_at=at(2, 6),
            lost_reason="No budget",
        )
        moves(d4, [("Lead", at(2, 5)), ("Lost", at(2, 6))])
        d5 = deal(
            "D5",
            amount_minor=8_000,
            owner_id=rep_id,
            stage_id=stages["Negotiation"],
            probability=90,
            created_at=at(2, 7),
            expected_close_date=dt.date(2026, 2, 20),
            source="  Referral ",
        )
        moves(d5, [("Negotiation", at(2, 7))])
        d6 = deal(
            "D6",
            amount_minor=70_000,
            stage_id=stages["Won"],
            status="won",
            created_at=at(1, 15),
            closed_at=at(2, 12),
        )
        moves(d6, [("Lead", at(1, 15)), ("Won", at(2, 12))])
        d7 = deal(
            "D7",
            amount_minor=99_900,
            pipeline_id=other.id,
            stage_id=other_stages["Done"],
            status="won",
            created_at=at(2, 4),
            closed_at=at(2, 9),
            source="Web",
            lost_reason=None,
        )
        moves(d7, [("Start", at(2, 4)), ("Done", at(2, 9))], pipeline=other.id)
        d8 = deal(
            "D8",
            amount_minor=33_333,
            stage_id=stages["Lead"],
            probability=33,
            created_at=at(3, 2),
            expected_close_date=dt.date(2026, 1, 10),
        )
        moves(d8, [("Lead", at(3, 2))])
        d9 = deal("D9", amount_minor=None, stage_id=stages["Lead"], created_at=at(12, 1, 2025))
        moves(d9, [("Lead", at(12, 1, 2025))])
        session.execute(
            insert(Activity),
            [
                {"type": "call", "subject": "c", "occurred_at": at(2, 10), "owner_id": owner},
                {
                    "type": "task",
                    "subject": "t",
                    "occurred_at": at(2, 1),
                    "done": True,
                    "done_at": at(2, 11),
                    "owner_id": owner,
                },
                {"type": "task", "subject": "open", "occurred_at": at(2, 1), "owner_id": owner},
                {"type": "call", "subject": "late", "occurred_at": at(3, 5), "owner_id": owner},
                {"type": "note", "subject": "n", "occurred_at": at(2, 5), "owner_id": rep_id},
            ],
        )
        session.commit()
        return default.id, other.id, stages, deals


@pytest.fixture(scope="module")
def world(app: Flask) -> Iterator[World]:
    """The workspace above (made once per module: the tests only read it)."""
    factory = Factory(app)
    tf = factory.tenant("reports", name="Reports Ltd", plan="starter")
    rep_id, rep_email, rep_token = factory.member(tf, role="sales_rep")
    _, _, viewer_token = factory.member(tf, role="viewer")
    _, _, manager_token = factory.member(tf, role="manager")
    pipeline_id, other_id, stages, deals = _seed(app, tf, rep_id)
    yield World(
        tf=tf,
        rep_id=rep_id,
        rep_email=rep_email,
        rep_token=rep_token,
        viewer_token=viewer_token,
        manager_token=manager_token,
        pipeline_id=pipeline_id,
        other_pipeline_id=other_id,
        stages=stages,
        deals=deals,
    )


@pytest.fixture
def owner_api(client: FlaskClient, world: World) -> Api:
    return Api(client, world.tf)


@pytest.fixture
def rep_api(client: FlaskClient, world: World) -> Api:
    return Api(client, world.tf, token=world.rep_token)
