"""REST API: /api/v1/{contacts,companies}/duplicates and .../<id>/merge."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import Api, assert_error
from tests.api.test_openapi import check_response
from tests.conftest import Factory, TenantFixture
from tests.duplicates.conftest import offset_ids, seed_companies, seed_contacts

CONTACT_LIST = "/api/v1/contacts/duplicates"
CONTACT_MERGE = "/api/v1/contacts/{contact_id}/merge"
COMPANY_LIST = "/api/v1/companies/duplicates"
COMPANY_MERGE = "/api/v1/companies/{company_id}/merge"


@pytest.fixture
def spec(client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture]) -> Any:
    return client.get("/api/v1/openapi.json", base_url=two_tenants[0].base_url).get_json()


@pytest.fixture
def team(factory: Factory) -> TenantFixture:
    """A workspace with room for more members."""
    return factory.tenant("dupapi", plan="enterprise")


def _ann_twice(api: Api) -> tuple[int, int]:
    keep = api.create(first_name="Ann", last_name="Lee", email="ann@example.com")["id"]
    other = api.create(first_name="Anne", email="ANN@example.com", phone="+1 555 010 0200")["id"]
    return keep, other


def test_list_and_merge_contacts(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture], spec: Any
) -> None:
    a, _ = two_tenants
    api = Api(client, a)
    keep, other = _ann_twice(api)
    api.create(first_name="Bo", email="bo@example.com")

    listed = api.get("/contacts/duplicates")
    check_response(spec, CONTACT_LIST, "get", listed)
    body = listed.get_json()
    assert body["next_cursor"] is None
    assert [(i["ids"], i["reasons"]) for i in body["items"]] == [([keep, other], ["same_email"])]
    records = body["items"][0]["records"]
    assert [r["id"] for r in records] == [keep, other]
    assert records[1]["phone"] == "+1 555 010 0200"

    usage = api.get("/usage").get_json()["limits"]["contacts"]["used"]
    merged = api.post(f"/contacts/{keep}/merge", json={"other_id": other, "fields": {}})
    check_response(spec, CONTACT_MERGE, "post", merged)
    kept = merged.get_json()
    assert (kept["id"], kept["first_name"], kept["phone"]) == (keep, "Ann", "+1 555 010 0200")
    assert_error(api.get(f"/contacts/{other}"), 404, "not_found")
    assert api.get("/usage").get_json()["limits"]["contacts"]["used"] == usage - 1
    assert api.get("/contacts/duplicates").get_json()["items"] == []
    timeline = api.get(f"/contacts/{keep}/timeline").get_json()["items"]
    assert timeline[0]["kind"] == "merged"


def test_chosen_fields_through_the_api(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    api = Api(client, two_tenants[0])
    keep, other = _ann_twice(api)
    response = api.post(
        f"/contacts/{keep}/merge",
        json={"other_id": other, "fields": {"first_name": "other", "last_name": "other"}},
    )
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["first_name"], response.get_json()["last_name"]) == ("Anne", "")


def test_pages_through_the_api(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture], app: Flask, spec: Any
) -> None:
    a, _ = two_tenants
    ids = seed_contacts(
        app, a, [{"first_name": f"P{n % 3}", "email": f"p{n % 3}@x.example"} for n in range(6)]
    )
    api = Api(client, a)
    seen, cursor = [], None
    while True:
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        response = api.get("/contacts/duplicates", query_string=query)
        check_response(spec, CONTACT_LIST, "get", response)
        seen += [tuple(item["ids"]) for item in response.get_json()["items"]]
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [(ids[0], ids[3]), (ids[1], ids[4]), (ids[2], ids[5])]


def test_refusals(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture], app: Flask, spec: Any
) -> None:
    a, b = two_tenants
    offset_ids(app, b)
    api, intruder = Api(client, a), Api(client, b)
    keep, other = _ann_twice(api)
    theirs = intruder.create(first_name="Ann", email="ann@example.com")["id"]
    path = f"/contacts/{keep}/merge"
    cases = [
        # Another workspace's ids, either way round: not found.
        (intruder.post(path, json={"other_id": other}), 404, None),
        (api.post(path, json={"other_id": theirs}), 404, None),
        (api.post(f"/contacts/{theirs}/merge", json={"other_id": keep}), 404, None),
        (api.post(path, json={"other_id": 2**63}), 400, "other_id"),
        # Itself, bad bodies, impossible choices.
        (api.post(path, json={"other_id": keep}), 400, "other_id"),
        (api.post(path, json={}), 400, "other_id"),
        (api.post(path, json={"other_id": str(other)}), 400, "other_id"),
        (api.post(path, json={"other_id": other, "extra": 1}), 400, "extra"),
        (
            api.post(path, json={"other_id": other, "fields": {"email": "mine"}}),
            400,
            "fields.email",
        ),
        (api.post(path, json={"other_id": other, "fields": {"email": [1]}}), 400, "fields.email"),
        (api.post(path, json={"other_id": other, "fields": ["email"]}), 400, "fields"),
        (api.post(path, json={"other_id": other, "fields": {"nick": "other"}}), 400, "fields.nick"),
        (
            api.post(path, json={"other_id": other, "fields": {"email": "both"}}),
            400,
            "fields.email",
        ),
        (api.post(path, data="x", content_type="text/plain"), 415, None),
        (client.post(f"/api/v1{path}", base_url=a.base_url, json={"other_id": other}), 401, None),
    ]
    codes = {
        400: "validation_error",
        401: "unauthorized",
        404: "not_found",
        415: "unsupported_media_type",
    }
    for response, status, field in cases:
        assert_error(response, status, codes[status], field)
        check_response(spec, CONTACT_MERGE, "post", response)
    assert_error(
        api.get("/contacts/duplicates", query_string={"cursor": "x"}),
        400,
        "validation_error",
        "cursor",
    )
    assert_error(
        api.get("/contacts/duplicates", query_string={"q": "x"}), 400, "validation_error", "q"
    )
    assert_error(
        api.get("/contacts/duplicates", query_string={"limit": "0"}),
        400,
        "validation_error",
        "limit",
    )
    # Nothing was merged on the way.
    assert api.get(f"/contacts/{other}").status_code == 200
    assert intruder.get(f"/contacts/{theirs}").status_code == 200


def test_roles_and_scope(
    client: FlaskClient, team: TenantFixture, factory: Factory, spec: Any
) -> None:
    owner = Api(client, team)
    rep_id, _, rep_token = factory.member(team, role="sales_rep")
    _, _, viewer_token = factory.member(team, role="viewer")
    rep, viewer = Api(client, team, token=rep_token), Api(client, team, token=viewer_token)
    keep, other = _ann_twice(owner)
    mine = rep.create(first_name="Ann", email="ann@example.com")["id"]
    also_mine = rep.create(first_name="Ann", email="ann@example.com")["id"]

    # The viewer sees them but may not merge (nor look for duplicates).
    for response, path, method in (
        (viewer.post(f"/contacts/{keep}/merge", json={"other_id": other}), CONTACT_MERGE, "post"),
        (viewer.get("/contacts/duplicates"), CONTACT_LIST, "get"),
    ):
        assert_error(response, 403, "forbidden")
        check_response(spec, path, method, response)
    # The rep: the owner's contacts are out of scope (404), their own two merge.
    assert_error(rep.post(f"/contacts/{keep}/merge", json={"other_id": mine}), 404, "not_found")
    assert_error(rep.post(f"/contacts/{mine}/merge", json={"other_id": keep}), 404, "not_found")
    listed = rep.get("/contacts/duplicates").get_json()["items"]
    assert [i["ids"] for i in listed] == [[mine, also_mine]]
    merged = rep.post(f"/contacts/{mine}/merge", json={"other_id": also_mine})
    assert merged.status_code == 200, merged.get_json()
    assert merged.get_json()["owner_id"] == rep_id


def test_companies(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture], app: Flask, spec: Any
) -> None:
    a, b = two_tenants
    offset_ids(app, b)
    api = Api(client, a)
    keep, other, _ = seed_companies(
        app,
        a,
        [
            {"name": "Initech", "tags": ["A"]},
            {"name": "Initech Inc.", "domain": "initech.example", "tags": ["B"]},
            {"name": "Globex"},
        ],
    )
    (staff,) = seed_contacts(app, a, [{"first_name": "Peter", "company_id": other}])
    listed = api.get("/companies/duplicates")
    check_response(spec, COMPANY_LIST, "get", listed)
    items = listed.get_json()["items"]
    assert [(i["ids"], i["reasons"]) for i in items] == [([keep, other], ["similar_name"])]
    assert items[0]["records"][1]["contact_count"] == 1

    merged = api.post(
        f"/companies/{keep}/merge", json={"other_id": other, "fields": {"name": "other"}}
    )
    check_response(spec, COMPANY_MERGE, "post", merged)
    body = merged.get_json()
    assert (body["name"], body["domain"], body["tags"], body["contact_count"]) == (
        "Initech Inc.",
        "initech.example",
        ["A", "B"],
        1,
    )
    assert api.get(f"/contacts/{staff}").get_json()["company_id"] == keep
    assert_error(api.get(f"/companies/{other}"), 404, "not_found")
    # Another workspace: 404 for its company ids, and its own list knows nothing of A's.
    intruder = Api(client, b)
    refused = intruder.post(f"/companies/{keep}/merge", json={"other_id": keep})
    assert_error(refused, 404, "not_found")
    check_response(spec, COMPANY_MERGE, "post", refused)
    assert intruder.get("/companies/duplicates").get_json() == {"items": [], "next_cursor": None}
    self_merge = api.post(f"/companies/{keep}/merge", json={"other_id": keep})
    assert_error(self_merge, 400, "validation_error", "other_id")
