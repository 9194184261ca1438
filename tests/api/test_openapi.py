"""The OpenAPI document is valid, describes every API route, and real answers match it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from openapi_spec_validator import validate as validate_spec

from tests.api.conftest import APEX_URL, Api, assert_error
from tests.conftest import make_app

UNDOCUMENTED = {"openapi_json", "docs"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def spec(client: Any, two_tenants: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json", base_url=two_tenants[0].base_url)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def test_the_document_is_valid_openapi_3(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.")
    validate_spec(spec)  # raises on any violation of the OpenAPI 3 schema


def test_the_document_needs_no_credentials_and_is_the_same_on_every_host(
    client: Any, two_tenants: Any, spec: dict[str, Any]
) -> None:
    for base_url in (two_tenants[1].base_url, APEX_URL):
        response = client.get("/api/v1/openapi.json", base_url=base_url)
        assert response.status_code == 200
        assert response.get_json() == spec


def _flask_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _api_routes(app: Flask, blueprint: str) -> dict[tuple[str, str], str]:
    routes: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        name, _, view = rule.endpoint.partition(".")
        if name != blueprint or view in UNDOCUMENTED:
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            routes[(_flask_path(rule.rule), method.lower())] = view
    return routes


def _documented(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method in {"get", "put", "post", "patch", "delete"}
    }


@pytest.mark.parametrize("blueprint", ["api", "api_apex"])
def test_every_api_route_is_documented_and_nothing_else(
    app: Flask, spec: dict[str, Any], blueprint: str
) -> None:
    routes = _api_routes(app, blueprint)
    assert ("/api/v1/contacts", "get") in routes  # the walk found the API
    documented = _documented(spec)
    missing = sorted(set(routes) - set(documented))
    assert not missing, f"routes without documentation: {missing}"
    stale = sorted(set(documented) - set(routes))
    assert not stale, f"documented operations without a route: {stale}"
    for key, view in routes.items():
        operation = documented[key]
        assert operation["operationId"] == view, key
        assert operation.get("summary"), key
        assert (
            "200" in operation["responses"]
            or "201" in operation["responses"]
            or "204" in operation["responses"]
            or "202" in operation["responses"]  # queued jobs (exports)
        )
        assert "401" in operation["responses"], key
        path_params = set(re.findall(r"{([^}]+)}", key[0]))
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == path_params, key


def test_the_walk_notices_an_undocumented_route(database_url: str, spec: dict[str, Any]) -> None:
    """The route check above fails for a route the document does not describe."""
    other = make_app(database_url)
    other.add_url_rule(
        "/api/v1/contacts/<int:contact_id>/undocumented",
        endpoint="api.undocumented_contact_route",
        view_func=lambda contact_id: "",
        methods=["POST"],
        subdomain="<tenant_slug>",
    )
    missing = sorted(set(_api_routes(other, "api")) - set(_documented(spec)))
    assert missing == [("/api/v1/contacts/{contact_id}/undocumented", "post")]


# --------------------------------------------------------------------------- real answers


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _schema_validator(spec: dict[str, Any], schema: dict[str, Any], cls: Any) -> Any:
    # Refs point into the document (#/components/...): validate with the document's
    # components beside the schema, so that they resolve.
    root = {**schema, "components": spec["components"]}
    return cls(root, format_checker=cls.FORMAT_CHECKER)


def check_response(spec: dict[str, Any], path: str, method: str, response: Any) -> None:
    """``response`` has a status documented for the operation, and its body (and headers)
    match the documented schema."""
    operation = spec["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method.upper()} {path} answered undocumented {status}"
    )
    documented = _resolve(spec, operation["responses"][status])
    content = documented.get("content")
    if content is None:
        assert response.get_data() == b"", (
            f"{method.upper()} {path} {status} has an undocumented body"
        )
        return
    assert response.mimetype in content
    schema = content[response.mimetype]["schema"]
    validator = _schema_validator(spec, schema, OAS30ReadValidator)
    errors = sorted(validator.iter_errors(response.get_json()), key=str)
    assert not errors, f"{method.upper()} {path} {status}: " + "; ".join(e.message for e in errors)
    for header in documented.get("headers", {}):
        assert header in response.headers, f"{method.upper()} {path} {status} lacks {header}"


def check_request(spec: dict[str, Any], path: str, method: str, body: Any) -> list[str]:
    """Messages for ``body`` against the documented request body (empty when valid)."""
    schema = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    validator = _schema_validator(spec, schema, OAS30WriteValidator)
    return [error.message for error in validator.iter_errors(body)]


def test_the_response_check_is_not_vacuous(spec: dict[str, Any]) -> None:
    """The schema check rejects answers that break the document."""
    schema = {"$ref": "#/components/schemas/ContactList"}
    validator = _schema_validator(spec, schema, OAS30ReadValidator)
    good = {
        "id": 1,
        "first_name": "A",
        "last_name": "",
        "email": None,
        "phone": None,
        "title": None,
        "company_name": None,
        "company_id": 7,
        "company": {"id": 7, "name": "Initech"},
        "source": None,
        "birthday": "1990-05-17",
        "tags": ["VIP"],
        "notes": None,
        "owner_id": 2,
        "custom_fields": {"tier": "gold"},
        "created_at": "2024-01-01T00:00:00+00:00",
        "updated_at": "2024-01-01T00:00:00+00:00",
        "last_contacted_at": None,
    }
    assert not list(validator.iter_errors({"items": [good], "next_cursor": None}))
    bad_bodies = [
        {"items": [good]},  # next_cursor missing
        {"items": [{**good, "id": "1"}], "next_cursor": None},  # wrong type
        {"items": [{**good, "created_at": "yesterday"}], "next_cursor": None},  # format
        {"items": [{k: v for k, v in good.items() if k != "email"}], "next_cursor": None},
        {"items": [{**good, "secret": 1}], "next_cursor": None},  # undocumented field
        {"items": [], "next_cursor": None, "total": 3},
    ]
    for body in bad_bodies:
        assert list(validator.iter_errors(body)), body
    error = _schema_validator(spec, {"$ref": "#/components/schemas/Error"}, OAS30ReadValidator)
    assert not list(error.iter_errors({"error": {"code": "x", "message": "y", "details": {}}}))
    assert list(error.iter_errors({"error": {"code": "x", "message": "y"}}))
    assert list(error.iter_errors({"message": "y"}))


def test_real_answers_match_the_documented_schemas(
    client: Any, spec: dict[str, Any], two_tenants: Any, factory: Any
) -> None:
    a, b = two_tenants
    api = Api(client, a)
    one = "/api/v1/contacts/{contact_id}"
    many = "/api/v1/contacts"

    full = {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "phone": "+1 555 0100",
        "title": "CTO",
        "company_name": "Initech",
        "notes": "Line one\nline two",
    }
    assert check_request(spec, many, "post", full) == []
    created = api.post("/contacts", json=full)
    check_response(spec, many, "post", created)
    cid = created.get_json()["id"]
    sparse = api.post("/contacts", json={"email": "bo@example.com"})  # nulls and empty names
    check_response(spec, many, "post", sparse)

    check_response(spec, one, "get", api.get(f"/contacts/{cid}"))
    check_response(
        spec, many, "get", api.get("/contacts", query_string={"limit": 1})
    )  # with a cursor
    check_response(spec, many, "get", api.get("/contacts"))  # last page: null cursor
    check_response(spec, many, "get", Api(client, b).get("/contacts"))  # empty
    check_response(spec, one, "patch", api.patch(f"/contacts/{cid}", json={"title": None}))
    check_response(spec, "/api/v1/me", "get", api.get("/me"))

    # Errors, one of each kind a client meets.
    _, _, viewer_token = factory.member(a, role="viewer")
    viewer = Api(client, a, token=viewer_token)
    error_cases = [
        (many, "post", api.post("/contacts", json={"first_name": 5, "nickname": "x"}), 400),
        (many, "post", api.post("/contacts", data=b"{", content_type="application/json"), 400),
        (many, "post", api.post("/contacts", data="x", content_type="text/plain"), 415),
        (
            many,
            "post",
            api.post("/contacts", data=b"x" * (2 * 1024 * 1024), content_type="application/json"),
            413,
        ),
        (many, "post", viewer.post("/contacts", json={"first_name": "X"}), 403),
        (many, "get", api.get("/contacts", query_string={"cursor": "nope"}), 400),
        (many, "get", client.get("/api/v1/contacts", base_url=a.base_url), 401),
        (one, "get", Api(client, b).get(f"/contacts/{cid}"), 404),
        (one, "patch", api.patch(f"/contacts/{cid}", json={"owner_id": 987654321}), 400),
        (one, "delete", viewer.delete(f"/contacts/{cid}"), 403),
        ("/api/v1/me", "get", client.get("/api/v1/me", base_url=a.base_url, headers=b.auth()), 401),
    ]
    for path, method, response, status in error_cases:
        assert response.status_code == status, (path, method, response.get_json())
        check_response(spec, path, method, response)
    check_response(spec, one, "delete", api.delete(f"/contacts/{cid}"))


def test_documented_input_rules_match_what_the_api_refuses(
    client: Any, spec: dict[str, Any], api: Api
) -> None:
    """Bodies the document calls invalid are refused, and the document accepts what
    the API accepts."""
    path = "/api/v1/contacts"
    refused = [
        {"id": 1},
        {"first_name": 5},
        {"first_name": "a" * 101},
        {"owner_id": 0},
        {"phone": "call me"},
        {"email": "nope"},
    ]
    for body in refused:
        assert check_request(spec, path, "post", body), body
        assert_error(
            api.post("/contacts", json={"last_name": "Lee", **body}), 400, "validation_error"
        )
    accepted = [
        {"first_name": None, "last_name": "Lee"},
        {"email": None, "first_name": "A"},
        {"first_name": "A", "owner_id": None},
    ]
    for body in accepted:
        assert check_request(spec, path, "post", body) == [], body
        assert api.post("/contacts", json=body).status_code == 201, body


# --------------------------------------------------------------------------- docs page


@pytest.mark.parametrize("where", ["tenant", "apex"])
def test_docs_render_on_tenant_and_apex_hosts(
    client: Any, two_tenants: Any, spec: dict[str, Any], where: str
) -> None:
    base_url = two_tenants[0].base_url if where == "tenant" else APEX_URL
    response = client.get("/api/v1/docs", base_url=base_url)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "CRM API" in html
    for path in spec["paths"]:
        assert path in html
    assert "openapi.json" in html


def test_docs_of_an_unknown_workspace_are_404(client: Any) -> None:
    assert (
        client.get("/api/v1/docs", base_url="http://no-such-workspace.crm.test").status_code == 404
    )
