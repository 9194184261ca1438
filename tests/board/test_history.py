"""Stage history: every kind of move writes exactly one row in the move's transaction,
loss reasons are required and matched to the list, and a move made from a stale view
(or two at once) has a well-defined outcome with no history lost."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.access.policy import actor_for
from app.database import db
from app.deals import services as deal_services
from app.deals.models import Deal
from app.errors import InvalidInput
from tenants.context import tenant_context
from tests.api.conftest import Api
from tests.board.conftest import history
from tests.conftest import TenantFixture, login
from tests.deals.conftest import backdate_stage_entry
from tests.pipelines.conftest import default_pipeline, new_deal, stage_named
from tests.web.conftest import Browser


def test_create_and_api_moves_write_one_row_each(
    app: Flask, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead, qualified = stage_named(sales, "Lead"), stage_named(sales, "Qualified")
    won, lost = stage_named(sales, "Won"), stage_named(sales, "Lost")
    deal = new_deal(owner_api, amount="10.00")
    rows = history(app, starter, deal["id"])
    assert rows == [
        {
            "pipeline_id": sales["id"],
            "from": None,
            "to": lead["id"],
            "by": starter.owner_id,
            "seconds": None,
        }
    ]
    backdate_stage_entry(app, starter, deal["id"], 3600)
    assert (
        owner_api.patch(f"/deals/{deal['id']}", json={"stage_id": qualified["id"]}).status_code
        == 200
    )
    # A change that is not a move writes no row.
    assert owner_api.patch(f"/deals/{deal['id']}", json={"title": "Renamed"}).status_code == 200
    # Same stage again: no move, no row.
    assert (
        owner_api.patch(f"/deals/{deal['id']}", json={"stage_id": qualified["id"]}).status_code
        == 200
    )
    assert owner_api.patch(f"/deals/{deal['id']}", json={"stage_id": won["id"]}).status_code == 200
    reopened = owner_api.patch(f"/deals/{deal['id']}", json={"stage_id": lead["id"]})
    assert reopened.status_code == 200 and reopened.get_json()["status"] == "open"
    rows = history(app, starter, deal["id"])
    assert [(r["from"], r["to"]) for r in rows] == [
        (None, lead["id"]),
        (lead["id"], qualified["id"]),
        (qualified["id"], won["id"]),
        (won["id"], lead["id"]),
    ]
    assert 3600 <= rows[1]["seconds"] < 3700
    # Refused moves write nothing.
    refused = owner_api.patch(f"/deals/{deal['id']}", json={"stage_id": lost["id"]})
    assert refused.status_code == 400
    assert len(history(app, starter, deal["id"])) == 4


def test_move_to_another_pipeline(app: Flask, starter: TenantFixture, owner_api: Api) -> None:
    other = owner_api.post("/pipelines", json={"name": "Partners"}).get_json()
    target = other["stages"][1]
    deal = new_deal(owner_api)
    response = owner_api.patch(
        f"/deals/{deal['id']}", json={"pipeline_id": other["id"], "stage_id": target["id"]}
    )
    assert response.status_code == 200
    last = history(app, starter, deal["id"])[-1]
    assert last["pipeline_id"] == other["id"] and last["to"] == target["id"]
    assert last["from"] == deal["stage_id"]


def test_page_move_and_set_based_moves(
    app: Flask, client: FlaskClient, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    qualified, proposal = stage_named(sales, "Qualified"), stage_named(sales, "Proposal")
    deal = new_deal(owner_api)
    assert login(client, starter).status_code == 302
    page = Browser(client, starter)
    moved = page.submit(
        f"/deals/{deal['id']}",
        {"stage_id": str(qualified["id"])},
        action=f"/deals/{deal['id']}/move",
    )
    assert moved.status_code == 302
    # Deleting the stage moves its deals in one statement, with one row each.
    others = [new_deal(owner_api, stage_id=qualified["id"]) for _ in range(2)]
    response = owner_api.delete(
        f"/pipelines/{sales['id']}/stages/{qualified['id']}",
        query_string={"move_to_stage_id": proposal["id"]},
    )
    assert response.status_code in (200, 204), response.get_json()
    for item in (deal, *others):
        last = history(app, starter, item["id"])[-1]
        assert (last["from"], last["to"]) == (qualified["id"], proposal["id"])
        assert last["by"] == starter.owner_id and last["seconds"] is not None
    assert len(history(app, starter, deal["id"])) == 3
    # Deleting the pipeline moves its deals to another pipeline's stage.
    other = owner_api.post("/pipelines", json={"name": "Partners"}).get_json()
    response = owner_api.delete(
        f"/pipelines/{sales['id']}", query_string={"move_to_stage_id": other["stages"][0]["id"]}
    )
    assert response.status_code in (200, 204), response.get_json()
    last = history(app, starter, deal["id"])[-1]
    assert last["pipeline_id"] == other["id"] and last["from"] == proposal["id"]
    # Deleting a deal takes its history with it.
    assert owner_api.delete(f"/deals/{deal['id']}").status_code == 204
    assert history(app, starter, deal["id"]) == []


def test_loss_reason_required_and_matched_to_the_list(
    app: Flask, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lost = stage_named(sales, "Lost")
    deal = new_deal(owner_api)
    for body in ({}, {"lost_reason": "  "}, {"lost_reason": None}):
        response = owner_api.patch(f"/deals/{deal['id']}", json={"stage_id": lost["id"], **body})
        assert response.status_code == 400
        assert "lost_reason" in response.get_json()["error"]["details"]
    long = owner_api.patch(
        f"/deals/{deal['id']}", json={"stage_id": lost["id"], "lost_reason": "x" * 201}
    )
    assert long.status_code == 400 and "lost_reason" in long.get_json()["error"]["details"]
    assert len(history(app, starter, deal["id"])) == 1
    matched = owner_api.patch(
        f"/deals/{deal['id']}",
        json={
            "stage_id": lost["id"],
            "lost_reason": "price TOO high",
            "lost_to_competitor": "Rival",
        },
    )
    assert matched.status_code == 200
    assert matched.get_json()["lost_reason"] == "Price too high"
    assert matched.get_json()["lost_to_competitor"] == "Rival"
    # Free text is kept as typed (see docs/board.md).
    other = new_deal(owner_api)
    typed = owner_api.patch(
        f"/deals/{other['id']}", json={"stage_id": lost["id"], "lost_reason": "Moved abroad"}
    )
    assert typed.status_code == 200 and typed.get_json()["lost_reason"] == "Moved abroad"


def test_stale_move_is_a_conflict(app: Flask, starter: TenantFixture, owner_api: Api) -> None:
    sales = default_pipeline(owner_api)
    lead, qualified = stage_named(sales, "Lead"), stage_named(sales, "Qualified")
    proposal = stage_named(sales, "Proposal")
    deal = new_deal(owner_api)
    first = owner_api.patch(
        f"/deals/{deal['id']}", json={"stage_id": qualified["id"], "from_stage_id": lead["id"]}
    )
    assert first.status_code == 200
    stale = owner_api.patch(
        f"/deals/{deal['id']}", json={"stage_id": proposal["id"], "from_stage_id": lead["id"]}
    )
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "conflict" and error["details"] == {"stage_id": qualified["id"]}
    assert owner_api.get(f"/deals/{deal['id']}").get_json()["stage_id"] == qualified["id"]
    assert len(history(app, starter, deal["id"])) == 2
    # On create the field is refused by name.
    created = owner_api.post("/deals", json={"title": "X", "from_stage_id": lead["id"]})
    assert created.status_code == 400 and "from_stage_id" in created.get_json()["error"]["details"]


def test_two_moves_at_once_one_wins_one_conflicts(
    app: Flask, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead = stage_named(sales, "Lead")
    targets = [stage_named(sales, "Qualified")["id"], stage_named(sales, "Proposal")["id"]]
    deal = new_deal(owner_api)
    actor = actor_for(starter.owner_id, "owner")
    barrier = threading.Barrier(2)
    outcomes = [""] * 2

    def run(index: int) -> None:
        with app.app_context(), tenant_context(starter.tenant.ref):
            try:
                row = db.session.get(Deal, deal["id"])
                assert row is not None
                barrier.wait(timeout=10)
                deal_services.update_deal(
                    db.session,
                    actor,
                    row,
                    {"stage_id": targets[index], "from_stage_id": lead["id"]},
                )
                outcomes[index] = "ok"
            except (deal_services.DealMoved, InvalidInput) as exc:
                db.session.rollback()
                outcomes[index] = type(exc).__name__
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["DealMoved", "ok"]
    winner = targets[outcomes.index("ok")]
    stored: dict[str, Any] = owner_api.get(f"/deals/{deal['id']}").get_json()
    assert stored["stage_id"] == winner
    assert [(r["from"], r["to"]) for r in history(app, starter, deal["id"])] == [
        (None, lead["id"]),
        (lead["id"], winner),
    ]


def test_two_blind_moves_at_once_keep_a_consistent_history(
    app: Flask, starter: TenantFixture, owner_api: Api
) -> None:
    """Without ``from_stage_id`` both moves apply, one after the other: the history
    chains them (the second starts where the first ended), nothing is lost."""
    sales = default_pipeline(owner_api)
    lead = stage_named(sales, "Lead")
    targets = [stage_named(sales, "Qualified")["id"], stage_named(sales, "Proposal")["id"]]
    deal = new_deal(owner_api)
    actor = actor_for(starter.owner_id, "owner")
    barrier = threading.Barrier(2)

    def run(index: int) -> None:
        with app.app_context(), tenant_context(starter.tenant.ref):
            try:
                row = db.session.get(Deal, deal["id"])
                assert row is not None
                barrier.wait(timeout=10)
                deal_services.update_deal(db.session, actor, row, {"stage_id": targets[index]})
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    rows = history(app, starter, deal["id"])
    assert len(rows) == 3 and rows[1]["from"] == lead["id"]
    assert rows[2]["from"] == rows[1]["to"]
    assert owner_api.get(f"/deals/{deal['id']}").get_json()["stage_id"] == rows[2]["to"]
