"""The activities API: writing through the services, validation, scope, filters."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.timeline.models import TimelineEvent
from tests.activities.conftest import load_activity, seed
from tests.api.conftest import Api, assert_error, tenant_session
from tests.conftest import Factory

CALL = {
    "type": "call",
    "subject": "Intro call",
    "occurred_at": "2024-05-01T10:00:00+02:00",
    "direction": "outbound",
    "duration_seconds": 720,
    "outcome": "reached",
}


def test_create_call_links_the_contacts_company_and_writes_audit_and_timeline(
    app: Flask, api: Api
) -> None:
    company = seed(app, api.tf, "company")
    contact = seed(app, api.tf, "contact", company_id=company)
    response = api.post("/activities", json={**CALL, "contact_id": contact})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["contact_id"] == contact and body["company_id"] == company
    assert body["deal_id"] is None and body["owner_id"] == api.tf.owner_id
    assert body["occurred_at"].startswith("2024-05-01T08:00:00")
    assert response.headers["Location"].endswith(f"/api/v1/activities/{body['id']}")
    with tenant_session(app, api.tf) as session:
        events = session.scalars(
            select(TimelineEvent).where(TimelineEvent.activity_id == body["id"])
        ).all()
        assert [(e.kind, e.contact_id, e.company_id) for e in events] == [
            ("activity", contact, company)
        ]
        assert events[0].data["type"] == "call" and events[0].data["duration_seconds"] == 720
        audit = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "activity", AuditEntry.entity_id == body["id"]
            )
        ).all()
        assert [a.action for a in audit] == ["created"]
    assert api.get(f"/activities/{body['id']}").get_json() == body


def test_bad_input_is_a_validation_error_naming_the_field(app: Flask, api: Api) -> None:
    contact = seed(app, api.tf, "contact")
    cases: list[tuple[dict[str, Any], str]] = [
        ({**CALL, "occurred_at": "2024-05-01T10:00:00"}, "occurred_at"),  # naive
        ({**CALL, "occurred_at": "yesterday"}, "occurred_at"),
        (
            {
                "type": "meeting",
                "subject": "Demo",
                "occurred_at": "2024-05-01T10:00:00Z",
                "ends_at": "2024-05-01T09:00:00Z",
            },
            "ends_at",
        ),
        ({"type": "note", "body": "x", "direction": "inbound"}, "direction"),
        ({**CALL, "duration_seconds": -1}, "duration_seconds"),
        ({**CALL, "duration_seconds": 86401}, "duration_seconds"),
        ({**CALL, "direction": "sideways"}, "direction"),
        ({**CALL, "subject": ""}, "subject"),  # calls need a subject
        ({"type": "task"}, "subject"),
        ({"type": "task", "subject": "x" * 301}, "subject"),
        ({"type": "note", "body": "x" * 20001}, "body"),
        ({"type": "meeting", "subject": "M", "attendees": ["a"] * 51}, "attendees"),
        ({"type": "meeting", "subject": "M", "attendees": "bob"}, "attendees"),
        ({"type": "task", "subject": "T", "priority": "urgent"}, "priority"),
        ({"type": "task", "subject": "T", "assignee_id": 987654321}, "assignee_id"),
        ({"type": "note", "body": "x", "contact_id": 987654321}, "contact_id"),
        ({"type": "note", "body": "x", "contact_id": "1"}, "contact_id"),
        ({"type": "note", "body": "x", "due_at": "2024-05-01T10:00:00Z"}, "due_at"),
        ({"type": "fax"}, "type"),
        ({"type": "note", "colour": "red"}, "colour"),
        ({"type": "call", "subject": "\x00"}, "subject"),
    ]
    for body, field in cases:
        assert_error(api.post("/activities", json=body), 400, "validation_error", field)
    assert api.get("/activities").get_json()["items"] == []
    assert contact  # seeded, never linked


def test_records_of_another_tenant_or_out_of_scope_are_refused_alike(
    app: Flask, client: FlaskClient, two_tenants: Any, factory: Factory
) -> None:
    a, b = two_tenants
    # Ids are per workspace: B's records get ids that A does not have.
    for _ in range(3):
        seed(app, b, "contact")
        seed(app, b, "deal")
    foreign_deal = seed(app, b, "deal")
    foreign_contact = seed(app, b, "contact")
    owners_contact = seed(app, a, "contact")
    assert foreign_contact != owners_contact
    rep_id, _, rep_token = factory.member(a, role="sales_rep")
    rep = Api(client, a, token=rep_token)
    owner = Api(client, a)
    for api, body, field in [
        (owner, {"type": "note", "body": "x", "deal_id": foreign_deal}, "deal_id"),
        (owner, {"type": "note", "body": "x", "contact_id": foreign_contact}, "contact_id"),
        (rep, {"type": "note", "body": "x", "contact_id": owners_contact}, "contact_id"),
    ]:
        details = assert_error(api.post("/activities", json=body), 400, "validation_error", field)
        assert details[field] == ["Not found, or not visible to you."]
    mine = seed(app, a, "contact", owner_id=rep_id)
    assert (
        rep.post("/activities", json={"type": "note", "body": "x", "contact_id": mine}).status_code
        == 201
    )


def test_scope_owner_and_assignee(
    app: Flask, client: FlaskClient, two_tenants: Any, factory: Factory
) -> None:
    a, b = factory.tenant("team", plan="pro"), two_tenants[1]
    rep_id, _, rep_token = factory.member(a, role="sales_rep")
    _, _, other_token = factory.member(a, role="sales_rep")
    viewer_id, _, viewer_token = factory.member(a, role="viewer")
    owner, rep, other = Api(client, a), Api(client, a, rep_token), Api(client, a, other_token)
    viewer = Api(client, a, viewer_token)
    # The owner hands a task to the rep: the rep sees it and completes it.
    task = owner.post(
        "/activities", json={"type": "task", "subject": "Call back", "assignee_id": rep_id}
    ).get_json()
    note = owner.post("/activities", json={"type": "note", "body": "private"}).get_json()
    assert [i["id"] for i in rep.get("/activities").get_json()["items"]] == [task["id"]]
    assert rep.get(f"/activities/{note['id']}").status_code == 404
    assert other.get(f"/activities/{task['id']}").status_code == 404
    assert other.post(f"/activities/{task['id']}/complete").status_code == 404
    assert rep.delete(f"/activities/{task['id']}").status_code == 403
    done = rep.post(f"/activities/{task['id']}/complete", json={"result_note": "Reached her"})
    assert done.status_code == 200 and done.get_json()["done"] is True
    assert done.get_json()["result_note"] == "Reached her" and done.get_json()["done_at"]
    # Viewers see everything and change nothing.
    assert viewer.get(f"/activities/{note['id']}").status_code == 200
    assert_error(viewer.post("/activities", json={"type": "note", "body": "x"}), 403, "forbidden")
    assert_error(viewer.patch(f"/activities/{note['id']}", json={"body": "y"}), 403, "forbidden")
    # Another tenant sees none of it.
    assert Api(client, b).get(f"/activities/{task['id']}").status_code == 404
    assert Api(client, b).delete(f"/activities/{task['id']}").status_code == 404
    assert viewer_id


def test_complete_reopen_patch_delete(app: Flask, api: Api) -> None:
    contact = seed(app, api.tf, "contact")
    task = api.post(
        "/activities",
        json={
            "type": "task",
            "subject": "Send offer",
            "contact_id": contact,
            "due_at": "2030-01-01T09:00:00Z",
        },
    ).get_json()
    assert task["assignee_id"] == api.tf.owner_id and task["priority"] == "normal"
    path = f"/activities/{task['id']}"
    assert api.post(f"{path}/complete", json={"result_note": "Sent"}).get_json()["done"] is True
    again = api.post(f"{path}/complete", json={"result_note": "Other"}).get_json()
    assert again["result_note"] == "Sent"  # a repeated click changes nothing
    reopened = api.post(f"{path}/reopen").get_json()
    assert reopened["done"] is False and reopened["done_at"] is None
    patched = api.patch(path, json={"done": True, "subject": "Send the offer", "priority": "high"})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["done"] is True and patched.get_json()["priority"] == "high"
    assert_error(api.patch(path, json={"type": "call"}), 400, "validation_error", "type")
    assert_error(
        api.patch(path, json={"due_at": "2030-01-01T09:00:00"}), 400, "validation_error", "due_at"
    )
    note = api.post("/activities", json={"type": "note", "body": "hi"}).get_json()
    assert_error(api.post(f"/activities/{note['id']}/complete"), 400, "validation_error", "type")
    assert_error(
        api.patch(f"/activities/{note['id']}", json={"direction": "inbound"}),
        400,
        "validation_error",
        "direction",
    )
    with tenant_session(app, api.tf) as session:
        kinds = [
            (e.data.get("action"))
            for e in session.scalars(
                select(TimelineEvent)
                .where(TimelineEvent.contact_id == contact)
                .order_by(TimelineEvent.id)
            )
        ]
    assert kinds == ["created", "completed", "reopened", "updated", "completed"]
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert load_activity(app, api.tf, task["id"]) is None
    with tenant_session(app, api.tf) as session:
        last = session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.contact_id == contact)
            .order_by(TimelineEvent.id.desc())
        ).first()
        assert last is not None and last.data["action"] == "deleted"


def test_list_filters_sorting_paging_and_refusals(app: Flask, api: Api) -> None:
    contact = seed(app, api.tf, "contact")
    ids = []
    for i in range(5):
        ids.append(
            api.post(
                "/activities",
                json={
                    "type": "task",
                    "subject": f"T{i}",
                    "due_at": f"2030-01-0{i + 1}T09:00:00Z",
                    "contact_id": contact if i % 2 else None,
                },
            ).get_json()["id"]
        )
    api.post("/activities", json={"type": "note", "body": "n"})
    api.post(f"/activities/{ids[0]}/complete")

    def listed(**query: Any) -> list[int]:
        response = api.get("/activities", query_string=query)
        assert response.status_code == 200, response.get_json()
        return [i["id"] for i in response.get_json()["items"]]

    assert listed(type="task", sort="due_at") == ids
    assert listed(contact_id=contact, sort="-due_at") == [ids[3], ids[1]]
    assert listed(done="true") == [ids[0]]
    assert listed(type="task", done="false", sort="due_at") == ids[1:]
    assert listed(due_before="2030-01-03T00:00:00Z", sort="due_at") == ids[:2]
    assert listed(due_after="2030-01-04T09:00:00+00:00", sort="due_at") == ids[3:]
    assert listed(assignee_id=api.tf.owner_id, type="task", sort="-due_at") == ids[::-1]
    seen: list[int] = []
    cursor = None
    while True:
        query = {
            "type": "task",
            "sort": "due_at",
            "limit": 2,
            **({"cursor": cursor} if cursor else {}),
        }
        body = api.get("/activities", query_string=query).get_json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    for query, field in [
        ({"colour": "red"}, "colour"),
        ({"due_before": "2030-01-01T00:00:00"}, "due_before"),
        ({"done": "maybe"}, "done"),
        ({"type": "fax"}, "type"),
        ({"sort": "subject"}, "sort"),
        ({"cursor": "nope"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"contact_id": "x"}, "contact_id"),
    ]:
        assert_error(api.get("/activities", query_string=query), 400, "validation_error", field)
