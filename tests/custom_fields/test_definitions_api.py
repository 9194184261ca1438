"""REST API: /api/v1/custom-fields (definitions), their plan limit and what deleting
or changing them does to the records' values."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.contacts.models import Contact
from billing.limits import reconcile_tenant
from tests.api.conftest import Api, assert_error, tenant_session
from tests.api.test_openapi import check_response
from tests.billing.conftest import counters, set_counter
from tests.conftest import Factory, TenantFixture
from tests.custom_fields.conftest import define

FIELD_KEYS = {
    "id", "entity", "key", "label", "type", "required", "options", "position",
    "created_at", "updated_at",
}  # fmt: skip


def _keys(api: Api, entity: str | None = None) -> list[str]:
    query = {"entity": entity} if entity else {}
    response = api.get("/custom-fields", query_string=query)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["next_cursor"] is None
    return [item["key"] for item in response.get_json()["items"]]


def test_create_list_get_update_delete(api: Api, ws: TenantFixture, app: Flask) -> None:
    spec = api.get("/openapi.json").get_json()
    created = api.post(
        "/custom-fields",
        json={
            "entity": "contact",
            "key": "tier",
            "label": "  Tier ",
            "type": "single_select",
            "required": False,
            "options": ["Gold", " Silver "],
        },
    )
    assert created.status_code == 201, created.get_json()
    check_response(spec, "/api/v1/custom-fields", "post", created)
    body = created.get_json()
    assert set(body) == FIELD_KEYS
    assert body["label"] == "Tier" and body["options"] == ["Gold", "Silver"]
    assert body["position"] == 0 and body["required"] is False
    assert created.headers["Location"].endswith(f"/api/v1/custom-fields/{body['id']}")
    one = f"/custom-fields/{body['id']}"
    assert api.get(one).get_json() == body
    check_response(spec, "/api/v1/custom-fields/{field_id}", "get", api.get(one))
    listed = api.get("/custom-fields")
    check_response(spec, "/api/v1/custom-fields", "get", listed)
    assert listed.get_json() == {"items": [body], "next_cursor": None}

    patched = api.patch(
        one, json={"label": "Customer tier", "required": True, "type": body["type"]}
    )
    assert patched.status_code == 200, patched.get_json()
    check_response(spec, "/api/v1/custom-fields/{field_id}", "patch", patched)
    assert patched.get_json()["label"] == "Customer tier"
    assert patched.get_json()["required"] is True

    deleted = api.delete(one)
    assert deleted.status_code == 204
    check_response(spec, "/api/v1/custom-fields/{field_id}", "delete", deleted)
    assert_error(api.get(one), 404, "not_found")
    assert _keys(api) == []
    with tenant_session(app, ws) as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity == "custom_field", AuditEntry.entity_id == body["id"])
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["created", "updated", "deleted"]


def test_key_defaults_to_one_made_from_the_label(api: Api) -> None:
    first = api.post("/custom-fields", json={"entity": "deal", "label": "Größe ", "type": "text"})
    assert first.status_code == 201 and first.get_json()["key"] == "grosse"
    again = api.post("/custom-fields", json={"entity": "deal", "label": "Grösse", "type": "text"})
    assert again.status_code == 201 and again.get_json()["key"] == "grosse_2"
    other = api.post("/custom-fields", json={"entity": "contact", "label": "Größe", "type": "text"})
    assert other.get_json()["key"] == "grosse"  # unique per entity only
    digits = api.post(
        "/custom-fields", json={"entity": "deal", "label": "2nd phone", "type": "phone"}
    )
    assert digits.get_json()["key"] == "f_2nd_phone"
    symbols = api.post("/custom-fields", json={"entity": "deal", "label": "€ / ¥", "type": "text"})
    assert symbols.get_json()["key"] == "field"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"entity": None}, "entity"),
        ({"entity": "lead"}, "entity"),
        ({"type": "colour"}, "type"),
        ({"type": None}, "type"),
        ({"label": ""}, "label"),
        ({"label": "   "}, "label"),
        ({"label": "x" * 101}, "label"),
        ({"label": "a\x00b"}, "label"),
        ({"label": "two\nlines"}, "label"),
        ({"label": 5}, "label"),
        ({"key": "Tier"}, "key"),
        ({"key": "1tier"}, "key"),
        ({"key": "ti-er"}, "key"),
        ({"key": "_tier"}, "key"),
        ({"key": "x" * 41}, "key"),
        ({"key": ""}, "key"),
        ({"key": 7}, "key"),
        ({"required": "yes"}, "required"),
        ({"required": 1}, "required"),
        ({"options": ["a"]}, "options"),
        ({"type": "single_select"}, "options"),
        ({"type": "multi_select", "options": []}, "options"),
        ({"type": "single_select", "options": ["a", "A"]}, "options"),
        ({"type": "single_select", "options": ["a", " "]}, "options"),
        ({"type": "single_select", "options": ["x" * 101]}, "options"),
        ({"type": "single_select", "options": ["a\nb"]}, "options"),
        ({"type": "single_select", "options": [1]}, "options"),
        ({"type": "single_select", "options": "a, b"}, "options"),
        ({"type": "single_select", "options": [f"o{n}" for n in range(201)]}, "options"),
        ({"position": -1}, "position"),
        ({"position": "1"}, "position"),
        ({"colour": "red"}, "colour"),
        ({"id": 5}, "id"),
        ({"created_at": "2024-01-01T00:00:00Z"}, "created_at"),
    ],
)
def test_bad_input_is_a_field_error_and_creates_nothing(
    api: Api, app: Flask, ws: TenantFixture, body: dict[str, Any], field: str
) -> None:
    base = {"entity": "contact", "label": "Tier", "type": "text"}
    assert_error(api.post("/custom-fields", json={**base, **body}), 400, "validation_error", field)
    assert _keys(api) == []
    assert counters(app, ws)["custom_fields"] == 0


def test_a_key_is_unique_per_entity(api: Api) -> None:
    define(api, "contact", "tier", "text")
    response = api.post(
        "/custom-fields", json={"entity": "contact", "key": "tier", "label": "X", "type": "number"}
    )
    assert_error(response, 400, "validation_error", "key")
    define(api, "company", "tier", "number")
    assert _keys(api, "contact") == ["tier"] and _keys(api, "company") == ["tier"]


def test_entity_key_and_type_are_fixed(api: Api) -> None:
    field = define(api, "contact", "tier", "text")
    one = f"/custom-fields/{field['id']}"
    for change in ({"entity": "deal"}, {"key": "level"}, {"type": "number"}):
        assert_error(api.patch(one, json=change), 400, "validation_error", next(iter(change)))
    same = {"entity": "contact", "key": "tier", "type": "text", "label": "Level"}
    assert api.patch(one, json=same).status_code == 200
    assert api.get(one).get_json()["label"] == "Level"
    assert_error(api.patch(one, json={"options": ["a"]}), 400, "validation_error", "options")
    assert_error(api.patch(one, json={"label": ""}), 400, "validation_error", "label")
    assert_error(api.patch(one, json={"required": None}), 400, "validation_error", "required")
    assert api.get(one).get_json()["label"] == "Level"


def test_list_filter_and_its_bad_parameters(api: Api) -> None:
    define(api, "deal", "stage_note", "text")
    define(api, "contact", "tier", "text")
    define(api, "company", "region", "text")
    define(api, "contact", "score", "number")
    assert _keys(api) == ["tier", "score", "region", "stage_note"]
    assert _keys(api, "contact") == ["tier", "score"]
    assert_error(
        api.get("/custom-fields", query_string={"entity": "lead"}),
        400,
        "validation_error",
        "entity",
    )
    assert_error(
        api.get("/custom-fields", query_string={"sort": "key"}), 400, "validation_error", "sort"
    )
    assert_error(
        api.get("/custom-fields?entity=deal&entity=contact"), 400, "validation_error", "entity"
    )


def test_position_moves_a_field_and_the_others_follow(api: Api) -> None:
    ids = {key: define(api, "contact", key, "text")["id"] for key in ("a", "b", "c", "d")}
    assert api.patch(f"/custom-fields/{ids['d']}", json={"position": 0}).status_code == 200
    assert _keys(api, "contact") == ["d", "a", "b", "c"]
    assert api.patch(f"/custom-fields/{ids['a']}", json={"position": 99}).status_code == 200
    assert _keys(api, "contact") == ["d", "b", "c", "a"]
    positions = [i["position"] for i in api.get("/custom-fields").get_json()["items"]]
    assert positions == [0, 1, 2, 3]
    inserted = define(api, "contact", "e", "text", position=1)
    assert inserted["position"] == 1
    assert _keys(api, "contact") == ["d", "e", "b", "c", "a"]
    assert api.delete(f"/custom-fields/{ids['b']}").status_code == 204
    positions = [i["position"] for i in api.get("/custom-fields").get_json()["items"]]
    assert positions == [0, 1, 2, 3]


def test_roles_view_or_manage_fields(
    api: Api, client: FlaskClient, ws: TenantFixture, factory: Factory
) -> None:
    field = define(api, "contact", "tier", "text")
    one = f"/custom-fields/{field['id']}"
    _, _, rep_token = factory.member(ws, role="sales_rep")
    rep = Api(client, ws, token=rep_token)
    assert rep.get("/custom-fields").status_code == 200
    assert rep.get(one).status_code == 200
    body = {"entity": "contact", "label": "X", "type": "text"}
    assert_error(rep.post("/custom-fields", json=body), 403, "forbidden")
    assert_error(rep.patch(one, json={"label": "Y"}), 403, "forbidden")
    assert_error(rep.delete(one), 403, "forbidden")
    _, _, viewer_token = factory.member(ws, role="viewer")
    assert_error(Api(client, ws, token=viewer_token).get("/custom-fields"), 403, "forbidden")
    _, _, admin_token = factory.member(ws, role="admin")
    admin = Api(client, ws, token=admin_token)
    assert admin.patch(one, json={"label": "Y"}).status_code == 200
    assert admin.delete(one).status_code == 204


def test_plan_limit_is_exact_and_deleting_frees_a_place(
    client: FlaskClient, factory: Factory, app: Flask
) -> None:
    tf = factory.tenant("cfcap")  # Free: 5 custom fields, across contacts, companies, deals
    api = Api(client, tf)
    spec = api.get("/openapi.json").get_json()
    fields = [define(api, ("contact", "company", "deal")[n % 3], f"f{n}", "text") for n in range(5)]
    refused = api.post("/custom-fields", json={"entity": "deal", "label": "Sixth", "type": "text"})
    details = assert_error(refused, 402, "plan_limit_exceeded")
    assert details == {"limit": "custom_fields", "used": 5, "max": 5, "plan": "free"}
    check_response(spec, "/api/v1/custom-fields", "post", refused)
    assert len(_keys(api)) == 5
    usage = api.get("/usage").get_json()["limits"]["custom_fields"]
    assert usage == {"used": 5, "max": 5}
    assert api.delete(f"/custom-fields/{fields[0]['id']}").status_code == 204
    assert counters(app, tf)["custom_fields"] == 4
    define(api, "deal", "sixth", "text")
    assert counters(app, tf)["custom_fields"] == 5


def test_reconciliation_counts_the_definitions(api: Api, app: Flask, ws: TenantFixture) -> None:
    define(api, "contact", "tier", "text")
    define(api, "deal", "tier", "text")
    set_counter(app, ws, "custom_fields", 40)
    with tenant_session(app, ws) as session:
        drift = reconcile_tenant(session)
    assert (drift["custom_fields"].recorded, drift["custom_fields"].actual) == (40, 2)
    assert counters(app, ws)["custom_fields"] == 2


def _contact_values(app: Flask, tf: TenantFixture) -> dict[str, dict[str, Any]]:
    with tenant_session(app, tf) as session:
        rows = session.execute(select(Contact.first_name, Contact.custom_fields)).all()
    return {name: dict(values) for name, values in rows}


def test_deleting_a_field_removes_its_values_everywhere(
    api: Api, app: Flask, ws: TenantFixture
) -> None:
    tier = define(api, "contact", "tier", "text")
    define(api, "contact", "score", "number")
    define(api, "company", "tier", "text")
    for n in range(3):
        api.create(first_name=f"P{n}", custom_fields={"tier": f"t{n}", "score": n})
    api.create(first_name="Q", custom_fields={"score": 9})
    company = api.post("/companies", json={"name": "Acme", "custom_fields": {"tier": "gold"}})
    assert company.status_code == 201, company.get_json()
    with tenant_session(app, ws) as session:
        before = session.scalars(select(Contact.updated_at).order_by(Contact.id)).all()
    assert api.delete(f"/custom-fields/{tier['id']}").status_code == 204
    assert _contact_values(app, ws) == {
        "P0": {"score": 0}, "P1": {"score": 1}, "P2": {"score": 2}, "Q": {"score": 9},
    }  # fmt: skip
    assert api.get(f"/companies/{company.get_json()['id']}").get_json()["custom_fields"] == {
        "tier": "gold"
    }
    with tenant_session(app, ws) as session:
        after = session.scalars(select(Contact.updated_at).order_by(Contact.id)).all()
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "custom_field", AuditEntry.action == "deleted"
            )
        ).one()
    assert after == before  # nobody edited the contacts
    assert entry.changes["records_changed"] == [None, 3]
    assert entry.changes["key"] == ["tier", None]
    # The key is free again, with another type; no old value comes back.
    define(api, "contact", "tier", "number")
    assert all("tier" not in values for values in _contact_values(app, ws).values())


def test_removing_options_clears_them_and_a_case_change_renames(
    api: Api, app: Flask, ws: TenantFixture
) -> None:
    single = define(api, "contact", "tier", "single_select", options=["Gold", "silver", "Bronze"])
    define(api, "contact", "tags2", "multi_select", options=["a", "b", "c"])
    multi_id = api.get("/custom-fields", query_string={"entity": "contact"}).get_json()["items"][1][
        "id"
    ]
    rows = {
        "P1": {"tier": "Gold", "tags2": ["a", "b"]},
        "P2": {"tier": "silver", "tags2": ["b"]},
        "P3": {"tier": "Bronze", "tags2": ["a", "c"]},
    }
    for name, values in rows.items():
        api.create(first_name=name, custom_fields=values)
    response = api.patch(
        f"/custom-fields/{single['id']}", json={"options": ["Silver", "Bronze", "Platinum"]}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["options"] == ["Silver", "Bronze", "Platinum"]
    assert api.patch(f"/custom-fields/{multi_id}", json={"options": ["a", "c"]}).status_code == 200
    assert _contact_values(app, ws) == {
        "P1": {"tags2": ["a"]},
        "P2": {"tier": "Silver"},
        "P3": {"tier": "Bronze", "tags2": ["a", "c"]},
    }
    with tenant_session(app, ws) as session:
        entries = session.scalars(
            select(AuditEntry.changes)
            .where(AuditEntry.entity == "custom_field", AuditEntry.action == "updated")
            .order_by(AuditEntry.id)
        ).all()
    assert entries[0]["records_changed"] == [None, 2]  # P1 lost Gold, P2 renamed
    assert entries[1]["records_changed"] == [None, 2]  # P1 and P2 lost "b"
