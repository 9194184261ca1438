"""Background billing work: the nightly reconciliation of usage counters, the
processing of Stripe webhook events, and the reminders before card-less trials end."""

from __future__ import annotations

import logging
from typing import Any

import stripe
from celery import Task

from app.database import db
from app.tasks import FlaskTask, celery_app
from billing import subscriptions, trials
from billing.limits import reconcile_all
from billing.stripe_gateway import gateway

log = logging.getLogger(__name__)

RECONCILE_TASK = "billing.reconcile_usage"
TRIAL_REMINDERS_TASK = "billing.send_trial_reminders"
PROCESS_EVENT_TASK = "billing.process_stripe_event"
# Retries of an event whose subscription could not be read (Stripe down, rate limit).
MAX_RETRIES = 6


@celery_app.task(base=FlaskTask, name=TRIAL_REMINDERS_TASK)
def send_trial_reminders() -> int:
    """Mail owners whose card-less trial ends within three days (once per trial);
    returns how many were mailed. Platform data only: no tenant is bound."""
    return trials.send_trial_reminders(db.session)


@celery_app.task(base=FlaskTask, name=RECONCILE_TASK)
def reconcile_usage() -> dict[str, Any]:
    """Recount every live tenant's usage counters (each tenant in its own session) and
    fix drift; returns what was found."""
    report = reconcile_all(db.engine)
    return {
        "tenants": report.tenants,
        "drift": {
            str(tenant_id): {d.resource: [d.recorded, d.actual] for d in drift.values()}
            for tenant_id, drift in report.drift.items()
        },
        "failed": {str(tenant_id): error for tenant_id, error in report.failed.items()},
    }


# No result is kept: nobody waits for one, and with a Redis result backend each send
# would otherwise also subscribe to the result's channel (a round trip per webhook).
@celery_app.task(
    base=FlaskTask,
    name=PROCESS_EVENT_TASK,
    bind=True,
    max_retries=MAX_RETRIES,
    ignore_result=True,
)
def process_stripe_event(self: Task, event_id: str, event_type: str, refs: dict[str, Any]) -> None:
    """Apply a stored Stripe event (``billing.subscriptions.process_event``). Platform
    data only (public schema), so no tenant is bound. When Stripe can not be read, the
    error is noted on the event and the task retries with backoff (through a broker;
    run eagerly, the event stays unprocessed with its error, for Stripe's own
    redelivery or an operator)."""
    session = db.session
    try:
        subscriptions.process_event(
            session, gateway(), event_id, event_type, subscriptions.EventRefs(**refs)
        )
    except stripe.StripeError as exc:
        log.warning("stripe event %s: reading the subscription failed: %s", event_id, exc)
        subscriptions.record_failure(session, event_id, f"{type(exc).__name__}: {exc}")
        if not self.request.is_eager:
            raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc
    except Exception as exc:
        log.exception("stripe event %s could not be processed", event_id)
        subscriptions.record_failure(session, event_id, f"{type(exc).__name__}: {exc}")
        if not self.request.is_eager:
            raise
