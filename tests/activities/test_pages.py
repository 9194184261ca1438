"""Activity pages: logging from a card, the full form, editing, deleting, my tasks."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask

from app.activities.services import end_of_today
from tests.activities.conftest import load_activity, seed, set_timezone
from tests.web.conftest import Browser, text_of, visible_text


def test_log_a_call_from_the_contact_card_and_come_back(app: Flask, owner: Browser) -> None:
    contact = owner.create_contact(first_name="Ada")
    card = text_of(owner.get(f"/contacts/{contact}"))
    assert "Log an activity or add a task" in card and 'name="type" value="call"' in card
    response = owner.submit(
        f"/contacts/{contact}",
        {
            "type": "call",
            "subject": "Intro call",
            "occurred_at": "2024-05-01T10:00",
            "next": f"/contacts/{contact}",
        },
        action=f"/activities/new?contact_id={contact}",
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/contacts/{contact}"
    )
    assert "Owner called" in visible_text(text_of(owner.get(f"/contacts/{contact}")))


def test_the_form_keeps_typed_values_and_shows_field_errors(app: Flask, owner: Browser) -> None:
    contact = owner.create_contact(first_name="Ada")
    form = f"/activities/new?contact_id={contact}"
    cases = [
        ({"type": "call", "subject": "", "body": "kept text"}, "Give a subject."),
        (
            {
                "type": "meeting",
                "subject": "Demo",
                "occurred_at": "2024-05-01T10:00",
                "ends_at": "2024-05-01T09:00",
            },
            "Must be after the start.",
        ),
        ({"type": "call", "subject": "C", "duration_minutes": "-1"}, "Number must be between"),
        ({"type": "call", "subject": "C", "occurred_at": "not a time"}, "Not a valid datetime"),
        ({"type": "task", "subject": "T", "assignee_id": "987654321"}, "Not an active member"),
    ]
    for data, message in cases:
        response = owner.submit(form, {**data, "body": data.get("body", "kept text")})
        html = text_of(response)
        assert response.status_code == 400, html[:2000]
        assert message in html, (message, visible_text(html)[:1500])
        assert "kept text" in html
    # A contact out of reach is refused on the form, never a server error.
    response = owner.submit("/activities/new?contact_id=987654321", {"type": "note", "body": "x"})
    assert response.status_code == 400 and "Not found, or not visible to you." in text_of(response)


def test_edit_and_delete_with_confirmation(app: Flask, owner: Browser) -> None:
    contact = owner.create_contact(first_name="Ada")
    activity = seed(app, owner.tf, "activity", type="note", subject="Old", contact_id=contact)
    page = owner.get(f"/activities/{activity}/edit")
    assert page.status_code == 200 and 'value="Old"' in text_of(page)
    saved = owner.submit(f"/activities/{activity}/edit", {"type": "note", "subject": "New"})
    assert saved.status_code == 302, text_of(saved)[:2000]
    assert load_activity(app, owner.tf, activity).subject == "New"  # type: ignore[union-attr]
    confirm = owner.get(f"/activities/{activity}/delete")
    assert confirm.status_code == 200 and "Delete this activity?" in text_of(confirm)
    gone = owner.submit(f"/activities/{activity}/delete", {})
    assert gone.status_code == 302 and load_activity(app, owner.tf, activity) is None
    assert owner.get(f"/activities/{activity}/edit").status_code == 404


def test_pages_of_activities_out_of_scope_are_not_found(app: Flask, factory, client) -> None:
    from tests.web.conftest import sign_in_as

    tf = factory.tenant("pg", plan="pro")
    _, rep_email, _ = factory.member(tf, role="sales_rep")
    activity = seed(app, tf, "activity", type="note", subject="Private")
    rep = sign_in_as(app, tf, rep_email)
    assert rep.get(f"/activities/{activity}/edit").status_code == 404
    assert rep.get(f"/activities/{activity}/delete").status_code == 404
    page = rep.get("/tasks")
    assert page.status_code == 200 and "Private" not in text_of(page)


def test_my_tasks_buckets_follow_the_members_time_zone(app: Flask, owner: Browser) -> None:
    now = dt.datetime.now(dt.UTC)
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", None):
        set_timezone(app, owner.tf.owner_id, zone)
        from app.activities.services import zone_of

        boundary = end_of_today(zone_of(zone), now)
        tasks = {
            "overdue": now - dt.timedelta(minutes=30),
            "today": boundary - dt.timedelta(minutes=1),
            "upcoming": boundary + dt.timedelta(minutes=1),
        }
        ids = {
            key: seed(
                app,
                owner.tf,
                "activity",
                subject=f"{key}-{zone}",
                assignee_id=owner.tf.owner_id,
                due_at=due,
            )
            for key, due in tasks.items()
            if key != "today" or due > now
        }
        html = text_of(owner.get("/tasks"))
        for key, task_id in ids.items():
            section = re.search(rf'id="{key}".*?</section>', html, re.S)
            assert section and f'id="task-{task_id}"' in section.group(0), (zone, key)
    assert "Tasks" in html and "nav-count" in html


def test_mark_done_with_a_result_and_reopen(app: Flask, owner: Browser) -> None:
    contact = owner.create_contact(first_name="Ada")
    task = seed(
        app,
        owner.tf,
        "activity",
        subject="Call Ada",
        assignee_id=owner.tf.owner_id,
        contact_id=contact,
    )
    done = owner.submit(
        "/tasks",
        {"result_note": "She said yes", "next": "/tasks"},
        action=f"/activities/{task}/complete",
    )
    assert done.status_code == 302
    stored = load_activity(app, owner.tf, task)
    assert stored is not None and stored.done and stored.result_note == "She said yes"
    html = text_of(owner.get("/tasks"))
    assert 'id="done"' in html and "She said yes" in html and "Ada" in html
    reopened = owner.submit("/tasks", {"next": "/tasks"}, action=f"/activities/{task}/reopen")
    assert reopened.status_code == 302
    assert load_activity(app, owner.tf, task).done is False  # type: ignore[union-attr]
    bad = owner.submit("/tasks", {"result_note": "\x01"}, action=f"/activities/{task}/complete")
    assert bad.status_code == 400
