"""Bulk edits through the API: each action, scope per record, counters, audit and
timeline, refusals that change nothing, chunking and the background path."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.companies.models import Company
from app.contacts.models import Contact
from app.deals.models import Deal
from app.lists import bulk
from app.timeline.models import TimelineEvent
from billing.models import UsageCounter
from tests.api.conftest import assert_error, tenant_session
from tests.lists.conftest import Team, contacts, seed


def _tags(app: Flask, team: Team, model: Any = Contact) -> dict[int, list[str]]:
    with tenant_session(app, team.tf) as session:
        return {r.id: list(r.tags) for r in session.scalars(select(model))}


def _used_contacts(app: Flask, team: Team) -> int:
    with tenant_session(app, team.tf) as session:
        used = session.scalar(select(UsageCounter.used).where(UsageCounter.resource == "contacts"))
        return int(used or 0)


def test_add_and_remove_a_tag_by_ids_and_by_filter(team: Team, app: Flask) -> None:
    a, b, c = contacts(
        app,
        team.tf,
        [{"first_name": "A", "tags": ["VIP"]}, {"first_name": "B"}, {"first_name": "C"}],
    )
    response = team.api.post(
        "/contacts/bulk", json={"action": "add_tag", "tag": " vip ", "ids": [a, b, 10**12]}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "done"
    assert (body["total"], body["changed"], body["unchanged"], body["not_allowed"]) == (2, 1, 1, 0)
    assert response.headers["Location"].endswith(f"/api/v1/bulk-edits/{body['id']}")
    assert team.api.get(f"/bulk-edits/{body['id']}").get_json() == body
    assert _tags(app, team) == {a: ["VIP"], b: ["vip"], c: []}  # "vip" was there as "VIP"
    response = team.api.post(
        "/contacts/bulk", json={"action": "remove_tag", "tag": "VIP", "filter": {"tag": "vip"}}
    )
    assert response.get_json()["changed"] == 2, response.get_json()
    assert _tags(app, team) == {a: [], b: [], c: []}
    with tenant_session(app, team.tf) as session:
        audits = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "contact").order_by(AuditEntry.id)
        ).all()
        assert [(e.entity_id, e.action, e.changes) for e in audits if e.entity_id] == [
            (b, "updated", {"tags": [[], ["vip"]]}),
            (a, "updated", {"tags": [["VIP"], []]}),
            (b, "updated", {"tags": [["vip"], []]}),
        ]
        summaries = [e.changes for e in audits if e.action == "bulk_edit"]
        assert [s["action"] for s in summaries] == ["add_tag", "remove_tag"]
        events = session.scalars(
            select(TimelineEvent).where(TimelineEvent.contact_id == b).order_by(TimelineEvent.id)
        ).all()
        assert [(e.kind, e.data) for e in events] == [
            ("updated", {"changes": {"tags": [[], ["vip"]]}}),
            ("updated", {"changes": {"tags": [["vip"], []]}}),
        ]


def test_assign_owner_reuses_the_ownership_checks(team: Team, app: Flask) -> None:
    company_ids = seed(app, team.tf, Company, [{"name": "X"}, {"name": "Y", "owner_id": None}])
    response = team.api.post(
        "/companies/bulk",
        json={"action": "assign_owner", "owner_id": team.rep_id, "filter": {"name_contains": ""}},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["changed"] == 2
    with tenant_session(app, team.tf) as session:
        owners = set(session.scalars(select(Company.owner_id).where(Company.id.in_(company_ids))))
        assert owners == {team.rep_id}
        event = session.scalars(
            select(TimelineEvent).where(TimelineEvent.company_id == company_ids[1])
        ).one()
        assert event.data == {"changes": {"owner_id": [None, team.rep_id]}}
    # Not a member, or (for a sales rep) anyone but themselves: refused, nothing changes.
    for api, owner_id in ((team.api, 987654321), (team.rep, team.tf.owner_id)):
        refused = api.post(
            "/companies/bulk",
            json={"action": "assign_owner", "owner_id": owner_id, "ids": company_ids},
        )
        assert_error(refused, 400, "validation_error", "owner_id")
    unassigned = team.api.post(
        "/companies/bulk", json={"action": "assign_owner", "owner_id": None, "ids": company_ids}
    )
    assert unassigned.get_json()["changed"] == 2


def test_a_sales_rep_can_not_bulk_delete_others_records(team: Team, app: Flask) -> None:
    theirs = contacts(app, team.tf, [{"first_name": "Owner's"} for _ in range(3)])
    mine = contacts(app, team.tf, [{"first_name": "Rep's", "owner_id": team.rep_id}])
    with tenant_session(app, team.tf) as session:
        session.execute(
            UsageCounter.__table__.update()
            .where(UsageCounter.resource == "contacts")
            .values(used=4)
        )
        session.commit()
    by_ids = team.rep.post("/contacts/bulk", json={"action": "delete", "ids": theirs + mine})
    body = by_ids.get_json()
    # Out of the rep's view scope: not even counted; their own one goes.
    assert (body["total"], body["changed"], body["not_allowed"]) == (1, 1, 0), body
    with tenant_session(app, team.tf) as session:
        left = set(session.scalars(select(Contact.id)))
    assert left == set(theirs)
    assert _used_contacts(app, team) == 3


def test_records_visible_but_not_editable_are_counted_and_left_alone(
    team: Team, app: Flask, client: Any, factory: Any
) -> None:
    from app.access.builtin import BUILTIN_ROLES
    from app.access.policy import Actor
    from tests.api.conftest import Api

    _, _, viewer_token = factory.member(team.tf, role="viewer")
    viewer = Api(client, team.tf, token=viewer_token)
    others = contacts(app, team.tf, [{"first_name": "V"}])
    assert_error(
        viewer.post("/contacts/bulk", json={"action": "add_tag", "tag": "x", "filter": {}}),
        403,
        "forbidden",
    )
    # A role that sees every contact but edits only its own (custom roles can): the
    # others are counted as not allowed and left alone.
    permissions = dict(BUILTIN_ROLES["sales_rep"]["permissions"])
    permissions["contacts"] = {**permissions["contacts"], "view": "all"}
    actor = Actor(user_id=team.rep_id, role_key="custom", permissions=permissions)
    own = contacts(app, team.tf, [{"first_name": "R", "owner_id": team.rep_id}])
    with tenant_session(app, team.tf) as session:
        job = bulk.start_bulk_edit(
            session, actor, "contact", {"action": "add_tag", "tag": "x", "filter": {}}
        )
        assert (job.total, job.changed, job.not_allowed) == (2, 1, 1)
    assert _tags(app, team) == {own[0]: ["x"], others[0]: []}


def test_deleting_deals_and_companies(team: Team, app: Flask) -> None:
    contact = contacts(app, team.tf, [{"first_name": "Buyer"}])[0]
    deal_ids = seed(app, team.tf, Deal, [{"title": "D1", "contact_id": contact}, {"title": "D2"}])
    response = team.api.post("/deals/bulk", json={"action": "delete", "ids": deal_ids})
    assert response.get_json()["changed"] == 2
    with tenant_session(app, team.tf) as session:
        assert session.scalar(select(func.count()).select_from(Deal)) == 0
        events = session.scalars(
            select(TimelineEvent).where(TimelineEvent.contact_id == contact)
        ).all()
        assert [(e.kind, e.entity, e.data) for e in events] == [
            ("deleted", "deal", {"title": "D1"})
        ]
        deleted = session.scalars(
            select(AuditEntry.entity_id).where(
                AuditEntry.entity == "deal", AuditEntry.action == "deleted"
            )
        ).all()
        assert sorted(deleted) == sorted(deal_ids)
    companies = seed(app, team.tf, Company, [{"name": "Gone", "tags": ["old"]}])
    response = team.api.post("/companies/bulk", json={"action": "delete", "filter": {"tag": "old"}})
    assert response.get_json()["changed"] == 1
    with tenant_session(app, team.tf) as session:
        assert session.get(Company, companies[0]) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "explode", "ids": [1]}, "action"),
        ({"action": "add_tag", "ids": [1]}, "tag"),
        ({"action": "add_tag", "tag": "a,b", "ids": [1]}, "tag"),
        ({"action": "add_tag", "tag": "x" * 51, "ids": [1]}, "tag"),
        ({"action": "assign_owner", "ids": [1]}, "owner_id"),
        ({"action": "delete"}, "ids"),
        ({"action": "delete", "ids": [1], "filter": {}}, "ids"),
        ({"action": "delete", "ids": []}, "ids"),
        ({"action": "delete", "ids": [0]}, "ids"),
        ({"action": "delete", "ids": list(range(1, bulk.MAX_IDS + 2))}, "ids"),
        ({"action": "delete", "filter": {"created_days": "x"}}, "filter.created_days"),
        ({"action": "delete", "filter": {"limit": "5"}}, "filter.limit"),
        ({"action": "delete", "segment_id": 10**9}, "segment_id"),
        ({"action": "delete", "ids": [1], "colour": "red"}, "colour"),
    ],
)
def test_refusals_change_nothing(team: Team, app: Flask, body: dict[str, Any], field: str) -> None:
    contacts(app, team.tf, [{"first_name": "Stays", "tags": ["a"]}])
    assert_error(team.api.post("/contacts/bulk", json=body), 400, "validation_error", field)
    with tenant_session(app, team.tf) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1
        assert session.scalar(select(func.count()).select_from(bulk.BulkEdit)) == 0


def test_a_segment_selection_and_another_members_edit(team: Team, app: Flask) -> None:
    contacts(app, team.tf, [{"first_name": "Seg", "tags": ["s"]}, {"first_name": "No"}])
    segment = team.api.post(
        "/segments", json={"entity": "contact", "name": "S", "filters": {"tag": "s"}}
    ).get_json()
    done = team.api.post(
        "/contacts/bulk", json={"action": "add_tag", "tag": "t", "segment_id": segment["id"]}
    ).get_json()
    assert (done["total"], done["changed"]) == (1, 1)
    # The rep may not use the owner's private segment, nor follow the owner's edit.
    assert_error(
        team.rep.post(
            "/contacts/bulk", json={"action": "add_tag", "tag": "t", "segment_id": segment["id"]}
        ),
        400,
        "validation_error",
        "segment_id",
    )
    assert_error(team.rep.get(f"/bulk-edits/{done['id']}"), 404, "not_found")
    assert_error(
        team.api.post(
            "/deals/bulk", json={"action": "add_tag", "tag": "t", "segment_id": segment["id"]}
        ),
        400,
        "validation_error",
        "segment_id",
    )


def test_large_edits_run_in_chunks_in_the_background(
    team: Team, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the synchronous limit the edit is queued (202) and run by the task, chunk by
    chunk; with no broker (tests) Celery runs it inside the request."""
    monkeypatch.setattr(bulk, "SYNC_LIMIT", 5)
    monkeypatch.setattr(bulk, "CHUNK", 3)
    made = contacts(app, team.tf, [{"first_name": f"L{n}", "tags": ["big"]} for n in range(8)])
    response = team.api.post("/contacts/bulk", json={"action": "delete", "filter": {"tag": "big"}})
    assert response.status_code == 202, response.get_json()
    job = team.api.get(response.headers["Location"].split("/api/v1", 1)[1]).get_json()
    assert (job["status"], job["total"], job["processed"], job["changed"]) == ("done", 8, 8, 8)
    assert job["percent"] == 100
    with tenant_session(app, team.tf) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
        stored = session.get(bulk.BulkEdit, job["id"])
        assert stored is not None and stored.last_id == max(made)


