"""Loss reasons: seeded for new workspaces, edited by admins through the API and the
settings page, read by everyone who works deals, refused clearly when wrong."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from app.board.loss_reasons import DEFAULT_LOSS_REASONS
from tests.api.conftest import Api
from tests.conftest import Factory, TenantFixture, login
from tests.web.conftest import Browser, sign_in_as, text_of


def _names(api: Api, **query: str) -> list[str]:
    response = api.get("/loss-reasons", query_string=query)
    assert response.status_code == 200, response.get_json()
    return [r["name"] for r in response.get_json()["items"]]


def test_api_crud_and_refusals(starter: TenantFixture, owner_api: Api) -> None:
    assert _names(owner_api) == list(DEFAULT_LOSS_REASONS)
    created = owner_api.post("/loss-reasons", json={"name": "  Went with in-house  "})
    assert created.status_code == 201
    reason = created.get_json()
    assert reason["name"] == "Went with in-house" and reason["active"] is True
    assert reason["position"] == len(DEFAULT_LOSS_REASONS)
    assert owner_api.get(created.headers["Location"].split("/api/v1")[1]).status_code == 200
    for body, field in (
        ({"name": "NO BUDGET"}, "name"),
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Other", "active": "yes"}, "active"),
        ({"name": "Other", "colour": "red"}, "colour"),
    ):
        response = owner_api.post("/loss-reasons", json=body)
        assert response.status_code == 400, body
        assert field in response.get_json()["error"]["details"], body
    rid = reason["id"]
    moved = owner_api.patch(f"/loss-reasons/{rid}", json={"position": 0, "active": False})
    assert moved.status_code == 200 and moved.get_json()["position"] == 0
    assert _names(owner_api)[0] == "Went with in-house"
    assert "Went with in-house" not in _names(owner_api, active="true")
    bad = owner_api.patch(f"/loss-reasons/{rid}", json={"position": 99, "name": "No budget"})
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["details"]) == {"position", "name"}
    assert owner_api.delete(f"/loss-reasons/{rid}").status_code == 204
    assert owner_api.get(f"/loss-reasons/{rid}").status_code == 404
    assert _names(owner_api) == list(DEFAULT_LOSS_REASONS)
    assert owner_api.get("/loss-reasons/99999999999999999999").status_code == 404


def test_rights(client: FlaskClient, factory: Factory, starter: TenantFixture) -> None:
    _, _, rep_token = factory.member(starter, role="sales_rep")
    rep = Api(client, starter, token=rep_token)
    assert rep.get("/loss-reasons").status_code == 200
    assert rep.post("/loss-reasons", json={"name": "Mine"}).status_code == 403
    first = rep.get("/loss-reasons").get_json()["items"][0]["id"]
    assert rep.patch(f"/loss-reasons/{first}", json={"name": "Mine"}).status_code == 403
    assert rep.delete(f"/loss-reasons/{first}").status_code == 403


def test_settings_page(
    app: Flask, client: FlaskClient, factory: Factory, starter: TenantFixture
) -> None:
    assert login(client, starter).status_code == 302
    owner = Browser(client, starter)
    page = owner.get("/settings/loss-reasons")
    assert page.status_code == 200 and 'value="No budget"' in page.get_data(as_text=True)
    added = owner.submit("/settings/loss-reasons", {"new-name": "Lost interest", "new-active": "y"})
    assert added.status_code == 302
    taken = owner.submit("/settings/loss-reasons", {"new-name": "lost INTEREST", "new-active": "y"})
    assert taken.status_code == 400 and "Another loss reason has this name" in text_of(taken)
    api = Api(client, starter)
    items = api.get("/loss-reasons").get_json()["items"]
    rid = next(r["id"] for r in items if r["name"] == "Lost interest")
    renamed = owner.submit(
        "/settings/loss-reasons",
        {"reason-name": "Lost all interest"},
        action=f"/settings/loss-reasons/{rid}",
    )
    assert renamed.status_code == 302
    reason = api.get(f"/loss-reasons/{rid}").get_json()
    assert reason["name"] == "Lost all interest" and reason["active"] is False
    up = owner.submit(
        "/settings/loss-reasons", {"direction": "up"}, action=f"/settings/loss-reasons/{rid}/move"
    )
    assert up.status_code == 302
    assert api.get(f"/loss-reasons/{rid}").get_json()["position"] == len(items) - 2
    gone = owner.submit("/settings/loss-reasons", {}, action=f"/settings/loss-reasons/{rid}/delete")
    assert gone.status_code == 302 and api.get(f"/loss-reasons/{rid}").status_code == 404
    _, rep_email, _ = factory.member(starter, role="sales_rep")
    rep = sign_in_as(app, starter, rep_email)
    assert rep.get("/settings/loss-reasons").status_code == 403
