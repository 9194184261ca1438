"""The pipelines endpoints answer what the OpenAPI document says, errors included."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.api.conftest import Api
from tests.api.test_openapi import check_request, check_response
from tests.conftest import Factory, TenantFixture
from tests.pipelines.conftest import default_pipeline, new_deal, stage_named

MANY = "/api/v1/pipelines"
ONE = "/api/v1/pipelines/{pipeline_id}"
STAGES = "/api/v1/pipelines/{pipeline_id}/stages"
STAGE = "/api/v1/pipelines/{pipeline_id}/stages/{stage_id}"
REORDER = "/api/v1/pipelines/{pipeline_id}/stages/reorder"


def test_answers_match_the_document(
    client: FlaskClient, owner_api: Api, starter: TenantFixture, factory: Factory
) -> None:
    spec: dict[str, Any] = client.get("/api/v1/openapi.json", base_url=starter.base_url).get_json()
    check_response(spec, MANY, "get", owner_api.get("/pipelines"))
    body = {
        "name": "Partners",
        "stages": [
            {"name": "A"},
            {"name": "W", "kind": "won"},
            {"name": "L", "kind": "lost", "color": None},
        ],
    }
    assert check_request(spec, MANY, "post", body) == []
    assert check_request(
        spec, MANY, "post", {"name": "P", "stages": [{"name": "A", "color": "#fff"}]}
    )
    created = owner_api.post("/pipelines", json=body)
    check_response(spec, MANY, "post", created)
    pid = created.get_json()["id"]
    sales = default_pipeline(owner_api)
    sid = sales["id"]
    lead = stage_named(sales, "Lead")
    check_response(spec, ONE, "get", owner_api.get(f"/pipelines/{sid}"))
    check_response(spec, ONE, "patch", owner_api.patch(f"/pipelines/{pid}", json={"name": "P2"}))
    added = owner_api.post(f"/pipelines/{sid}/stages", json={"name": "Demo", "rotting_days": 7})
    check_response(spec, STAGES, "post", added)
    demo = stage_named(added.get_json(), "Demo")
    check_response(
        spec,
        STAGE,
        "patch",
        owner_api.patch(f"/pipelines/{sid}/stages/{demo['id']}", json={"color": "pink"}),
    )
    current = owner_api.get(f"/pipelines/{sid}").get_json()
    ids = [s["id"] for s in current["stages"]]
    order = {"stage_ids": [*reversed(ids[:-2]), *ids[-2:]], "version": current["version"]}
    assert check_request(spec, REORDER, "post", order) == []
    check_response(
        spec, REORDER, "post", owner_api.post(f"/pipelines/{sid}/stages/reorder", json=order)
    )
    check_response(spec, STAGE, "delete", owner_api.delete(f"/pipelines/{sid}/stages/{demo['id']}"))

    _, _, viewer_token = factory.member(starter, role="viewer")
    viewer = Api(client, starter, token=viewer_token)
    new_deal(owner_api, stage_id=lead["id"])
    errors = [
        (MANY, "post", owner_api.post("/pipelines", json={"name": ""}), 400),
        (MANY, "post", viewer.post("/pipelines", json={"name": "V"}), 403),
        (MANY, "get", owner_api.get("/pipelines", query_string={"q": "x"}), 400),
        (ONE, "get", owner_api.get("/pipelines/999999999"), 404),
        (ONE, "delete", owner_api.delete(f"/pipelines/{sid}"), 400),
        (STAGE, "delete", owner_api.delete(f"/pipelines/{sid}/stages/{lead['id']}"), 400),
        (STAGE, "patch", owner_api.patch(f"/pipelines/{pid}/stages/{lead['id']}", json={}), 404),
        (REORDER, "post", owner_api.post(f"/pipelines/{sid}/stages/reorder", json=order), 409),
        (STAGES, "post", owner_api.post(f"/pipelines/{sid}/stages", data="x"), 415),
    ]
    for path, method, response, status in errors:
        assert response.status_code == status, (path, method, response.get_json())
        check_response(spec, path, method, response)
    owner_api.post("/pipelines", json={"name": "Third"})
    capped = owner_api.post("/pipelines", json={"name": "Fourth"})
    assert capped.status_code == 402
    check_response(spec, MANY, "post", capped)
    check_response(spec, ONE, "delete", owner_api.delete(f"/pipelines/{pid}"))
