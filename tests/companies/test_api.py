"""REST API: /api/v1/companies and the company link of contacts."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.companies.services import normalize_domain
from app.timeline.models import TimelineEvent
from tests.api.conftest import Api, assert_error, tenant_session
from tests.conftest import Factory, TenantFixture


def _company(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post("/companies", json={"name": "Initech", **fields})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


@pytest.fixture
def a(two_tenants: tuple[TenantFixture, TenantFixture]) -> TenantFixture:
    return two_tenants[0]


@pytest.fixture
def api(client: FlaskClient, a: TenantFixture) -> Api:
    return Api(client, a)


def test_create_get_update_delete(api: Api, a: TenantFixture) -> None:
    created = api.post(
        "/companies",
        json={
            "name": "  Initech ",
            "domain": "HTTPS://www.Initech.example/about?x=1",
            "industry": "Software",
            "size": "51-200",
            "address": "1 Main St\nSpringfield",
            "phone": "+1 555 0100",
            "notes": "Big one",
            "tags": ["VIP", "vip", " Partner "],
            "custom_fields": {},
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/companies/{body['id']}")
    assert body["name"] == "Initech"
    assert body["domain"] == "initech.example"
    assert body["tags"] == ["VIP", "Partner"]
    assert body["owner_id"] == a.owner_id
    assert body["contact_count"] == 0
    assert set(body) == {
        "id", "name", "domain", "industry", "size", "address", "phone", "notes",
        "owner_id", "tags", "custom_fields", "contact_count", "created_at", "updated_at",
        "last_contacted_at",
    }  # fmt: skip
    cid = body["id"]
    assert api.get(f"/companies/{cid}").get_json() == body
    patched = api.patch(f"/companies/{cid}", json={"size": None, "industry": "Hardware"})
    assert patched.status_code == 200
    assert patched.get_json()["size"] is None and patched.get_json()["industry"] == "Hardware"
    assert api.delete(f"/companies/{cid}").status_code == 204
    assert_error(api.get(f"/companies/{cid}"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "a\x07b"}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"domain": "not a domain"}, "domain"),
        ({"domain": "localhost"}, "domain"),
        ({"domain": "exa_mple.com"}, "domain"),
        ({"domain": "example.123"}, "domain"),
        ({"domain": "-bad.example.com"}, "domain"),
        ({"industry": "x" * 101}, "industry"),
        ({"size": "huge"}, "size"),
        ({"phone": "call me"}, "phone"),
        ({"notes": "x" * 20001}, "notes"),
        ({"address": "a\x00"}, "address"),
        ({"owner_id": 987654321}, "owner_id"),
        ({"owner_id": 0}, "owner_id"),
        ({"owner_id": "1"}, "owner_id"),
        ({"tags": "VIP"}, "tags"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"tags": [f"t{n}" for n in range(31)]}, "tags"),
        ({"tags": ["bad\x01"]}, "tags"),
        ({"custom_fields": {"tier": "gold"}}, "custom_fields.tier"),
        ({"custom_fields": []}, "custom_fields"),
        ({"nickname": "x"}, "nickname"),
        ({"id": 5}, "id"),
        ({"contact_count": 5}, "contact_count"),
    ],
)
def test_bad_input_is_a_field_error(api: Api, body: dict[str, Any], field: str) -> None:
    assert_error(
        api.post("/companies", json={"name": "Acme", **body}), 400, "validation_error", field
    )
    assert api.get("/companies").get_json()["items"] == []


def test_name_is_required_on_create_only(api: Api) -> None:
    assert_error(
        api.post("/companies", json={"domain": "a.example"}), 400, "validation_error", "name"
    )
    cid = _company(api)["id"]
    assert api.patch(f"/companies/{cid}", json={"phone": "123"}).status_code == 200
    assert_error(
        api.patch(f"/companies/{cid}", json={"name": " "}), 400, "validation_error", "name"
    )
    assert_error(
        api.patch(f"/companies/{cid}", data=b"{", content_type="application/json"),
        400,
        "validation_error",
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("example.com", "example.com"),
        ("WWW.Example.COM", "example.com"),
        ("http://shop.example.co.uk/path", "shop.example.co.uk"),
        ("https://www.example.com:8443/x", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("example.com.", "example.com"),
    ],
)
def test_domains_are_normalised(typed: str, stored: str) -> None:
    assert normalize_domain(typed) == stored


def test_list_search_filters_sort_and_pages(api: Api, factory: Factory, a: TenantFixture) -> None:
    _company(api, name="Alpha", domain="alpha.example", industry="Software", tags=["VIP"])
    _company(api, name="Beta", domain="beta.example", industry="software")
    _company(api, name="Gamma_%", domain="gamma.example", industry="Retail", tags=["vip", "B2B"])

    def names(**query: Any) -> list[str]:
        response = api.get("/companies", query_string=query)
        assert response.status_code == 200, response.get_json()
        return [row["name"] for row in response.get_json()["items"]]

    assert names() == ["Alpha", "Beta", "Gamma_%"]
    assert names(sort="-name") == ["Gamma_%", "Beta", "Alpha"]
    assert names(q="ALP") == ["Alpha"]
    assert names(q="beta.exa") == ["Beta"]
    assert names(q="_%") == ["Gamma_%"]  # wildcards are literal
    assert names(q="x_") == []
    assert names(industry="SOFTWARE") == ["Alpha", "Beta"]
    assert names(tag="Vip") == ["Alpha", "Gamma_%"]
    assert names(tag="b2b") == ["Gamma_%"]
    assert names(owner_id=str(a.owner_id)) == ["Alpha", "Beta", "Gamma_%"]
    assert names(owner_id="123456789") == []
    first = api.get("/companies", query_string={"limit": 2, "sort": "-created_at"}).get_json()
    assert [row["name"] for row in first["items"]] == ["Gamma_%", "Beta"]
    rest = api.get(
        "/companies",
        query_string={"limit": 2, "sort": "-created_at", "cursor": first["next_cursor"]},
    ).get_json()
    assert [row["name"] for row in rest["items"]] == ["Alpha"] and rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"bogus": "1"}, "bogus"),
        ({"cursor": "nope"}, "cursor"),
        ({"sort": "phone"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"owner_id": "x"}, "owner_id"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x00"}, "q"),
    ],
)
def test_bad_list_parameters_are_refused(api: Api, query: dict[str, str], field: str) -> None:
    assert_error(api.get("/companies", query_string=query), 400, "validation_error", field)


def test_cursor_of_another_sort_is_refused(api: Api) -> None:
    for name in ("A", "B", "C"):
        _company(api, name=name)
    cursor = api.get("/companies", query_string={"limit": 1}).get_json()["next_cursor"]
    response = api.get("/companies", query_string={"limit": 1, "cursor": cursor, "sort": "-name"})
    assert_error(response, 400, "validation_error", "cursor")


def test_other_tenants_companies_are_not_found(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = two_tenants
    cid = _company(Api(client, a))["id"]
    other = Api(client, b)
    assert_error(other.get(f"/companies/{cid}"), 404, "not_found")
    assert_error(other.patch(f"/companies/{cid}", json={"name": "x"}), 404, "not_found")
    assert_error(other.delete(f"/companies/{cid}"), 404, "not_found")
    assert_error(other.get(f"/companies/{cid}/contacts"), 404, "not_found")
    assert other.get("/companies").get_json()["items"] == []
    # Nor can B's contacts point at it.
    response = other.post("/contacts", json={"first_name": "Eve", "company_id": cid})
    details = assert_error(response, 400, "validation_error", "company_id")
    assert details["company_id"] == ["Choose a company you can see."]
    assert_error(api_get_huge(other), 404, "not_found")


def api_get_huge(api: Api) -> Any:
    return api.get(f"/companies/{2**63}")


def test_sales_rep_sees_and_links_only_own_companies(
    client: FlaskClient, factory: Factory, a: TenantFixture, api: Api
) -> None:
    owners = _company(api, name="Owner's")
    rep_id, _, rep_token = factory.member(a, role="sales_rep")
    rep = Api(client, a, token=rep_token)
    mine = _company(rep, name="Rep's")
    assert mine["owner_id"] == rep_id
    assert [row["name"] for row in rep.get("/companies").get_json()["items"]] == ["Rep's"]
    assert_error(rep.get(f"/companies/{owners['id']}"), 404, "not_found")
    assert_error(rep.patch(f"/companies/{owners['id']}", json={"name": "x"}), 404, "not_found")
    # A rep may not hand a company to someone else, nor create one for them.
    assert_error(
        rep.post("/companies", json={"name": "X", "owner_id": a.owner_id}),
        400,
        "validation_error",
        "owner_id",
    )
    assert_error(
        rep.patch(f"/companies/{mine['id']}", json={"owner_id": a.owner_id}),
        400,
        "validation_error",
        "owner_id",
    )
    # Contacts: the owner's company is not theirs to link to.
    details = assert_error(
        rep.post("/contacts", json={"first_name": "Ann", "company_id": owners["id"]}),
        400,
        "validation_error",
        "company_id",
    )
    assert details["company_id"] == ["Choose a company you can see."]
    linked = rep.create(first_name="Ann", company_id=mine["id"])
    assert linked["company"] == {"id": mine["id"], "name": "Rep's"}
    # The owner (scope "all") may assign companies to the rep.
    handed = api.patch(f"/companies/{owners['id']}", json={"owner_id": rep_id})
    assert handed.status_code == 200 and handed.get_json()["owner_id"] == rep_id
    assert rep.get(f"/companies/{owners['id']}").status_code == 200


def test_viewer_reads_but_may_not_write(
    client: FlaskClient, factory: Factory, a: TenantFixture, api: Api
) -> None:
    cid = _company(api)["id"]
    _, _, token = factory.member(a, role="viewer")
    viewer = Api(client, a, token=token)
    assert viewer.get(f"/companies/{cid}").status_code == 200
    assert viewer.get("/companies").status_code == 200
    assert_error(viewer.post("/companies", json={"name": "X"}), 403, "forbidden")
    assert_error(viewer.patch(f"/companies/{cid}", json={"name": "X"}), 403, "forbidden")
    assert_error(viewer.delete(f"/companies/{cid}"), 403, "forbidden")
    assert api.get(f"/companies/{cid}").get_json()["name"] == "Initech"


def test_company_contacts_and_delete_keeps_them(api: Api, app: Flask, a: TenantFixture) -> None:
    cid = _company(api)["id"]
    ann = api.create(first_name="Ann", last_name="Zed", company_id=cid)
    bob = api.create(first_name="Bob", last_name="Able", company_id=cid)
    api.create(first_name="Cy", company_name="Initech")  # typed, not linked
    assert ann["company"] == {"id": cid, "name": "Initech"} and ann["company_id"] == cid
    assert api.get(f"/companies/{cid}").get_json()["contact_count"] == 2
    listed = api.get(f"/companies/{cid}/contacts").get_json()
    assert [row["id"] for row in listed["items"]] == [bob["id"], ann["id"]]  # by last name
    assert listed["items"][0]["company"] == {"id": cid, "name": "Initech"}
    paged = api.get(f"/companies/{cid}/contacts", query_string={"limit": 1}).get_json()
    assert len(paged["items"]) == 1 and paged["next_cursor"]
    assert_error(
        api.get(f"/companies/{cid}/contacts", query_string={"q": "x"}), 400, "validation_error", "q"
    )
    assert api.delete(f"/companies/{cid}").status_code == 204
    kept = api.get(f"/contacts/{ann['id']}").get_json()
    assert kept["company_id"] is None and kept["company"] is None
    assert kept["first_name"] == "Ann"
    assert len(api.get("/contacts").get_json()["items"]) == 3
    with tenant_session(app, a) as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "company", AuditEntry.entity_id == cid)
        ).all()
        assert [entry.action for entry in audit] == ["created", "deleted"]
        # The company's history went with it.
        assert (
            session.scalars(select(TimelineEvent).where(TimelineEvent.company_id == cid)).all()
            == []
        )


def test_writes_append_timeline_events(api: Api, app: Flask, a: TenantFixture) -> None:
    cid = _company(api, domain="initech.example")["id"]
    api.patch(f"/companies/{cid}", json={"domain": "https://www.initech.example", "size": "1-10"})
    api.patch(f"/companies/{cid}", json={"size": "1-10"})  # no change: no event
    contact = api.create(first_name="Ann")
    api.patch(
        f"/contacts/{contact['id']}",
        json={"company_id": cid, "birthday": "1990-05-17", "tags": ["VIP"], "source": "Fair"},
    )
    with tenant_session(app, a) as session:
        events = session.scalars(
            select(TimelineEvent).where(TimelineEvent.company_id == cid).order_by(TimelineEvent.id)
        ).all()
        assert [(e.kind, e.entity, e.entity_id, e.actor_id) for e in events] == [
            ("created", "company", cid, a.owner_id),
            ("updated", "company", cid, a.owner_id),
        ]
        assert events[1].data == {"changes": {"size": [None, "1-10"]}}
        contact_events = session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.contact_id == contact["id"])
            .order_by(TimelineEvent.id)
        ).all()
        assert [e.kind for e in contact_events] == ["created", "updated"]
        assert contact_events[1].data == {
            "changes": {
                "company_id": [None, cid],
                "birthday": [None, "1990-05-17"],
                "tags": [[], ["VIP"]],
                "source": [None, "Fair"],
            }
        }
