"""The deals API end to end: create with defaults, money per currency, stages and
pipelines, closing and reopening, the timeline, scopes, other workspaces' ids, lists."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEntry
from tests.api.conftest import Api, assert_error, tenant_session
from tests.conftest import Factory, TenantFixture
from tests.deals.conftest import add_pipeline, backdate_stage_entry, events, new_deal, stages

# --------------------------------------------------------------------------- create


def test_create_with_defaults(deal_api: Api, app: Flask) -> None:
    response = deal_api.post("/deals", json={"title": "  Big one ", "amount": "1234.50"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    lead = stages(app, deal_api.tf)["Lead"]
    assert response.headers["Location"].endswith(f"/api/v1/deals/{body['id']}")
    assert body["title"] == "Big one"
    assert body["amount"] == "1234.50"
    assert body["currency"] == "EUR"
    assert body["stage"] == {"id": lead["id"], "name": "Lead", "kind": "open", "probability": 10}
    assert body["pipeline"]["id"] == lead["pipeline_id"]
    assert body["status"] == "open"
    assert body["weighted_amount"] == "123.45"
    assert body["owner_id"] == deal_api.tf.owner_id
    assert body["closed_at"] is None and body["won_amount"] is None
    assert body["stage_entered_at"] and body["created_at"]
    assert deal_api.get(f"/deals/{body['id']}").get_json() == body


def test_weighted_amount_uses_the_deal_probability_and_rounds_half_up(deal_api: Api) -> None:
    body = new_deal(deal_api, amount="0.05", probability=50)
    assert body["weighted_amount"] == "0.03"  # 2.5 cents, half up
    assert body["effective_probability"] == 50
    assert new_deal(deal_api)["weighted_amount"] is None  # no amount, no forecast


@pytest.mark.parametrize(
    ("amount", "currency", "stored"),
    [
        ("10.05", "EUR", "10.05"),
        ("10", "EUR", "10.00"),
        (10, "EUR", "10.00"),
        (10.25, "EUR", "10.25"),
        ("1500", "JPY", "1500"),
        ("10.0", "JPY", "10"),
        ("1500", "krw", "1500"),
        ("1.234", "KWD", "1.234"),
        # CLDR (Babel's data) gives IQD no decimals in practice, unlike ISO 4217's 3.
        ("1234", "IQD", "1234"),
        ("1000000000000000", "EUR", "1000000000000000.00"),
        ("0", "USD", "0.00"),
    ],
)
def test_amounts_are_exact_in_the_currency(
    deal_api: Api, amount: Any, currency: str, stored: str
) -> None:
    body = new_deal(deal_api, amount=amount, currency=currency)
    assert body["amount"] == stored
    assert body["currency"] == currency.upper()


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        ("10.005", "EUR", "amount"),
        (10.005, "EUR", "amount"),
        ("10.5", "JPY", "amount"),
        ("10.5", "KRW", "amount"),
        ("1.2345", "KWD", "amount"),
        ("1.5", "IQD", "amount"),
        ("1e3", "EUR", "amount"),
        (1e20, "EUR", "amount"),
        ("-5", "EUR", "amount"),
        (-5, "EUR", "amount"),
        ("1000000000000000.01", "EUR", "amount"),
        ("99999999999999999999999999", "EUR", "amount"),
        ("1,000", "EUR", "amount"),
        ("NaN", "EUR", "amount"),
        ("Infinity", "EUR", "amount"),
        ("١٢", "EUR", "amount"),  # Arabic-Indic digits
        (".5", "EUR", "amount"),
        (True, "EUR", "amount"),
        ([1], "EUR", "amount"),
        ("10", "XXZ", "currency"),
        ("10", "EURO", "currency"),
        ("10", "XXX", "currency"),
        ("10", 978, "currency"),
    ],
)
def test_bad_amounts_and_currencies_are_400_on_the_field(
    deal_api: Api, amount: Any, currency: Any, field: str
) -> None:
    response = deal_api.post("/deals", json={"title": "X", "amount": amount, "currency": currency})
    assert_error(response, 400, "validation_error", field)


def test_title_is_required_and_bounded(deal_api: Api) -> None:
    assert_error(deal_api.post("/deals", json={}), 400, "validation_error", "title")
    assert_error(deal_api.post("/deals", json={"title": "  "}), 400, "validation_error", "title")
    response = deal_api.post("/deals", json={"title": "x" * 201})
    assert_error(response, 400, "validation_error", "title")
    response = deal_api.post("/deals", json={"title": "a\x00b"})
    assert_error(response, 400, "validation_error", "title")


@pytest.mark.parametrize(
    "body",
    [
        {"probability": 101},
        {"probability": "50"},
        {"expected_close_date": "2025-13-01"},
        {"custom_fields": [1]},
        {"tags": [1]},
        {"tags": ["x" * 51]},
        {"status": "won"},
        {"id": 5},
        {"weighted_amount": "1"},
        {"owner_id": 0},
        {"stage_id": "1"},
    ],
)
def test_malformed_fields_are_400(deal_api: Api, body: dict[str, Any]) -> None:
    response = deal_api.post("/deals", json={"title": "X", **body})
    assert_error(response, 400, "validation_error", next(iter(body)))


def test_tags_and_optional_fields_are_stored(deal_api: Api) -> None:
    body = new_deal(
        deal_api,
        tags=["VIP", " vip ", "renewal"],
        source="Web",
        notes="a\nb",
        expected_close_date="2030-01-31",
        custom_fields={},
    )
    assert body["tags"] == ["VIP", "renewal"]
    assert body["expected_close_date"] == "2030-01-31"
    assert body["notes"] == "a\nb"


# ------------------------------------------------------------------- pipelines, stages


def test_only_a_pipeline_starts_at_its_first_stage(deal_api: Api, app: Flask) -> None:
    other = add_pipeline(app, deal_api.tf)
    body = new_deal(deal_api, pipeline_id=other["pipeline"])
    assert body["stage_id"] == other["first"]
    assert body["pipeline"] == {"id": other["pipeline"], "name": "Partners"}


def test_a_stage_of_another_pipeline_is_refused(deal_api: Api, app: Flask) -> None:
    other = add_pipeline(app, deal_api.tf)
    lead = stages(app, deal_api.tf)["Lead"]
    response = deal_api.post(
        "/deals", json={"title": "X", "pipeline_id": other["pipeline"], "stage_id": lead["id"]}
    )
    assert_error(response, 400, "validation_error", "stage_id")
    deal = new_deal(deal_api)
    response = deal_api.patch(
        f"/deals/{deal['id']}",
        json={"pipeline_id": lead["pipeline_id"], "stage_id": other["first"]},
    )
    assert_error(response, 400, "validation_error", "stage_id")
    # Only a stage: the deal follows it into its pipeline.
    moved = deal_api.patch(f"/deals/{deal['id']}", json={"stage_id": other["first"]})
    assert moved.status_code == 200
    assert moved.get_json()["pipeline_id"] == other["pipeline"]


def test_unknown_stage_and_pipeline_ids_are_400(deal_api: Api) -> None:
    for body in ({"stage_id": 999999}, {"pipeline_id": 999999}):
        assert_error(
            deal_api.post("/deals", json={"title": "X", **body}),
            400,
            "validation_error",
            next(iter(body)),
        )
    deal = new_deal(deal_api)
    for body in ({"stage_id": None}, {"pipeline_id": None}):
        response = deal_api.patch(f"/deals/{deal['id']}", json=body)
        assert_error(response, 400, "validation_error", next(iter(body)))


# ------------------------------------------------------------------ closing, reopening


def test_lost_needs_a_reason(deal_api: Api, app: Flask) -> None:
    lost = stages(app, deal_api.tf)["Lost"]["id"]
    deal = new_deal(deal_api, amount="100")
    response = deal_api.patch(f"/deals/{deal['id']}", json={"stage_id": lost})
    assert_error(response, 400, "validation_error", "lost_reason")
    response = deal_api.patch(f"/deals/{deal['id']}", json={"stage_id": lost, "lost_reason": " "})
    assert_error(response, 400, "validation_error", "lost_reason")
    assert deal_api.get(f"/deals/{deal['id']}").get_json()["status"] == "open"
    response = deal_api.patch(
        f"/deals/{deal['id']}",
        json={"stage_id": lost, "lost_reason": "Too expensive", "lost_to_competitor": "Rival"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "lost"
    assert body["lost_reason"] == "Too expensive"
    assert body["lost_to_competitor"] == "Rival"
    assert body["closed_at"] is not None
    assert body["weighted_amount"] == "0.00"
    # A lost deal keeps needing its reason.
    response = deal_api.patch(f"/deals/{deal['id']}", json={"lost_reason": None})
    assert_error(response, 400, "validation_error", "lost_reason")
    # Creating straight into a lost stage follows the same rule.
    response = deal_api.post("/deals", json={"title": "X", "stage_id": lost})
    assert_error(response, 400, "validation_error", "lost_reason")


def test_won_sets_closed_at_and_won_amount(deal_api: Api, app: Flask) -> None:
    won = stages(app, deal_api.tf)["Won"]["id"]
    deal = new_deal(deal_api, amount="500.00")
    body = deal_api.patch(f"/deals/{deal['id']}", json={"stage_id": won}).get_json()
    assert body["status"] == "won"
    assert body["closed_at"] is not None
    assert body["won_amount"] == "500.00"
    assert body["weighted_amount"] == "500.00"
    other = new_deal(deal_api, amount="500.00")
    body = deal_api.patch(
        f"/deals/{other['id']}", json={"stage_id": won, "won_amount": "450.5"}
    ).get_json()
    assert body["won_amount"] == "450.50"
    response = deal_api.patch(f"/deals/{other['id']}", json={"lost_reason": "x"})
    assert_error(response, 400, "validation_error", "lost_reason")
    response = deal_api.patch(f"/deals/{deal['id']}", json={"won_amount": "1.001"})
    assert_error(response, 400, "validation_error", "won_amount")


def test_won_amount_only_on_won_deals(deal_api: Api) -> None:
    deal = new_deal(deal_api, amount="5")
    response = deal_api.patch(f"/deals/{deal['id']}", json={"won_amount": "5"})
    assert_error(response, 400, "validation_error", "won_amount")


def test_reopen_clears_the_closing_fields_and_is_recorded(deal_api: Api, app: Flask) -> None:
    named = stages(app, deal_api.tf)
    deal = new_deal(deal_api, amount="100")
    deal_api.patch(f"/deals/{deal['id']}", json={"stage_id": named["Won"]["id"]})
    body = deal_api.patch(
        f"/deals/{deal['id']}", json={"stage_id": named["Proposal"]["id"]}
    ).get_json()
    assert body["status"] == "open"
    assert body["closed_at"] is None and body["won_amount"] is None
    assert body["weighted_amount"] == "50.00"
    reopened = [e for e in events(app, deal_api.tf, deal["id"]) if e.kind == "stage_changed"][-1]
    assert reopened.data["reopened"] is True
    assert reopened.data["from_stage"]["name"] == "Won"
    assert reopened.data["to_stage"]["name"] == "Proposal"
    lost = deal_api.patch(
        f"/deals/{deal['id']}", json={"stage_id": named["Lost"]["id"], "lost_reason": "No budget"}
    ).get_json()
    assert lost["lost_reason"] == "No budget"
    body = deal_api.patch(f"/deals/{deal['id']}", json={"stage_id": named["Lead"]["id"]}).get_json()
    assert body["lost_reason"] is None and body["lost_to_competitor"] is None
    assert body["closed_at"] is None


def test_currency_change_keeps_the_number_or_asks_again(deal_api: Api) -> None:
    deal = new_deal(deal_api, amount="10.00")
    body = deal_api.patch(f"/deals/{deal['id']}", json={"currency": "JPY"}).get_json()
    assert (body["amount"], body["currency"]) == ("10", "JPY")
    other = new_deal(deal_api, amount="10.50")
    response = deal_api.patch(f"/deals/{other['id']}", json={"currency": "JPY"})
    assert_error(response, 400, "validation_error", "amount")
    body = deal_api.patch(
        f"/deals/{other['id']}", json={"currency": "JPY", "amount": "11"}
    ).get_json()
    assert (body["amount"], body["currency"]) == ("11", "JPY")


# --------------------------------------------------------------------------- timeline


def test_every_write_lands_on_the_timeline(deal_api: Api, app: Flask, client: Any) -> None:
    contact = Api(client, deal_api.tf).create(first_name="Tim")
    named = stages(app, deal_api.tf)
    deal = new_deal(deal_api, title="Timeline", amount="10", contact_id=contact["id"])
    created = events(app, deal_api.tf, deal["id"])
    assert [e.kind for e in created] == ["created"]
    assert created[0].contact_id == contact["id"]
    assert created[0].data["title"] == "Timeline"

    deal_api.patch(f"/deals/{deal['id']}", json={"amount": "12.5", "title": "Renamed"})
    updated = events(app, deal_api.tf, deal["id"])[-1]
    assert updated.kind == "updated"
    assert updated.data["changes"]["amount"] == ["10.00", "12.50"]
    assert updated.data["changes"]["title"] == ["Timeline", "Renamed"]
    assert updated.contact_id == contact["id"]

    backdate_stage_entry(app, deal_api.tf, deal["id"], 3 * 86400)
    deal_api.patch(f"/deals/{deal['id']}", json={"stage_id": named["Qualified"]["id"]})
    moved = events(app, deal_api.tf, deal["id"])[-1]
    assert moved.kind == "stage_changed"
    assert moved.data["from_stage"] == {"id": named["Lead"]["id"], "name": "Lead"}
    assert moved.data["to_stage"] == {"id": named["Qualified"]["id"], "name": "Qualified"}
    assert 3 * 86400 <= moved.data["seconds_in_stage"] < 3 * 86400 + 120
    assert moved.contact_id == contact["id"]
    after = deal_api.get(f"/deals/{deal['id']}").get_json()
    assert after["stage_entered_at"] > deal["stage_entered_at"]

    count = len(events(app, deal_api.tf, deal["id"]))
    deal_api.patch(f"/deals/{deal['id']}", json={"title": "Renamed", "amount": "12.50"})
    assert len(events(app, deal_api.tf, deal["id"])) == count  # nothing changed

    with tenant_session(app, deal_api.tf) as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity == "deal", AuditEntry.entity_id == deal["id"])
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["created", "updated", "updated"]


def test_delete_is_204_then_404_and_audited(deal_api: Api, app: Flask) -> None:
    deal = new_deal(deal_api)
    assert deal_api.delete(f"/deals/{deal['id']}").status_code == 204
    assert_error(deal_api.get(f"/deals/{deal['id']}"), 404, "not_found")
    with tenant_session(app, deal_api.tf) as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "deal",
                AuditEntry.entity_id == deal["id"],
                AuditEntry.action == "deleted",
            )
        ).one()
        assert entry.changes == {"title": ["Deal", None]}


# ------------------------------------------------------------------------ links, scope


def test_other_tenants_ids_are_refused(
    deal_api: Api, client: Any, app: Flask, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    b = Api(client, two_tenants[1])
    b_contact = b.create(first_name="Bee")
    b_stage = stages(app, two_tenants[1])["Lead"]["id"]
    b_deal = new_deal(b)
    for body, field in (
        ({"contact_id": b_contact["id"]}, "contact_id"),
        ({"company_id": 987654}, "company_id"),
        ({"stage_id": b_stage + 100000}, "stage_id"),
    ):
        response = deal_api.post("/deals", json={"title": "X", **body})
        details = assert_error(response, 400, "validation_error", field)
        assert details[field] != ["Bee"]
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"title": "hacked"}} if method == "patch" else {}
        assert_error(
            getattr(deal_api, method)(f"/deals/{b_deal['id']}", **kwargs), 404, "not_found"
        )
    assert b.get(f"/deals/{b_deal['id']}").get_json()["title"] == "Deal"


@pytest.fixture
def rep(client: Any, factory: Factory, two_tenants: Any) -> tuple[int, Api]:
    user_id, _, token = factory.member(two_tenants[0], role="sales_rep")
    return user_id, Api(client, two_tenants[0], token=token)


def test_sales_rep_sees_and_changes_only_their_own(
    deal_api: Api, rep: tuple[int, Api], client: Any
) -> None:
    rep_id, rep_api = rep
    owners = new_deal(deal_api, title="Owner's")
    mine = new_deal(rep_api, title="Rep's")
    assert mine["owner_id"] == rep_id
    listed = [d["id"] for d in rep_api.get("/deals").get_json()["items"]]
    assert listed == [mine["id"]]
    assert_error(rep_api.get(f"/deals/{owners['id']}"), 404, "not_found")
    assert_error(rep_api.patch(f"/deals/{owners['id']}", json={"title": "x"}), 404, "not_found")
    response = rep_api.post("/deals", json={"title": "X", "owner_id": deal_api.tf.owner_id})
    assert_error(response, 400, "validation_error", "owner_id")
    # The owner's contact is out of the rep's scope: same answer as a missing one.
    contact = Api(client, deal_api.tf).create(first_name="Owned")
    hidden = rep_api.post("/deals", json={"title": "X", "contact_id": contact["id"]})
    missing = rep_api.post("/deals", json={"title": "X", "contact_id": 999999999})
    assert hidden.get_json()["error"]["details"] == missing.get_json()["error"]["details"]
    # Owners may assign deals to active members.
    assigned = new_deal(deal_api, owner_id=rep_id)
    assert assigned["owner_id"] == rep_id
    response = deal_api.post("/deals", json={"title": "X", "owner_id": 987654321})
    assert_error(response, 400, "validation_error", "owner_id")


def test_viewer_reads_but_never_writes(
    deal_api: Api, client: Any, factory: Factory, two_tenants: Any
) -> None:
    _, _, token = factory.member(two_tenants[0], role="viewer")
    viewer = Api(client, two_tenants[0], token=token)
    deal = new_deal(deal_api)
    assert viewer.get(f"/deals/{deal['id']}").status_code == 200
    assert_error(viewer.post("/deals", json={"title": "X"}), 403, "forbidden")
    assert_error(viewer.patch(f"/deals/{deal['id']}", json={"title": "X"}), 403, "forbidden")
    assert_error(viewer.delete(f"/deals/{deal['id']}"), 403, "forbidden")


# ------------------------------------------------------------------------------ lists


def test_filters_search_and_sorting(deal_api: Api, app: Flask, client: Any) -> None:
    named = stages(app, deal_api.tf)
    contact = Api(client, deal_api.tf).create(first_name="Filter")
    a = new_deal(deal_api, title="Alpha 100%", amount="30", tags=["VIP"], contact_id=contact["id"])
    b = new_deal(deal_api, title="Beta", amount="10", expected_close_date="2030-01-01")
    c = new_deal(
        deal_api,
        title="Gamma",
        amount="20",
        expected_close_date="2029-06-01",
        stage_id=named["Won"]["id"],
    )

    def listed(**query: Any) -> list[int]:
        response = deal_api.get("/deals", query_string=query)
        assert response.status_code == 200, response.get_json()
        return [d["id"] for d in response.get_json()["items"]]

    assert listed() == [c["id"], b["id"], a["id"]]
    assert listed(q="alpha") == [a["id"]]
    assert listed(q="100%") == [a["id"]]
    assert listed(q="%") == [a["id"]]  # matched literally
    assert listed(q="_") == []
    assert listed(status="won") == [c["id"]]
    assert listed(stage_id=named["Lead"]["id"]) == [b["id"], a["id"]]
    assert listed(pipeline_id=named["Lead"]["pipeline_id"], limit=1) == [c["id"]]
    assert listed(tag="vip") == [a["id"]]
    assert listed(contact_id=contact["id"]) == [a["id"]]
    assert listed(owner_id=deal_api.tf.owner_id, sort="title") == [a["id"], b["id"], c["id"]]
    assert listed(sort="-amount") == [a["id"], c["id"], b["id"]]
    assert listed(sort="expected_close_date") == [c["id"], b["id"], a["id"]]
    assert listed(sort="-expected_close_date") == [b["id"], c["id"], a["id"]]


@pytest.mark.parametrize(
    "sort", ["created_at", "-updated_at", "title", "-title", "amount", "expected_close_date"]
)
def test_cursor_pagination_visits_every_deal_once(deal_api: Api, sort: str) -> None:
    made = {
        new_deal(
            deal_api,
            title=f"D{n % 3}",
            amount=str(n % 4) if n % 5 else None,
            expected_close_date=f"2030-0{1 + n % 3}-01" if n % 2 else None,
        )["id"]
        for n in range(9)
    }
    seen: list[int] = []
    cursor = None
    for _ in range(20):
        query: dict[str, Any] = {"sort": sort, "limit": 2}
        if cursor:
            query["cursor"] = cursor
        body = deal_api.get("/deals", query_string=query).get_json()
        seen += [d["id"] for d in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(made)


@pytest.mark.parametrize(
    "query",
    [
        {"status": "closed"},
        {"sort": "owner"},
        {"sort": "-probability"},
        {"limit": "0"},
        {"limit": "abc"},
        {"cursor": "nope"},
        {"cursor": "W10"},
        {"pipeline_id": "x"},
        {"stage_id": "99999999999999999999"},
        {"colour": "red"},
        {"q": "a\x00"},
    ],
)
def test_bad_list_parameters_are_400(deal_api: Api, query: dict[str, str]) -> None:
    assert_error(deal_api.get("/deals", query_string=query), 400, "validation_error")


def test_a_cursor_from_another_sort_is_400(deal_api: Api) -> None:
    for _ in range(3):
        new_deal(deal_api)
    cursor = deal_api.get("/deals", query_string={"limit": 1}).get_json()["next_cursor"]
    assert cursor
    response = deal_api.get("/deals", query_string={"limit": 1, "cursor": cursor, "sort": "title"})
    assert_error(response, 400, "validation_error", "cursor")
    response = deal_api.get("/deals", query_string=[("limit", "1"), ("limit", "2")])
    assert_error(response, 400, "validation_error", "limit")


@pytest.mark.parametrize("deal_id", ["0", "99999999999999999999"])
def test_ids_that_can_not_exist_are_404(deal_api: Api, deal_id: str) -> None:
    assert_error(deal_api.get(f"/deals/{deal_id}"), 404, "not_found")
