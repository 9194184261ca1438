"""Pipeline settings pages: who sees them, every change through plain forms (no
script), refusals on their fields, stale moves, deleting with deals moved."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import Api
from tests.conftest import Factory, TenantFixture, login
from tests.pipelines.conftest import board_problems, default_pipeline, new_deal, stage_named
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text


def _owner(client: FlaskClient, tf: TenantFixture) -> Browser:
    assert login(client, tf).status_code == 302
    return Browser(client, tf)


def _names(api: Api, pipeline_id: int) -> list[str]:
    return [s["name"] for s in api.get(f"/pipelines/{pipeline_id}").get_json()["stages"]]


def test_menu_link_and_rights(
    client: FlaskClient, app: Flask, factory: Factory, starter: TenantFixture, owner_api: Api
) -> None:
    owner = _owner(client, starter)
    assert "/settings/pipelines" in owner.get("/contacts").get_data(as_text=True)
    page = owner.get("/settings/pipelines")
    assert page.status_code == 200 and "Sales" in visible_text(page.get_data(as_text=True))
    _, rep_email, _ = factory.member(starter, role="sales_rep")
    rep = sign_in_as(app, starter, rep_email)
    assert "/settings/pipelines" not in rep.get("/contacts").get_data(as_text=True)
    sales = default_pipeline(owner_api)
    stage = sales["stages"][0]["id"]
    for path in (
        "/settings/pipelines",
        "/settings/pipelines/new",
        f"/settings/pipelines/{sales['id']}",
        f"/settings/pipelines/{sales['id']}/stages/{stage}/delete",
    ):
        assert rep.get(path).status_code == 403, path
    assert owner.get("/settings/pipelines/999999999").status_code == 404


def test_create_rename_and_cap(client: FlaskClient, starter: TenantFixture, owner_api: Api) -> None:
    owner = _owner(client, starter)
    response = owner.submit("/settings/pipelines/new", {"name": "Partners"})
    assert response.status_code == 302, text_of(response)[:2000]
    pipeline_id = int(re.search(r"/settings/pipelines/(\d+)$", response.location).group(1))  # type: ignore[union-attr]
    page = owner.get(f"/settings/pipelines/{pipeline_id}")
    assert "Partners" in visible_text(page.get_data(as_text=True))
    taken = owner.submit(
        f"/settings/pipelines/{pipeline_id}",
        {"name": "Sales"},
        action=f"/settings/pipelines/{pipeline_id}/rename",
    )
    assert taken.status_code == 400 and "Another pipeline has this name" in text_of(taken)
    renamed = owner.submit(
        f"/settings/pipelines/{pipeline_id}",
        {"name": "Channel"},
        action=f"/settings/pipelines/{pipeline_id}/rename",
    )
    assert renamed.status_code == 302
    assert owner_api.get(f"/pipelines/{pipeline_id}").get_json()["name"] == "Channel"
    assert owner.submit("/settings/pipelines/new", {"name": "Third"}).status_code == 302
    capped = owner.submit("/settings/pipelines/new", {"name": "Fourth"})
    assert capped.status_code == 402
    assert "allows 3 pipelines" in visible_text(capped.get_data(as_text=True))


def test_stage_rows_without_script(
    client: FlaskClient, app: Flask, starter: TenantFixture, owner_api: Api
) -> None:
    owner = _owner(client, starter)
    sales = default_pipeline(owner_api)
    url = f"/settings/pipelines/{sales['id']}"
    lead = stage_named(sales, "Lead")
    row = {"stage-name": "Prospect", "stage-kind": "open", "stage-color": "teal"}
    bad = owner.submit(
        url, {**row, "stage-probability": "150"}, action=f"{url}/stages/{lead['id']}"
    )
    assert bad.status_code == 400
    assert f'id="stage-{lead["id"]}-probability-error"' in bad.get_data(as_text=True)
    won_refused = owner.submit(
        url,
        {**row, "stage-kind": "lost", "stage-probability": "20"},
        action=f"{url}/stages/{lead['id']}",
    )
    assert won_refused.status_code == 400 and "probability of 0%" in text_of(won_refused)
    saved = owner.submit(
        url,
        {**row, "stage-probability": "15", "stage-rotting_days": "21"},
        action=f"{url}/stages/{lead['id']}",
    )
    assert saved.status_code == 302, text_of(saved)[:2000]
    prospect = stage_named(owner_api.get(f"/pipelines/{sales['id']}").get_json(), "Prospect")
    assert (prospect["probability"], prospect["color"], prospect["rotting_days"]) == (
        15,
        "teal",
        21,
    )
    added = owner.submit(
        url,
        {"new-name": "Demo", "new-kind": "open", "new-color": "pink"},
        action=f"{url}/stages",
    )
    assert added.status_code == 302
    assert _names(owner_api, sales["id"])[4:] == ["Demo", "Won", "Lost"]
    refused = owner.submit(
        url,
        {"new-name": "Another won", "new-kind": "won", "new-color": "pink"},
        action=f"{url}/stages",
    )
    assert refused.status_code == 400 and "exactly one won stage" in text_of(refused)
    # Move up / down, from the version the page shows.
    version = owner_api.get(f"/pipelines/{sales['id']}").get_json()["version"]
    demo = stage_named(owner_api.get(f"/pipelines/{sales['id']}").get_json(), "Demo")
    moved = owner.submit(
        url, {"direction": "up", "version": str(version)}, action=f"{url}/stages/{demo['id']}/move"
    )
    assert moved.status_code == 302
    assert _names(owner_api, sales["id"])[3:5] == ["Demo", "Negotiation"]
    stale = owner.submit(
        url,
        {"direction": "up", "version": str(version)},
        action=f"{url}/stages/{demo['id']}/move",
        follow_redirects=True,
    )
    assert "Someone else changed these stages" in text_of(stale)
    assert _names(owner_api, sales["id"])[3:5] == ["Demo", "Negotiation"]
    assert board_problems(app, starter) == []


def test_delete_stage_asks_where_deals_go(
    client: FlaskClient, app: Flask, starter: TenantFixture, owner_api: Api
) -> None:
    owner = _owner(client, starter)
    sales = default_pipeline(owner_api)
    url = f"/settings/pipelines/{sales['id']}"
    lead, qualified = stage_named(sales, "Lead"), stage_named(sales, "Qualified")
    deals = [new_deal(owner_api, stage_id=lead["id"]) for _ in range(2)]
    confirm = owner.get(f"{url}/stages/{lead['id']}/delete")
    assert "It holds 2 deals" in visible_text(confirm.get_data(as_text=True))
    done = owner.submit(f"{url}/stages/{lead['id']}/delete", {"move_to": str(qualified["id"])})
    assert done.status_code == 302, text_of(done)[:2000]
    assert "Lead" not in _names(owner_api, sales["id"])
    for deal in deals:
        assert owner_api.get(f"/deals/{deal['id']}").get_json()["stage_id"] == qualified["id"]
    won = stage_named(sales, "Won")
    refused = owner.submit(f"{url}/stages/{won['id']}/delete", {})
    assert refused.status_code == 400 and "keeps its won stage" in text_of(refused)
    assert board_problems(app, starter) == []


def test_delete_pipeline_page(client: FlaskClient, starter: TenantFixture, owner_api: Api) -> None:
    owner = _owner(client, starter)
    sales = default_pipeline(owner_api)
    only = owner.get(f"/settings/pipelines/{sales['id']}/delete")
    assert "keeps at least one pipeline" in visible_text(only.get_data(as_text=True))
    other = owner_api.post("/pipelines", json={"name": "Partners"}).get_json()
    deal = new_deal(owner_api, stage_id=stage_named(sales, "Proposal")["id"])
    path = f"/settings/pipelines/{sales['id']}/delete"
    missing = owner.submit(path, {})
    assert missing.status_code == 400
    target = stage_named(other, "Qualified")["id"]
    done = owner.submit(path, {"move_to": str(target)})
    assert done.status_code == 302
    moved = owner_api.get(f"/deals/{deal['id']}").get_json()
    assert (moved["pipeline_id"], moved["stage_id"]) == (other["id"], target)
    assert owner_api.get(f"/pipelines/{other['id']}").get_json()["is_default"] is True
