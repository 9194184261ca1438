"""Real answers of the segment and bulk edit endpoints match the OpenAPI document, and
the list endpoints document the filter grammar."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.api.test_openapi import check_request, check_response
from tests.lists.conftest import Team, contacts, define


def _spec(team: Team) -> dict[str, Any]:
    document: dict[str, Any] = team.api.client.get(
        "/api/v1/openapi.json", base_url=team.tf.base_url
    ).get_json()
    return document


def test_segment_and_bulk_answers_match_the_document(team: Team, app: Flask) -> None:
    spec = _spec(team)
    define(app, team.tf, "contact", "score", "number")
    contacts(app, team.tf, [{"first_name": f"C{n}", "tags": ["t"]} for n in range(3)])
    many, one = "/api/v1/segments", "/api/v1/segments/{segment_id}"
    body = {"entity": "contact", "name": "T", "filters": {"tag": "t"}, "sort": "cf.score"}
    assert check_request(spec, many, "post", body) == []
    created = team.api.post("/segments", json=body)
    check_response(spec, many, "post", created)
    sid = created.get_json()["id"]
    check_response(spec, many, "get", team.api.get("/segments"))
    check_response(spec, one, "get", team.api.get(f"/segments/{sid}"))
    check_response(spec, one, "patch", team.api.patch(f"/segments/{sid}", json={"shared": True}))
    items = "/api/v1/segments/{segment_id}/items"
    check_response(spec, items, "get", team.api.get(f"/segments/{sid}/items?limit=2"))
    for path, method, response, status in (
        (many, "post", team.api.post("/segments", json={**body, "name": "t"}), 400),
        (one, "patch", team.rep.patch(f"/segments/{sid}", json={"name": "x"}), 403),
        (one, "get", team.rep.get("/segments/999999"), 404),
        (items, "get", team.api.get(f"/segments/{sid}/items?cursor=x"), 400),
    ):
        assert response.status_code == status, response.get_json()
        check_response(spec, path, method, response)

    bulk = "/api/v1/contacts/bulk"
    edit = {"action": "add_tag", "tag": "u", "filter": {"tag": "t"}}
    assert check_request(spec, bulk, "post", edit) == []
    done = team.api.post("/contacts/bulk", json=edit)
    check_response(spec, bulk, "post", done)
    job = "/api/v1/bulk-edits/{bulk_edit_id}"
    check_response(spec, job, "get", team.api.get(f"/bulk-edits/{done.get_json()['id']}"))
    for response, status in (
        (team.api.post("/contacts/bulk", json={"action": "add_tag", "ids": [1]}), 400),
        (team.rep.post("/contacts/bulk", json={**edit, "action": "delete", "tag": None}), 200),
    ):
        assert response.status_code == status, response.get_json()
        check_response(spec, bulk, "post", response)
    check_response(spec, one, "delete", team.api.delete(f"/segments/{sid}"))


def test_the_list_endpoints_document_the_filters(team: Team) -> None:
    spec = _spec(team)
    for path, wanted in (
        ("/api/v1/contacts", {"owner_id", "tag_all", "not_contacted_days", "email_contains"}),
        ("/api/v1/companies", {"size", "industry", "last_contacted_days", "created_from"}),
        ("/api/v1/deals", {"amount_min", "probability_max", "expected_close_to", "status"}),
    ):
        names = {p["name"] for p in spec["paths"][path]["get"]["parameters"]}
        assert wanted | {"q", "sort", "cursor", "limit"} <= names, path
    described = spec["paths"]["/api/v1/segments"]["post"]["description"]
    assert "cf.<key>_min" in described
