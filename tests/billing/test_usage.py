"""``GET /api/v1/usage`` and the pages' answer at a plan's cap."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.api.conftest import APEX_URL, Api, assert_error
from tests.api.test_openapi import check_response
from tests.billing.conftest import set_plan
from tests.conftest import Factory, csrf_token_from, login


def test_usage_shape_and_numbers(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("usage")
    factory.member(tf, role="viewer")
    api = Api(app.test_client(), tf)
    for n in range(3):
        api.create(first_name=f"C{n}")
    response = api.get("/usage")
    assert response.status_code == 200
    assert response.get_json() == {
        "plan": "free",
        "plan_version": 1,
        "status": "active",
        "limits": {
            "contacts": {"used": 3, "max": 500},
            "seats": {"used": 2, "max": 2},
            "pipelines": {"used": 1, "max": 1},
            "custom_fields": {"used": 0, "max": 5},
            "api_requests_per_minute": {"used": None, "max": 60},
            "storage_mb": {"used": None, "max": 1024},
        },
    }
    spec = api.get("/openapi.json").get_json()
    check_response(spec, "/api/v1/usage", "get", response)


def test_usage_shows_overrides_and_unlimited_caps(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("usage-ent", plan="enterprise")
    set_plan(app, tf, limit_overrides={"seats": 300})
    # On the apex host, with the token.
    body = Api(app.test_client(), tf, base_url=APEX_URL).get("/usage").get_json()
    assert body["plan"] == "enterprise"
    assert body["limits"]["seats"] == {"used": 1, "max": 300}
    assert body["limits"]["contacts"] == {"used": 0, "max": None}


def test_usage_needs_the_billing_right(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("usage-rep")
    _, _, token = factory.member(tf, role="sales_rep")
    assert_error(Api(app.test_client(), tf, token=token).get("/usage"), 403, "forbidden")


def test_the_402_answer_matches_the_document(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("doc402")
    set_plan(app, tf, limit_overrides={"contacts": 0})
    api = Api(app.test_client(), tf)
    response = api.post("/contacts", json={"first_name": "X"})
    details = assert_error(response, 402, "plan_limit_exceeded")
    assert details == {"limit": "contacts", "used": 0, "max": 0, "plan": "free"}
    assert "upgrade" in response.get_json()["error"]["message"]
    spec = api.get("/openapi.json").get_json()
    check_response(spec, "/api/v1/contacts", "post", response)


def test_the_new_contact_page_shows_the_cap_and_the_way_up(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("webcap")
    set_plan(app, tf, limit_overrides={"contacts": 1})
    client = app.test_client()
    assert login(client, tf).status_code == 302

    def submit(name: str) -> Any:
        page = client.get("/contacts/new", base_url=tf.base_url)
        token = csrf_token_from(page.get_data(as_text=True))
        return client.post(
            "/contacts/new",
            base_url=tf.base_url,
            data={"first_name": name, "csrf_token": token},
        )

    assert submit("First").status_code == 302
    refused = submit("Second")
    assert refused.status_code == 200
    html = refused.get_data(as_text=True)
    assert "Your Free plan allows 1 contacts and this workspace has 1." in html
    assert "A workspace admin can upgrade the plan" in html
    assert "Please correct the marked fields." not in html
