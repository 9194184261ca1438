"""Saved segments through the API: who sees and changes them, what their records are
(their filters within the viewer's own scope), and refusals."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.lists.models import Segment
from tests.api.conftest import Api, assert_error, tenant_session
from tests.conftest import Factory
from tests.lists.conftest import Team, contacts, define, ids


def _segment(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"entity": "contact", "name": "Hot", "filters": {"tag": "hot"}, **fields}
    response = api.post("/segments", json=body)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/segments/{created['id']}")
    return created


def test_create_read_update_delete(team: Team, app: Flask) -> None:
    created = _segment(
        team.api,
        name="  Hot   leads ",
        filters={"tag_any": "Hot, warm", "owner_id": "ME", "not_contacted_days": 30},
        sort="-last_contacted_at",
    )
    assert created["name"] == "Hot leads"
    assert created["filters"] == {
        "tag_any": "Hot,warm",
        "owner_id": "me",
        "not_contacted_days": "30",
    }
    assert created["sort"] == "-last_contacted_at"
    assert created["shared"] is False and created["editable"] is True
    assert created["owner_id"] == team.tf.owner_id
    sid = created["id"]
    assert team.api.get(f"/segments/{sid}").get_json() == created
    patched = team.api.patch(f"/segments/{sid}", json={"shared": True, "filters": {"tag": "hot"}})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["shared"] is True
    assert patched.get_json()["filters"] == {"tag": "hot"}
    assert patched.get_json()["name"] == "Hot leads"  # untouched
    listed = team.api.get("/segments", query_string={"entity": "contact"}).get_json()
    assert [s["id"] for s in listed["items"]] == [sid]
    assert team.api.get("/segments", query_string={"entity": "deal"}).get_json()["items"] == []
    assert team.api.delete(f"/segments/{sid}").status_code == 204
    assert_error(team.api.get(f"/segments/{sid}"), 404, "not_found")
    with tenant_session(app, team.tf) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "segment").order_by(AuditEntry.id)
        ).all()
    assert actions == ["created", "updated", "deleted"]


def test_private_segments_are_their_owners_and_shared_ones_everyones(team: Team) -> None:
    private = _segment(team.api, name="Mine")
    shared = _segment(team.api, name="Ours", shared=True)
    assert_error(team.rep.get(f"/segments/{private['id']}"), 404, "not_found")
    assert_error(team.rep.get(f"/segments/{private['id']}/items"), 404, "not_found")
    assert_error(team.rep.patch(f"/segments/{private['id']}", json={"name": "x"}), 404, "not_found")
    seen = team.rep.get("/segments").get_json()["items"]
    assert [s["id"] for s in seen] == [shared["id"]]
    assert seen[0]["editable"] is False
    # Only the owner (or an admin) changes a shared segment.
    assert_error(team.rep.patch(f"/segments/{shared['id']}", json={"name": "x"}), 403, "forbidden")
    assert_error(team.rep.delete(f"/segments/{shared['id']}"), 403, "forbidden")
    # The rep's own segments are theirs alone, even with the same name.
    own = _segment(team.rep, name="Mine")
    assert own["editable"] is True
    assert_error(team.api.get(f"/segments/{own['id']}"), 404, "not_found")


def test_an_admin_edits_a_shared_segment_but_sees_no_private_one(
    team: Team, client: FlaskClient, factory: Factory
) -> None:
    _, _, admin_token = factory.member(team.tf, role="admin")
    admin = Api(client, team.tf, token=admin_token)
    shared = _segment(team.rep, name="Team list", shared=True)
    private = _segment(team.rep, name="Rep's own")
    renamed = admin.patch(f"/segments/{shared['id']}", json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["owner_id"] == team.rep_id  # still the rep's
    assert_error(admin.get(f"/segments/{private['id']}"), 404, "not_found")
    assert admin.delete(f"/segments/{shared['id']}").status_code == 204


def test_a_shared_segment_never_shows_records_out_of_the_viewers_scope(
    team: Team, app: Flask
) -> None:
    owners = contacts(app, team.tf, [{"first_name": "O", "tags": ["hot"]}])
    reps = contacts(app, team.tf, [{"first_name": "R", "tags": ["hot"], "owner_id": team.rep_id}])
    contacts(app, team.tf, [{"first_name": "Cold", "owner_id": team.rep_id}])
    shared = _segment(team.api, filters={"tag": "hot"}, shared=True)
    assert sorted(ids(team.api.get(f"/segments/{shared['id']}/items"))) == sorted(owners + reps)
    assert ids(team.rep.get(f"/segments/{shared['id']}/items")) == reps
    # "me" means whoever looks.
    mine = _segment(team.api, name="My hot", filters={"tag": "hot", "owner_id": "me"}, shared=True)
    assert ids(team.api.get(f"/segments/{mine['id']}/items")) == owners
    assert ids(team.rep.get(f"/segments/{mine['id']}/items")) == reps


def test_items_follow_the_segment_order_and_pages(team: Team, app: Flask) -> None:
    made = contacts(app, team.tf, [{"first_name": n, "tags": ["t"]} for n in ("Cy", "Al", "Bo")])
    segment = _segment(team.api, filters={"tag": "t"}, sort="first_name")
    first = team.api.get(f"/segments/{segment['id']}/items", query_string={"limit": "2"})
    body = first.get_json()
    assert [c["first_name"] for c in body["items"]] == ["Al", "Bo"]
    rest = team.api.get(
        f"/segments/{segment['id']}/items",
        query_string={"limit": "2", "cursor": body["next_cursor"]},
    ).get_json()
    assert [c["first_name"] for c in rest["items"]] == ["Cy"] and rest["next_cursor"] is None
    desc = team.api.get(f"/segments/{segment['id']}/items", query_string={"sort": "-first_name"})
    assert ids(desc) == [made[0], made[2], made[1]]
    assert_error(
        team.api.get(f"/segments/{segment['id']}/items", query_string={"tag": "x"}),
        400,
        "validation_error",
        "tag",
    )


def test_segments_of_companies_and_deals_answer_their_records(team: Team) -> None:
    company = team.api.post("/companies", json={"name": "Initech", "tags": ["a"]}).get_json()
    deal = team.api.post("/deals", json={"title": "Big", "amount": "10.00"}).get_json()
    companies = _segment(team.api, entity="company", name="A", filters={"tag": "a"})
    deals = _segment(team.api, entity="deal", name="Open", filters={"status": "open"})
    items = team.api.get(f"/segments/{companies['id']}/items").get_json()["items"]
    assert [c["id"] for c in items] == [company["id"]] and "contact_count" in items[0]
    items = team.api.get(f"/segments/{deals['id']}/items").get_json()["items"]
    assert [d["id"] for d in items] == [deal["id"]] and items[0]["amount"] == "10.00"


def test_refusals(team: Team, app: Flask, client: FlaskClient, factory: Factory) -> None:
    _segment(team.api, name="Taken")
    for body, field in (
        ({"entity": "contact", "name": "TAKEN"}, "name"),
        ({"entity": "contact", "name": ""}, "name"),
        ({"entity": "contact", "name": "x" * 101}, "name"),
        ({"entity": "lead", "name": "x"}, "entity"),
        ({"name": "x"}, "entity"),
        ({"entity": "contact", "name": "x", "filters": {"tag": ""}, "shared": "maybe"}, "shared"),
        ({"entity": "contact", "name": "x", "filters": {"nope": "1"}}, "filters.nope"),
        (
            {"entity": "contact", "name": "x", "filters": {"created_days": "0"}},
            "filters.created_days",
        ),
        ({"entity": "contact", "name": "x", "filters": {"sort": "last_name"}}, "filters.sort"),
        ({"entity": "contact", "name": "x", "filters": {"tag": ["a"]}}, "filters.tag"),
        ({"entity": "contact", "name": "x", "filters": "tag=a"}, "filters"),
        ({"entity": "contact", "name": "x", "sort": "shoe_size"}, "sort"),
        ({"entity": "contact", "name": "x", "owner_id": 5}, "owner_id"),
    ):
        assert_error(team.api.post("/segments", json=body), 400, "validation_error", field)
    with tenant_session(app, team.tf) as session:
        assert session.scalar(select(Segment.id).where(Segment.name != "Taken")) is None
    deal = _segment(team.api, entity="deal", name="Deals")
    assert_error(
        team.api.patch(f"/segments/{deal['id']}", json={"entity": "contact"}),
        400,
        "validation_error",
        "entity",
    )


def test_a_segment_naming_a_removed_custom_field_says_so(team: Team, app: Flask) -> None:
    define(app, team.tf, "contact", "region", "text")
    segment = _segment(team.api, filters={"cf.region": "north"})
    fields = team.api.get("/custom-fields").get_json()["items"]
    field_id = next(f["id"] for f in fields if f["key"] == "region")
    assert team.api.delete(f"/custom-fields/{field_id}").status_code == 204
    assert_error(
        team.api.get(f"/segments/{segment['id']}/items"), 400, "validation_error", "cf.region"
    )