@pytest.mark.redis
def test_a_real_worker_runs_a_large_edit_that_the_page_polls(
    team: Team,
    app: Flask,
    database_url: str,
    redis_url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through Redis: the edit is queued (202), a separate ``celery worker`` process runs
    it bound to this workspace, and polling shows it done."""
    import time

    from app.tasks import celery_app
    from tests.api.conftest import Api
    from tests.support.worker import real_worker

    monkeypatch.setattr(bulk, "SYNC_LIMIT", 5)
    made = contacts(app, team.tf, [{"first_name": f"W{n}", "tags": ["w"]} for n in range(8)])
    with real_worker(app, database_url, redis_url, tmp_path) as run:
        sender, log = run.sender, run.log
        with sender.app_context():
            assert not celery_app.conf.task_always_eager
            api = Api(sender.test_client(), team.tf)
            started = api.post(
                "/contacts/bulk", json={"action": "add_tag", "tag": "done", "filter": {"tag": "w"}}
            )
            assert started.status_code == 202, started.get_json()
            assert started.get_json()["status"] == "queued"
            path = started.headers["Location"].split("/api/v1", 1)[1]
            deadline = time.monotonic() + 60
            state = started.get_json()
            while state["status"] in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.3)
                state = api.get(path).get_json()
            assert (state["status"], state["changed"]) == ("done", 8), (state, log.read_text())
    assert set(_tags(app, team)) == set(made)
    assert all(tags == ["w", "done"] for tags in _tags(app, team).values())
