"""Reminders before a card-less trial ends: mailed by the hourly beat task to the owner,
through a real SMTP server, once per trial."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import insert, select

from app.audit.models import PlatformAuditEntry
from app.database import db
from app.tasks import celery_app
from billing.models import BillingSubscription
from billing.tasks import TRIAL_REMINDERS_TASK, send_trial_reminders
from billing.trials import REMINDER_ACTION
from tests.billing.conftest import set_plan
from tests.conftest import Factory
from tests.support.smtp import SmtpSink


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _run(app: Flask) -> int:
    with app.app_context():
        sent = send_trial_reminders.delay().get()
        db.session.remove()
    return int(sent)


def _reminders(app: Flask, tenant_id: int) -> list[dict[str, str]]:
    with app.app_context():
        rows = db.session.scalars(
            select(PlatformAuditEntry.details).where(
                PlatformAuditEntry.tenant_id == tenant_id,
                PlatformAuditEntry.action == REMINDER_ACTION,
            )
        ).all()
        db.session.remove()
    return list(rows)


def test_the_reminder_is_scheduled_hourly(app: Flask) -> None:
    assert TRIAL_REMINDERS_TASK in celery_app.tasks
    scheduled = [entry["task"] for entry in celery_app.conf.beat_schedule.values()]
    assert TRIAL_REMINDERS_TASK in scheduled


def test_an_owner_is_reminded_once_three_days_before_the_trial_ends(
    app: Flask, factory: Factory, smtp_sink: SmtpSink
) -> None:
    tf = factory.tenant("trial", plan="pro")
    ends = _now() + dt.timedelta(days=2)
    set_plan(app, tf, trial_ends_at=ends)

    assert _run(app) >= 1
    mail = smtp_sink.wait_for(tf.owner_email)[0]
    assert "Pro trial ends soon" in mail.subject
    assert ends.strftime("%Y-%m-%d") in mail.text
    assert any(link.endswith("/settings/billing") and tf.host in link for link in mail.links())

    # Later runs (the next hours) send nothing more for the same trial.
    _run(app)
    _run(app)
    assert len(smtp_sink.to(tf.owner_email)) == 1
    assert [r["trial_ends_at"] for r in _reminders(app, tf.tenant.id)] == [
        ends.replace(microsecond=0).isoformat()
    ]

    # An extended trial is reminded again before its new end.
    set_plan(app, tf, trial_ends_at=ends + dt.timedelta(hours=12))
    _run(app)
    assert len(smtp_sink.wait_for(tf.owner_email, count=2)) == 2


def test_no_reminder_too_early_after_the_end_or_with_a_subscription(
    app: Flask, factory: Factory, smtp_sink: SmtpSink
) -> None:
    early = factory.tenant("trial", plan="pro")
    set_plan(app, early, trial_ends_at=_now() + dt.timedelta(days=10))
    ended = factory.tenant("trial", plan="pro")
    set_plan(app, ended, trial_ends_at=_now() - dt.timedelta(hours=1))
    subscribed = factory.tenant("trial", plan="pro")
    set_plan(app, subscribed, trial_ends_at=_now() + dt.timedelta(days=1))
    with app.app_context():
        db.session.execute(
            insert(BillingSubscription).values(
                tenant_id=subscribed.tenant.id,
                stripe_customer_id=f"cus_{subscribed.slug}",
                status="active",
                plan="pro",
                plan_version=1,
            )
        )
        db.session.commit()
        db.session.remove()
    # A tenant that is due, run in the same pass: proves the pass ran and mailed.
    due = factory.tenant("trial", plan="pro")
    set_plan(app, due, trial_ends_at=_now() + dt.timedelta(days=1))

    _run(app)
    smtp_sink.wait_for(due.owner_email)
    for quiet in (early, ended, subscribed):
        assert smtp_sink.to(quiet.owner_email) == []
        assert _reminders(app, quiet.tenant.id) == []
