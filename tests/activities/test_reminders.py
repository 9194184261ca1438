"""Reminders and overdue notices: mailed once, to the right people, per tenant."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import Flask

from app.activities import tasks as reminder_tasks
from tests.activities.conftest import load_activity, seed
from tests.conftest import Factory
from tests.support.smtp import SmtpSink


def _run(app: Flask) -> Any:
    with app.app_context():
        return reminder_tasks.send_task_reminders.delay().get()


def test_reminders_and_overdue_notices_are_sent_exactly_once(
    app: Flask, factory: Factory, smtp_sink: SmtpSink
) -> None:
    tf = factory.tenant("rem", plan="pro")
    other = factory.tenant("rem2")
    rep_id, rep_email, _ = factory.member(tf, role="sales_rep")
    now = dt.datetime.now(dt.UTC)
    remind = seed(
        app,
        tf,
        "activity",
        subject="Prepare demo",
        assignee_id=rep_id,
        remind_at=now - dt.timedelta(minutes=1),
        due_at=now + dt.timedelta(hours=2),
    )
    overdue = seed(
        app,
        tf,
        "activity",
        subject="Send contract",
        assignee_id=rep_id,
        due_at=now - dt.timedelta(hours=1),
    )
    later = seed(
        app,
        tf,
        "activity",
        subject="Later",
        assignee_id=rep_id,
        remind_at=now + dt.timedelta(hours=1),
        due_at=now + dt.timedelta(days=1),
    )
    done = seed(
        app,
        tf,
        "activity",
        subject="Done already",
        assignee_id=rep_id,
        done=True,
        due_at=now - dt.timedelta(hours=1),
        remind_at=now - dt.timedelta(hours=2),
    )
    own = seed(
        app,
        other,
        "activity",
        subject="Own overdue",
        assignee_id=other.owner_id,
        due_at=now - dt.timedelta(minutes=5),
    )
    before_rep = len(smtp_sink.to(rep_email))
    before_owner = len(smtp_sink.to(tf.owner_email))
    result = _run(app)
    assert result[str(tf.tenant.id)] == {"reminded": 1, "overdue": 1}
    assert result[str(other.tenant.id)] == {"reminded": 0, "overdue": 1}
    rep_mail = smtp_sink.wait_for(rep_email, before_rep + 2)
    subjects = sorted(m.subject for m in rep_mail[before_rep:])
    assert subjects == ["Overdue: Send contract", "Reminder: Prepare demo"]
    owner_mail = smtp_sink.wait_for(tf.owner_email, before_owner + 1)[before_owner:]
    assert [m.subject for m in owner_mail] == ["Overdue: Send contract"]
    assert "/tasks" in " ".join(owner_mail[0].links())
    assert smtp_sink.wait_for(other.owner_email, 1)[-1].subject == "Overdue: Own overdue"
    # Marked in the same transaction; nothing else touched.
    assert load_activity(app, tf, remind).reminded_at is not None  # type: ignore[union-attr]
    assert load_activity(app, tf, overdue).overdue_notified_at is not None  # type: ignore[union-attr]
    assert load_activity(app, tf, later).reminded_at is None  # type: ignore[union-attr]
    assert load_activity(app, tf, done).overdue_notified_at is None  # type: ignore[union-attr]
    assert own
    # A second run sends nothing more.
    again = _run(app)
    assert str(tf.tenant.id) not in again
    time.sleep(0.3)
    assert len(smtp_sink.to(rep_email)) == before_rep + 2
    assert len(smtp_sink.to(tf.owner_email)) == before_owner + 1


def test_a_new_due_time_makes_the_overdue_notice_due_again(
    app: Flask, factory: Factory, smtp_sink: SmtpSink, client: Any
) -> None:
    from tests.api.conftest import Api

    tf = factory.tenant("rem3")
    api = Api(client, tf)
    now = dt.datetime.now(dt.UTC)
    task = api.post(
        "/activities",
        json={
            "type": "task",
            "subject": "Chase",
            "due_at": (now - dt.timedelta(hours=1)).isoformat(),
        },
    ).get_json()
    _run(app)
    assert len(smtp_sink.wait_for(tf.owner_email, 1)) == 1
    api.patch(
        f"/activities/{task['id']}", json={"due_at": (now - dt.timedelta(minutes=1)).isoformat()}
    )
    _run(app)
    assert len(smtp_sink.wait_for(tf.owner_email, 2)) == 2


def test_a_tenant_run_is_bounded(app: Flask, factory: Factory, monkeypatch: Any) -> None:
    tf = factory.tenant("rem4")
    now = dt.datetime.now(dt.UTC)
    for i in range(3):
        seed(
            app,
            tf,
            "activity",
            subject=f"T{i}",
            assignee_id=tf.owner_id,
            due_at=now - dt.timedelta(minutes=i + 1),
        )
    monkeypatch.setattr(reminder_tasks, "BATCH", 2)
    assert _run(app)[str(tf.tenant.id)] == {"reminded": 0, "overdue": 2}
    assert _run(app)[str(tf.tenant.id)] == {"reminded": 0, "overdue": 1}
    assert str(tf.tenant.id) not in _run(app)
