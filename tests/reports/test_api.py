"""The reports' numbers over the hand-built workspace of conftest.py, through the API
(the page and the CSV files share the same queries)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import Api, assert_error
from tests.reports.conftest import FEB, World


def _get(api: Api, name: str, **query: Any) -> dict[str, Any]:
    response = api.get(f"/reports/{name}", query_string={**FEB, **query})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    body: dict[str, Any] = response.get_json()
    assert body["report"] == name
    return body


def _money(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"currency": c, "amount": a} for c, a in pairs]


def test_funnel_conversion_and_drop_off(owner_api: Api, world: World) -> None:
    body = _get(owner_api, "funnel")
    assert body["filters"] == {
        "pipeline_id": world.pipeline_id,
        "pipeline_name": body["filters"]["pipeline_name"],
        "from": "2026-02-01",
        "to": "2026-02-28",
        "owner": None,
        "timezone": "UTC",
    }
    assert (body["entered"], body["won"], body["lost"], body["open"]) == (5, 1, 2, 2)
    assert body["conversion"] == 0.2
    rows = [
        (
            s["name"],
            s["reached"],
            s["conversion_to_next"],
            s["drop_off"],
            s["lost_here"],
            s["still_open"],
        )
        for s in body["stages"]
    ]
    assert rows == [
        ("Lead", 5, 0.8, 1, 1, 0),
        ("Qualified", 4, 0.75, 1, 1, 0),
        ("Proposal", 3, 0.6667, 1, 0, 1),
        ("Negotiation", 2, 0.5, 1, 0, 1),
    ]
    assert body["stages"][0]["drop_off_rate"] == 0.2


def test_win_rate_counts_deals_closed_in_the_period(owner_api: Api) -> None:
    body = _get(owner_api, "win-rate")
    assert (body["won"], body["lost"], body["win_rate"]) == (2, 2, 0.5)
    # D1 was won for 1200 (not its 1000 amount), D6 for 700; the other pipeline's D7 not.
    assert body["won_amount"] == _money(("EUR", "1900.00"))
    assert body["lost_amount"] == _money(("EUR", "500.00"), ("USD", "300.00"))
    assert body["average_won_amount"] == _money(("EUR", "950.00"))
    assert body["months"] == [{"month": "2026-02", "won": 2, "lost": 2, "win_rate": 0.5}]


def test_stage_times_and_sales_cycle(owner_api: Api) -> None:
    body = _get(owner_api, "stage-times")
    rows = {s["name"]: (s["moves"], s["average_days"], s["median_days"]) for s in body["stages"]}
    assert rows == {
        "Lead": (5, 7.0, 2.0),  # 2, 2, 2, 1 and D6's 28 days
        "Qualified": (3, 3.7, 4.0),  # 3, 4, 4
        "Proposal": (1, 4.0, 4.0),
        "Negotiation": (0, None, None),
    }
    assert body["sales_cycle"] == {
        "won": {"deals": 2, "average_days": 18.5, "median_days": 18.5},  # 9 and 28 days
        "lost": {"deals": 2, "average_days": 3.5, "median_days": 3.5},  # 6 and 1 days
    }


def test_loss_reasons_and_competitors(owner_api: Api) -> None:
    body = _get(owner_api, "loss-reasons")
    assert body["lost"] == 2
    assert body["reasons"] == [
        {"name": "No budget", "deals": 1, "share": 0.5, "amount": _money(("USD", "300.00"))},
        {"name": "Price too high", "deals": 1, "share": 0.5, "amount": _money(("EUR", "500.00"))},
    ]
    assert body["competitors"] == [
        {"name": "Acme", "deals": 1, "share": 0.5, "amount": _money(("EUR", "500.00"))}
    ]


def test_forecast_by_month_weighted_per_currency(owner_api: Api) -> None:
    body = _get(owner_api, "forecast", to="2026-03-31")
    assert (body["first_month"], body["last_month"]) == ("2026-02", "2026-03")
    buckets = [
        (b["kind"], b["month"], b["deals"], b["amount"], b["weighted_amount"])
        for b in body["buckets"]
    ]
    assert buckets == [
        # D8: 333.33 at 33 % = 109.9989, rounded half up to 110.00.
        ("overdue", None, 1, _money(("EUR", "333.33")), _money(("EUR", "110.00"))),
        # D5: its own 90 %.
        ("month", "2026-02", 1, _money(("EUR", "80.00")), _money(("EUR", "72.00"))),
        # D3: its stage's 50 %; USD kept apart from EUR.
        ("month", "2026-03", 1, _money(("USD", "200.00")), _money(("USD", "100.00"))),
        # D9 has no amount: counted, worth nothing.
        ("undated", None, 1, _money(("EUR", "0.00")), _money(("EUR", "0.00"))),
    ]
    assert body["total_amount"] == _money(("EUR", "413.33"), ("USD", "200.00"))
    assert body["total_weighted_amount"] == _money(("EUR", "182.00"), ("USD", "100.00"))


def test_owners(owner_api: Api, world: World) -> None:
    body = _get(owner_api, "owners")
    rows = [
        (
            r["owner_id"],
            r["created"],
            r["won"],
            r["lost"],
            r["open"],
            r["win_rate"],
            r["conversion"],
            r["won_amount"],
            r["activities"],
        )
        for r in body["owners"]
    ]
    assert rows == [
        (world.tf.owner_id, 2, 2, 1, 2, 0.6667, 0.5, _money(("EUR", "1900.00")), 2),
        (world.rep_id, 3, 0, 1, 2, 0.0, 0.0, [], 1),
    ]
    assert body["owners"][0]["name"] == "Owner"


def test_sources(owner_api: Api) -> None:
    body = _get(owner_api, "sources")
    assert body["sources"] == [
        # D5's "  Referral " is the same source as D3's.
        {
            "source": "Referral",
            "deals": 2,
            "won": 0,
            "lost": 0,
            "conversion": 0.0,
            "won_amount": [],
        },
        {
            "source": "Web",
            "deals": 2,
            "won": 1,
            "lost": 1,
            "conversion": 0.5,
            "won_amount": _money(("EUR", "1200.00")),
        },
        {"source": None, "deals": 1, "won": 0, "lost": 1, "conversion": 0.0, "won_amount": []},
    ]


def test_a_sales_rep_sees_their_own_deals_only(rep_api: Api, world: World) -> None:
    funnel = _get(rep_api, "funnel")
    assert (funnel["entered"], funnel["won"], funnel["lost"], funnel["open"]) == (3, 0, 1, 2)
    assert [s["reached"] for s in funnel["stages"]] == [3, 2, 2, 1]
    assert _get(rep_api, "win-rate")["won_amount"] == []
    owners = _get(rep_api, "owners")["owners"]
    assert [r["owner_id"] for r in owners] == [world.rep_id]
    # Naming someone else narrows nothing open: the scope still applies.
    other = _get(rep_api, "funnel", owner=str(world.tf.owner_id))
    assert other["entered"] == 0
    reasons = _get(rep_api, "loss-reasons")
    assert [r["name"] for r in reasons["reasons"]] == ["No budget"]
    assert reasons["competitors"] == []


def test_owner_and_pipeline_filters(owner_api: Api, world: World) -> None:
    mine = _get(owner_api, "funnel", owner="me")
    assert (mine["entered"], mine["won"], mine["lost"]) == (2, 1, 1)
    assert mine["filters"]["owner"] == "me"
    rep = _get(owner_api, "owners", owner=str(world.rep_id))
    assert [r["owner_id"] for r in rep["owners"]] == [world.rep_id]
    assert rep["filters"]["owner"] == str(world.rep_id)
    other = _get(owner_api, "win-rate", pipeline_id=str(world.other_pipeline_id))
    assert (other["won"], other["won_amount"]) == (1, _money(("EUR", "999.00")))
    funnel = _get(owner_api, "funnel", pipeline_id=str(world.other_pipeline_id))
    assert [(s["name"], s["reached"]) for s in funnel["stages"]] == [("Start", 1)]


def test_period_filter(owner_api: Api) -> None:
    early = _get(owner_api, "funnel", **{"from": "2026-02-01", "to": "2026-02-02"})
    assert early["entered"] == 2  # D1 and D2
    january = _get(owner_api, "win-rate", **{"from": "2026-01-01", "to": "2026-01-31"})
    assert (january["won"], january["lost"]) == (0, 0)
    assert january["win_rate"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "to"),
        ({"from": "1999-12-31"}, "from"),
        ({"from": "2000-01-01", "to": "2100-12-31"}, "from"),
        ({"owner": "someone"}, "owner"),
        ({"owner": "987654321"}, "owner"),
        ({"owner": "99999999999999999999999"}, "owner"),
        ({"pipeline_id": "abc"}, "pipeline_id"),
        ({"pipeline_id": "987654321"}, "pipeline_id"),
        ({"pipeline_id": "0"}, "pipeline_id"),
        ({"format": "xml"}, "format"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_filters_are_field_errors(owner_api: Api, query: dict[str, str], field: str) -> None:
    for name in ("funnel", "forecast"):
        response = owner_api.get(f"/reports/{name}", query_string=query)
        assert_error(response, 400, "validation_error", field)


def test_a_repeated_parameter_is_refused(owner_api: Api) -> None:
    response = owner_api.get("/reports/funnel?from=2026-01-01&from=2026-01-02")
    assert_error(response, 400, "validation_error")


def test_csv_by_parameter_and_by_accept_header(owner_api: Api) -> None:
    response = owner_api.get("/reports/sources", query_string={**FEB, "format": "csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "report-sources-2026-02-01-2026-02-28.csv" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [
        ["source", "deals", "won", "lost", "conversion", "won_amount_EUR"],
        ["Referral", "2", "0", "0", "0.0", ""],
        ["Web", "2", "1", "1", "0.5", "1200.00"],
        ["", "1", "0", "1", "0.0", ""],
    ]
    by_header = owner_api.get(
        "/reports/forecast",
        query_string={**FEB, "to": "2026-03-31"},
        headers={"Accept": "text/csv"},
    )
    assert by_header.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(by_header.get_data().decode("utf-8").lstrip("\ufeff"))))
    assert rows[0] == ["month", "deals", "amount_EUR", "amount_USD", "weighted_EUR", "weighted_USD"]
    assert rows[1] == ["(overdue)", "1", "333.33", "", "110.00", ""]
    assert rows[3] == ["2026-03", "1", "", "200.00", "", "100.00"]


@pytest.mark.parametrize(
    "name", ["funnel", "win-rate", "stage-times", "loss-reasons", "forecast", "owners", "sources"]
)
def test_every_report_has_a_csv_file(owner_api: Api, name: str) -> None:
    response = owner_api.get(f"/reports/{name}", query_string={**FEB, "format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8").lstrip("\ufeff"))))
    assert len(rows) >= 2 and all(len(row) == len(rows[0]) for row in rows)


def test_csv_cells_can_not_become_formulas(client: FlaskClient, world: World) -> None:
    from sqlalchemy import update

    from app.deals.models import Deal
    from tests.api.conftest import tenant_session

    api = Api(client, world.tf)
    with tenant_session(client.application, world.tf) as session:
        session.execute(update(Deal).where(Deal.id == world.deals["D4"]).values(lost_reason="=1+1"))
        session.commit()
    try:
        text = api.get("/reports/loss-reasons", query_string={**FEB, "format": "csv"}).get_data()
        assert b"'=1+1" in text
    finally:
        with tenant_session(client.application, world.tf) as session:
            session.execute(
                update(Deal).where(Deal.id == world.deals["D4"]).values(lost_reason="No budget")
            )
            session.commit()


def test_rights(client: FlaskClient, world: World) -> None:
    rep = Api(client, world.tf, token=world.rep_token)
    # A sales rep reads reports but may not export them.
    assert rep.get("/reports/funnel").status_code == 200
    assert_error(rep.get("/reports/funnel", query_string={"format": "csv"}), 403, "forbidden")
    viewer = Api(client, world.tf, token=world.viewer_token)
    assert viewer.get("/reports/owners", query_string=FEB).status_code == 200
    assert_error(viewer.get("/reports/owners", query_string={"format": "csv"}), 403, "forbidden")
    manager = Api(client, world.tf, token=world.manager_token)
    assert manager.get("/reports/owners", query_string={"format": "csv"}).status_code == 200
    anonymous = client.get("/api/v1/reports/funnel", base_url=world.tf.base_url)
    assert_error(anonymous, 401, "unauthorized")


def test_default_period_is_the_last_90_days(owner_api: Api) -> None:
    import datetime as dt

    body = owner_api.get("/reports/funnel").get_json()
    start = dt.date.fromisoformat(body["filters"]["from"])
    end = dt.date.fromisoformat(body["filters"]["to"])
    assert (end - start).days == 89
    assert abs((end - dt.datetime.now(dt.UTC).date()).days) <= 1


def test_answers_match_the_openapi_document(owner_api: Api, rep_api: Api) -> None:
    from app.api.openapi import build_spec
    from tests.api.test_openapi import check_response

    spec = build_spec()
    for name in (
        "funnel",
        "win-rate",
        "stage-times",
        "loss-reasons",
        "forecast",
        "owners",
        "sources",
    ):
        path = f"/api/v1/reports/{name}"
        check_response(spec, path, "get", owner_api.get(f"/reports/{name}", query_string=FEB))
        check_response(spec, path, "get", rep_api.get(f"/reports/{name}"))
        check_response(
            spec, path, "get", owner_api.get(f"/reports/{name}", query_string={"to": "x"})
        )


def test_days_are_counted_in_the_members_time_zone(client: FlaskClient, world: World) -> None:
    from app.database import db
    from app.identity.models import User

    api = Api(client, world.tf)
    one_day = {"from": "2026-02-02", "to": "2026-02-02"}
    # In UTC, Feb 2 holds D2 (created 10:00).
    assert _get(api, "funnel", **one_day)["entered"] == 1

    def set_zone(zone: str | None) -> None:
        with client.application.app_context():
            user = db.session.get(User, world.tf.owner_id)
            assert user is not None
            user.timezone = zone
            db.session.commit()
            db.session.remove()

    set_zone("Pacific/Kiritimati")  # UTC+14: D1 (Feb 1, 10:00 UTC) is Feb 2, midnight
    try:
        body = _get(api, "funnel", **one_day)
        assert body["filters"]["timezone"] == "Pacific/Kiritimati"
        assert body["entered"] == 1
        deals = _get(api, "sources", **one_day)["sources"]
        assert [(s["source"], s["won"]) for s in deals] == [("Web", 1)]  # D1, won
    finally:
        set_zone(None)


def test_the_median_of_a_histogram() -> None:
    from app.reports.queries import _histogram_median

    assert _histogram_median([(2, 1)]) == 2
    assert _histogram_median([(1, 1), (2, 3), (28, 1)]) == 2
    assert _histogram_median([(9, 1), (28, 1)]) == 18.5  # even: the mean of the middle two
    assert _histogram_median([(1, 2), (5, 2)]) == 3
    assert _histogram_median([(1, 1), (5, 3)]) == 5


def test_a_deal_moved_back_still_reached_its_furthest_stage(
    client: FlaskClient, factory: Any
) -> None:
    from sqlalchemy import insert, select

    from app.board.models import DealStageHistory
    from app.deals.models import Deal
    from app.pipelines.models import Stage
    from tests.api.conftest import tenant_session
    from tests.reports.conftest import at

    tf = factory.tenant("back")
    with tenant_session(client.application, tf) as session:
        stages = {s.name: s.id for s in session.scalars(select(Stage))}
        pipeline_id = session.scalar(select(Stage.pipeline_id).limit(1))
        deal_id = session.execute(
            insert(Deal)
            .values(
                title="Back",
                pipeline_id=pipeline_id,
                stage_id=stages["Qualified"],
                owner_id=tf.owner_id,
                created_at=at(2, 1),
                stage_entered_at=at(2, 5),
            )
            .returning(Deal.id)
        ).scalar_one()
        session.execute(
            insert(DealStageHistory),
            [
                {
                    "deal_id": deal_id,
                    "pipeline_id": pipeline_id,
                    "to_stage_id": stages[name],
                    "moved_at": at(2, day),
                }
                for name, day in (("Lead", 1), ("Proposal", 3), ("Qualified", 5))
            ],
        )
        session.commit()
    body = _get(Api(client, tf), "funnel")
    assert [(s["name"], s["reached"], s["still_open"]) for s in body["stages"]] == [
        ("Lead", 1, 0),
        ("Qualified", 1, 0),
        ("Proposal", 1, 1),
        ("Negotiation", 0, 0),
    ]
