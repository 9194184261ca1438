"""The pipelines API: listing, creating (plan cap), renaming, stages and their rules,
reordering with versions, deleting with deals moved, rights."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.timeline.models import TimelineEvent
from tests.api.conftest import Api, assert_error, tenant_session
from tests.conftest import Factory, TenantFixture
from tests.pipelines.conftest import board_problems, default_pipeline, new_deal, stage_named

CUSTOM_STAGES = [
    {"name": "Applied", "probability": 10},
    {"name": "Approved", "kind": "won", "color": "teal"},
    {"name": "Rejected", "kind": "lost"},
]


def _create(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/pipelines", json={"name": "Partners", **body})
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def test_new_workspace_has_the_default_pipeline(owner_api: Api) -> None:
    pipeline = default_pipeline(owner_api)
    assert pipeline["name"] == "Sales"
    assert [(s["name"], s["position"], s["kind"]) for s in pipeline["stages"]] == [
        ("Lead", 0, "open"),
        ("Qualified", 1, "open"),
        ("Proposal", 2, "open"),
        ("Negotiation", 3, "open"),
        ("Won", 4, "won"),
        ("Lost", 5, "lost"),
    ]
    assert stage_named(pipeline, "Won")["probability"] == 100
    assert stage_named(pipeline, "Won")["color"] == "green"
    assert stage_named(pipeline, "Lead")["rotting_days"] is None
    assert pipeline["version"] == 1
    response = owner_api.get(f"/pipelines/{pipeline['id']}")
    assert response.status_code == 200 and response.get_json() == pipeline


def test_create_with_default_or_given_stages(owner_api: Api) -> None:
    plain = _create(owner_api, name="  Renewals ")
    assert plain["name"] == "Renewals" and not plain["is_default"]
    assert [s["name"] for s in plain["stages"]][-2:] == ["Won", "Lost"]
    response = owner_api.post("/pipelines", json={"name": "Partners", "stages": CUSTOM_STAGES})
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/pipelines/{response.get_json()['id']}")
    stages = response.get_json()["stages"]
    assert [
        (s["name"], s["position"], s["probability"], s["kind"], s["color"]) for s in stages
    ] == [
        ("Applied", 0, 10, "open", "blue"),
        ("Approved", 1, 100, "won", "teal"),
        ("Rejected", 2, 0, "lost", "red"),
    ]


def test_plan_cap_on_pipelines(owner_api: Api, client: FlaskClient, factory: Factory) -> None:
    _create(owner_api, name="Two")
    _create(owner_api, name="Three")
    details = assert_error(
        owner_api.post("/pipelines", json={"name": "Four"}), 402, "plan_limit_exceeded"
    )
    assert details == {"limit": "pipelines", "used": 3, "max": 3, "plan": "starter"}
    # Deleting one gives it back.
    three = next(p for p in owner_api.get("/pipelines").get_json()["items"] if p["name"] == "Three")
    assert owner_api.delete(f"/pipelines/{three['id']}").status_code == 204
    _create(owner_api, name="Four")
    free = Api(client, factory.tenant("freepipes"))
    assert_error(free.post("/pipelines", json={"name": "Two"}), 402, "plan_limit_exceeded")


def test_bad_pipelines_are_refused(owner_api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": ""}, "name"),
        ({"name": "Sales"}, "name"),  # taken (ignoring case below)
        ({"name": "sALES"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "P", "stages": []}, "stages"),
        ({"name": "P", "stages": [{"name": "A"}, {"name": "L", "kind": "lost"}]}, "stages"),
        (
            {
                "name": "P",
                "stages": [{"name": "W", "kind": "won"}, {"name": "W2", "kind": "won"}],
            },
            "stages",
        ),
        # Malformed nested stages are answered per index by the schema.
        ({"name": "P", "stages": [{"name": "A", "probability": 101}]}, "stages"),
        ({"name": "P", "stages": [{"name": "A", "kind": "maybe"}]}, "stages"),
        (
            {"name": "P", "stages": [*CUSTOM_STAGES[:1], {**CUSTOM_STAGES[1], "probability": 50}]},
            "stages.1.probability",
        ),
        (
            {"name": "P", "stages": [*CUSTOM_STAGES[:2], {**CUSTOM_STAGES[2], "rotting_days": 5}]},
            "stages.2.rotting_days",
        ),
        ({"name": "P", "stages": [*CUSTOM_STAGES, {"name": "applied"}]}, "stages"),
        ({"name": "P", "stages": [{**CUSTOM_STAGES[0], "color": "#ff0000"}]}, "stages"),
        ({"name": "P", "unknown": 1}, "unknown"),
    ]
    for body, field in cases:
        details = assert_error(owner_api.post("/pipelines", json=body), 400, "validation_error")
        assert field in details, (body, details)
    assert len(owner_api.get("/pipelines").get_json()["items"]) == 1


def test_rename_and_default(owner_api: Api) -> None:
    sales = default_pipeline(owner_api)
    other = _create(owner_api)
    response = owner_api.patch(f"/pipelines/{other['id']}", json={"name": "Channel"})
    assert response.status_code == 200 and response.get_json()["name"] == "Channel"
    assert_error(
        owner_api.patch(f"/pipelines/{other['id']}", json={"name": "sales"}),
        400,
        "validation_error",
        "name",
    )
    assert_error(
        owner_api.patch(f"/pipelines/{sales['id']}", json={"is_default": False}),
        400,
        "validation_error",
        "is_default",
    )
    response = owner_api.patch(f"/pipelines/{other['id']}", json={"is_default": True})
    assert response.get_json()["is_default"] is True
    assert owner_api.get(f"/pipelines/{sales['id']}").get_json()["is_default"] is False
    # A deal naming no pipeline now starts in the new default one.
    assert new_deal(owner_api)["pipeline_id"] == other["id"]
    assert_error(
        owner_api.patch(f"/pipelines/{other['id']}", json={"stages": []}),
        400,
        "validation_error",
        "stages",
    )


def test_add_update_stages(owner_api: Api) -> None:
    sales = default_pipeline(owner_api)
    base = f"/pipelines/{sales['id']}/stages"
    response = owner_api.post(base, json={"name": "Demo", "probability": 60, "rotting_days": 14})
    assert response.status_code == 201, response.get_json()
    pipeline = response.get_json()
    assert [s["name"] for s in pipeline["stages"]] == [
        "Lead", "Qualified", "Proposal", "Negotiation", "Demo", "Won", "Lost",
    ]  # fmt: skip
    assert pipeline["version"] == 2
    demo = stage_named(pipeline, "Demo")
    assert (demo["rotting_days"], demo["color"], demo["kind"]) == (14, "blue", "open")
    response = owner_api.post(base, json={"name": "First", "position": 0})
    assert [s["name"] for s in response.get_json()["stages"]][:2] == ["First", "Lead"]
    response = owner_api.patch(
        f"{base}/{demo['id']}", json={"name": "Demo call", "color": "purple", "rotting_days": None}
    )
    assert response.status_code == 200, response.get_json()
    demo = stage_named(response.get_json(), "Demo call")
    assert (demo["color"], demo["rotting_days"], demo["probability"]) == ("purple", None, 60)
    # A second lost stage is fine; a second won one is not added, it is chosen.
    response = owner_api.post(base, json={"name": "No budget", "kind": "lost"})
    assert stage_named(response.get_json(), "No budget")["probability"] == 0
    bad: list[tuple[dict[str, Any], str]] = [
        ({"name": "Won too", "kind": "won"}, "kind"),
        ({"name": "P", "probability": 101}, "probability"),
        ({"name": "P", "probability": -1}, "probability"),
        ({"name": "P", "probability": "50"}, "probability"),
        ({"name": "P", "kind": "lost", "probability": 5}, "probability"),
        ({"name": "P", "rotting_days": 0}, "rotting_days"),
        ({"name": "P", "rotting_days": 366}, "rotting_days"),
        ({"name": "lead"}, "name"),
        ({"name": "P", "position": 99}, "position"),
        ({"name": "P", "kind": "maybe"}, "kind"),
        ({"name": " "}, "name"),
    ]
    for body, field in bad:
        assert_error(owner_api.post(base, json=body), 400, "validation_error", field)
    assert_error(
        owner_api.patch(f"{base}/{demo['id']}", json={"probability": 150}),
        400,
        "validation_error",
        "probability",
    )
    assert len(owner_api.get(f"/pipelines/{sales['id']}").get_json()["stages"]) == 9


def test_choosing_another_won_stage(owner_api: Api, app: Flask, starter: TenantFixture) -> None:
    sales = default_pipeline(owner_api)
    base = f"/pipelines/{sales['id']}/stages"
    negotiation = stage_named(sales, "Negotiation")
    won = stage_named(sales, "Won")
    response = owner_api.patch(f"{base}/{negotiation['id']}", json={"kind": "won"})
    assert response.status_code == 200, response.get_json()
    pipeline = response.get_json()
    assert stage_named(pipeline, "Negotiation")["probability"] == 100
    assert stage_named(pipeline, "Won")["kind"] == "open"
    assert [s["kind"] for s in pipeline["stages"]].count("won") == 1
    # The last won stage can not stop being won; a stage with deals keeps its kind.
    assert_error(
        owner_api.patch(f"{base}/{negotiation['id']}", json={"kind": "open"}),
        400,
        "validation_error",
        "kind",
    )
    new_deal(owner_api, stage_id=won["id"])
    assert_error(
        owner_api.patch(f"{base}/{won['id']}", json={"kind": "lost"}),
        400,
        "validation_error",
        "kind",
    )
    assert_error(
        owner_api.patch(f"{base}/{won['id']}", json={"kind": "won"}),
        400,
        "validation_error",
        "kind",
    )
    assert board_problems(app, starter) == []


def test_stage_of_another_pipeline_is_not_found(owner_api: Api) -> None:
    sales = default_pipeline(owner_api)
    other = _create(owner_api, stages=CUSTOM_STAGES)
    foreign = other["stages"][0]["id"]
    base = f"/pipelines/{sales['id']}/stages/{foreign}"
    assert_error(owner_api.patch(base, json={"name": "X"}), 404, "not_found")
    assert_error(owner_api.delete(base), 404, "not_found")
    assert_error(owner_api.get("/pipelines/999999999"), 404, "not_found")
    # In a reorder or as the target of a move, it is a field error.
    order = [*(s["id"] for s in sales["stages"][:-1]), foreign]
    assert_error(
        owner_api.post(
            f"/pipelines/{sales['id']}/stages/reorder",
            json={"stage_ids": order, "version": sales["version"]},
        ),
        400,
        "validation_error",
        "stage_ids",
    )
    lead = stage_named(sales, "Lead")
    new_deal(owner_api, stage_id=lead["id"])
    assert_error(
        owner_api.delete(
            f"/pipelines/{sales['id']}/stages/{lead['id']}",
            query_string={"move_to_stage_id": foreign},
        ),
        400,
        "validation_error",
        "move_to_stage_id",
    )


def test_reorder_and_stale_versions(owner_api: Api, app: Flask, starter: TenantFixture) -> None:
    sales = default_pipeline(owner_api)
    url = f"/pipelines/{sales['id']}/stages/reorder"
    ids = [s["id"] for s in sales["stages"]]
    wanted = [ids[1], ids[0], *ids[2:]]
    response = owner_api.post(url, json={"stage_ids": wanted, "version": sales["version"]})
    assert response.status_code == 200, response.get_json()
    moved = response.get_json()
    assert [s["id"] for s in moved["stages"]] == wanted
    assert [s["position"] for s in moved["stages"]] == list(range(6))
    assert moved["version"] == sales["version"] + 1
    # A second admin, still on the old version: 409, nothing changes.
    details = assert_error(
        owner_api.post(url, json={"stage_ids": list(reversed(ids)), "version": sales["version"]}),
        409,
        "conflict",
    )
    assert details == {"version": moved["version"]}
    assert [s["id"] for s in owner_api.get(f"/pipelines/{sales['id']}").get_json()["stages"]] == (
        wanted
    )
    current = moved["version"]
    bad: list[dict[str, Any]] = [
        {"stage_ids": wanted[:-1], "version": current},
        {"stage_ids": [*wanted, wanted[0]], "version": current},
        {"stage_ids": [*wanted[:-1], 999999999], "version": current},
        {"stage_ids": wanted},
        {"stage_ids": "1,2", "version": current},
        {"stage_ids": wanted, "version": "1"},
        {"stage_ids": [], "version": current},
    ]
    for body in bad:
        assert_error(owner_api.post(url, json=body), 400, "validation_error")
    # Any stage change makes older versions stale.
    owner_api.patch(f"/pipelines/{sales['id']}/stages/{ids[0]}", json={"color": "red"})
    assert_error(owner_api.post(url, json={"stage_ids": ids, "version": current}), 409, "conflict")
    assert board_problems(app, starter) == []


def test_delete_stage_rules(owner_api: Api) -> None:
    sales = default_pipeline(owner_api)
    base = f"/pipelines/{sales['id']}/stages"
    won, lost = stage_named(sales, "Won"), stage_named(sales, "Lost")
    assert_error(owner_api.delete(f"{base}/{won['id']}"), 400, "validation_error", "stage")
    assert_error(owner_api.delete(f"{base}/{lost['id']}"), 400, "validation_error", "stage")
    opens = [s for s in sales["stages"] if s["kind"] == "open"]
    for stage in opens[:-1]:
        response = owner_api.delete(f"{base}/{stage['id']}")
        assert response.status_code == 200, response.get_json()
    last = response.get_json()
    assert [(s["name"], s["position"]) for s in last["stages"]] == [
        ("Negotiation", 0),
        ("Won", 1),
        ("Lost", 2),
    ]
    assert_error(owner_api.delete(f"{base}/{opens[-1]['id']}"), 400, "validation_error", "stage")
    # Once there is a second lost stage, one of them may go.
    added = owner_api.post(base, json={"name": "Lost to rival", "kind": "lost"}).get_json()
    assert owner_api.delete(f"{base}/{lost['id']}").status_code == 200
    assert [s["name"] for s in owner_api.get(f"/pipelines/{sales['id']}").get_json()["stages"]] == [
        s["name"] for s in added["stages"] if s["id"] != lost["id"]
    ]


def test_delete_stage_moves_its_deals(owner_api: Api, app: Flask, starter: TenantFixture) -> None:
    sales = default_pipeline(owner_api)
    base = f"/pipelines/{sales['id']}/stages"
    lead, proposal = stage_named(sales, "Lead"), stage_named(sales, "Proposal")
    lost, won = stage_named(sales, "Lost"), stage_named(sales, "Won")
    open_deals = [new_deal(owner_api, stage_id=lead["id"], amount="10.00") for _ in range(3)]
    won_deal = new_deal(owner_api, stage_id=won["id"], amount="5.00")
    other = new_deal(owner_api, stage_id=proposal["id"])
    details = assert_error(
        owner_api.delete(f"{base}/{lead['id']}"), 400, "validation_error", "move_to_stage_id"
    )
    assert "3 deals" in details["move_to_stage_id"][0]
    for target in (lead["id"], 999999999):
        assert_error(
            owner_api.delete(f"{base}/{lead['id']}", query_string={"move_to_stage_id": target}),
            400,
            "validation_error",
            "move_to_stage_id",
        )
    # Into a lost stage: the deals are lost, with a reason, and their history says so.
    response = owner_api.delete(
        f"{base}/{lead['id']}", query_string={"move_to_stage_id": lost["id"]}
    )
    assert response.status_code == 200, response.get_json()
    assert "Lead" not in [s["name"] for s in response.get_json()["stages"]]
    for deal in open_deals:
        moved = owner_api.get(f"/deals/{deal['id']}").get_json()
        assert (moved["stage_id"], moved["status"]) == (lost["id"], "lost")
        assert moved["closed_at"] is not None and moved["lost_reason"]
    assert owner_api.get(f"/deals/{other['id']}").get_json()["stage_id"] == proposal["id"]
    # From a lost stage into the won one: won, with the amount as won amount.
    added = owner_api.post(base, json={"name": "Rival", "kind": "lost"}).get_json()
    rival = stage_named(added, "Rival")
    lost_deal = new_deal(owner_api, stage_id=rival["id"], amount="7.50", lost_reason="Price")
    response = owner_api.delete(
        f"{base}/{rival['id']}", query_string={"move_to_stage_id": won["id"]}
    )
    assert response.status_code == 200, response.get_json()
    moved = owner_api.get(f"/deals/{lost_deal['id']}").get_json()
    assert (moved["stage_id"], moved["status"], moved["won_amount"]) == (won["id"], "won", "7.50")
    assert moved["lost_reason"] is None and moved["closed_at"] is not None
    assert owner_api.get(f"/deals/{won_deal['id']}").get_json()["won_amount"] == "5.00"
    with tenant_session(app, starter) as session:
        events = list(
            session.scalars(
                select(TimelineEvent).where(
                    TimelineEvent.deal_id.in_([d["id"] for d in open_deals]),
                    TimelineEvent.kind == "stage_changed",
                )
            )
        )
        assert len(events) == 3
        assert all(
            e.data["from_stage"] == {"id": lead["id"], "name": "Lead"}
            and e.data["to_stage"] == {"id": lost["id"], "name": "Lost"}
            and e.data["from_status"] == "open"
            and e.data["to_status"] == "lost"
            and e.actor_id == starter.owner_id
            for e in events
        )
        audited = session.scalars(
            select(AuditEntry.entity_id).where(
                AuditEntry.entity == "deal", AuditEntry.action == "updated"
            )
        ).all()
        assert sorted(audited) == sorted([*(d["id"] for d in open_deals), lost_deal["id"]])
        deleted = session.scalars(
            select(AuditEntry.changes)
            .where(AuditEntry.entity == "stage", AuditEntry.action == "deleted")
            .order_by(AuditEntry.id)
        ).all()
        assert [c["moved_deals"] for c in deleted] == [[None, 3], [None, 1]]
    assert board_problems(app, starter) == []


def test_delete_pipeline(owner_api: Api, app: Flask, starter: TenantFixture) -> None:
    sales = default_pipeline(owner_api)
    assert_error(owner_api.delete(f"/pipelines/{sales['id']}"), 400, "validation_error")
    other = _create(owner_api, stages=CUSTOM_STAGES)
    deals = [
        new_deal(owner_api, stage_id=stage_named(sales, name)["id"]) for name in ("Lead", "Won")
    ]
    assert_error(
        owner_api.delete(f"/pipelines/{sales['id']}"), 400, "validation_error", "move_to_stage_id"
    )
    assert_error(
        owner_api.delete(
            f"/pipelines/{sales['id']}",
            query_string={"move_to_stage_id": stage_named(sales, "Lost")["id"]},
        ),
        400,
        "validation_error",
        "move_to_stage_id",
    )
    applied = stage_named(other, "Applied")
    response = owner_api.delete(
        f"/pipelines/{sales['id']}", query_string={"move_to_stage_id": applied["id"]}
    )
    assert response.status_code == 204
    assert_error(owner_api.get(f"/pipelines/{sales['id']}"), 404, "not_found")
    remaining = owner_api.get("/pipelines").get_json()["items"]
    assert [(p["id"], p["is_default"]) for p in remaining] == [(other["id"], True)]
    for deal in deals:
        moved = owner_api.get(f"/deals/{deal['id']}").get_json()
        assert (moved["pipeline_id"], moved["stage_id"], moved["status"]) == (
            other["id"],
            applied["id"],
            "open",
        )
        assert moved["closed_at"] is None and moved["won_amount"] is None
    assert board_problems(app, starter) == []
    assert_error(owner_api.delete(f"/pipelines/{other['id']}"), 400, "validation_error")


def test_rights(
    client: FlaskClient, factory: Factory, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    _, _, rep_token = factory.member(starter, role="sales_rep")
    _, _, admin_token = factory.member(starter, role="admin")
    rep = Api(client, starter, token=rep_token)
    admin = Api(client, starter, token=admin_token)
    assert rep.get("/pipelines").status_code == 200
    assert rep.get(f"/pipelines/{sales['id']}").status_code == 200
    stage = sales["stages"][0]["id"]
    attempts = [
        rep.post("/pipelines", json={"name": "Mine"}),
        rep.patch(f"/pipelines/{sales['id']}", json={"name": "Mine"}),
        rep.delete(f"/pipelines/{sales['id']}"),
        rep.post(f"/pipelines/{sales['id']}/stages", json={"name": "Mine"}),
        rep.patch(f"/pipelines/{sales['id']}/stages/{stage}", json={"name": "Mine"}),
        rep.delete(f"/pipelines/{sales['id']}/stages/{stage}"),
        rep.post(
            f"/pipelines/{sales['id']}/stages/reorder",
            json={"stage_ids": [stage], "version": 1},
        ),
    ]
    for response in attempts:
        assert_error(response, 403, "forbidden")
    assert (
        admin.post(f"/pipelines/{sales['id']}/stages", json={"name": "Admin's"}).status_code == 201
    )
    assert_error(rep.get("/pipelines", query_string={"x": "1"}), 400, "validation_error")
