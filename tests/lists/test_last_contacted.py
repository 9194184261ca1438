"""``last_contacted_at`` of contacts and companies, kept by the activity services:
calls, meetings and emails count (not tasks or notes), and every change of such an
activity (logging, moving, re-timing, deleting) recomputes it exactly."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from app.companies.models import Company
from app.contacts.models import Contact
from tests.api.conftest import tenant_session
from tests.lists.conftest import Team, contacts, ids, seed


def _iso(stamp: dt.datetime) -> str:
    return stamp.isoformat()


def _times(app: Flask, team: Team, contact_ids: list[int], company_ids: list[int]) -> Any:
    with tenant_session(app, team.tf) as session:
        return (
            [session.get(Contact, i).last_contacted_at for i in contact_ids],  # type: ignore[union-attr]
            [session.get(Company, i).last_contacted_at for i in company_ids],  # type: ignore[union-attr]
        )


def test_logged_contact_moves_the_date_and_deleting_it_moves_it_back(
    team: Team, app: Flask
) -> None:
    company = seed(app, team.tf, Company, [{"name": "Initech"}])[0]
    ann, bob = contacts(
        app, team.tf, [{"first_name": "Ann", "company_id": company}, {"first_name": "Bob"}]
    )
    before = _times(app, team, [ann, bob], [company])
    assert before == ([None, None], [None])
    t1 = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    t2 = dt.datetime(2026, 4, 2, 14, 0, tzinfo=dt.UTC)

    def log(kind: str, contact: int, when: dt.datetime, **extra: Any) -> int:
        body = {"type": kind, "subject": kind, "contact_id": contact, "occurred_at": _iso(when)}
        response = team.api.post("/activities", json={**body, **extra})
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["id"])

    call = log("call", ann, t1)
    # The contact's company was contacted too (the call lands on its card as well).
    assert _times(app, team, [ann, bob], [company]) == ([t1, None], [t1])
    email = log("email", ann, t2)
    assert _times(app, team, [ann, bob], [company]) == ([t2, None], [t2])
    # Notes and tasks are not contact with the client.
    log("note", ann, t2 + dt.timedelta(days=5))
    task = team.api.post(
        "/activities", json={"type": "task", "subject": "Follow up", "contact_id": ann}
    ).get_json()
    assert team.api.post(f"/activities/{task['id']}/complete").status_code == 200
    assert team.api.post(f"/activities/{task['id']}/reopen").status_code == 200
    assert _times(app, team, [ann], [company]) == ([t2], [t2])
    # Deleting the latest one goes back to the one before.
    assert team.api.delete(f"/activities/{email}").status_code == 204
    assert _times(app, team, [ann], [company]) == ([t1], [t1])
    # Re-timing and moving a call recompute both records.
    earlier = t1 - dt.timedelta(days=30)
    assert (
        team.api.patch(f"/activities/{call}", json={"occurred_at": _iso(earlier)}).status_code
        == 200
    )
    assert _times(app, team, [ann], [company]) == ([earlier], [earlier])
    moved = team.api.patch(f"/activities/{call}", json={"contact_id": bob, "company_id": None})
    assert moved.status_code == 200, moved.get_json()
    assert _times(app, team, [ann, bob], [company]) == ([None, earlier], [None])
    assert team.api.delete(f"/activities/{call}").status_code == 204
    assert _times(app, team, [ann, bob], [company]) == ([None, None], [None])


def test_logging_a_call_leaves_the_records_updated_at_alone(team: Team, app: Flask) -> None:
    ann = contacts(app, team.tf, [{"first_name": "Ann"}])[0]
    with tenant_session(app, team.tf) as session:
        changed_before = session.get(Contact, ann).updated_at  # type: ignore[union-attr]
    response = team.api.post(
        "/activities", json={"type": "meeting", "subject": "Demo", "contact_id": ann}
    )
    assert response.status_code == 201, response.get_json()
    with tenant_session(app, team.tf) as session:
        contact = session.get(Contact, ann)
        assert contact is not None
        assert contact.updated_at == changed_before
        assert contact.last_contacted_at is not None


def test_the_list_filter_and_the_api_show_it(team: Team, app: Flask) -> None:
    ann, bob = contacts(app, team.tf, [{"first_name": "Ann"}, {"first_name": "Bob"}])
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    response = team.api.post(
        "/activities",
        json={"type": "call", "subject": "Hello", "contact_id": ann, "occurred_at": _iso(recent)},
    )
    assert response.status_code == 201
    listed = ids(team.api.get("/contacts", query_string={"not_contacted_days": "7"}))
    assert listed == [bob]
    one = team.api.get(f"/contacts/{ann}").get_json()
    assert dt.datetime.fromisoformat(one["last_contacted_at"]) == recent
    assert team.api.get(f"/contacts/{bob}").get_json()["last_contacted_at"] is None
