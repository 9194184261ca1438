"""The Celery application, bound to the Flask app.

With no broker configured (the embedded default) tasks run eagerly in-process; with
``REDIS_URL`` (or ``CELERY_BROKER_URL``) they go through Redis to ``celery worker``.
Tasks that touch tenant data use ``base=TenantTask``.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from app.database import db
from tenants import celery as tenant_celery
from tenants.context import TenantRef
from tenants.models import LIVE_STATUSES, Tenant

celery_app = Celery("crm")

# Periodic work run by ``celery beat``.
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Nightly, off-peak: recount usage counters from the rows (billing.limits).
    "billing-reconcile-usage-nightly": {
        "task": "billing.reconcile_usage",
        "schedule": crontab(hour=3, minute=15),
    },
    # Daily: invitations expired for more than a day give their seats back.
    "identity-sweep-expired-invitations-daily": {
        "task": "identity.sweep_expired_invitations",
        "schedule": crontab(hour=3, minute=45),
    },
    # Every minute: task reminders and overdue notices (app.activities.tasks).
    "activities-task-reminders-every-minute": {
        "task": "activities.send_task_reminders",
        "schedule": crontab(),
    },
    # Hourly: owners of card-less trials ending within three days are reminded (once per
    # trial; billing.trials).
    "billing-trial-reminders-hourly": {
        "task": "billing.send_trial_reminders",
        "schedule": crontab(minute=5),
    },
    # Hourly: export files past their day are deleted, lost export jobs failed.
    "exports-sweep-hourly": {
        "task": "exports.sweep",
        "schedule": crontab(minute=25),
    },
}


def task_flask_app() -> Flask:
    """The Flask app a task runs in: the sender's when run eagerly in-process (there is
    an app context), else the one the worker process was started with."""
    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return app
    worker_app: Flask = celery_app.flask_app
    return worker_app


class FlaskTask(Task):
    """Runs inside a fresh Flask app context, so each task gets its own DB session."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with task_flask_app().app_context():
            return self.run(*args, **kwargs)


class TenantTask(tenant_celery.TenantTaskMixin, FlaskTask):
    """A task on one tenant's data: carries the tenant id, runs bound to it."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            tenant_celery.require_bound_tenant(self.name)
            return super().__call__(*args, **kwargs)
        except BaseException:
            # An eager task that raises skips task_postrun; unbind here so the sender's
            # context gets its own binding back. (Otherwise the binding must outlive
            # this call: a chain's next tenant task is sent before task_postrun.)
            if self.request.is_eager:
                tenant_celery.unbind_task(self)
            raise


def _lookup_tenant(tenant_id: int) -> TenantRef | None:
    """The live tenant a task message names, read from the platform registry."""
    with task_flask_app().app_context(), db.engine.connect() as conn:
        row = conn.execute(
            select(Tenant.id, Tenant.slug, Tenant.schema_name).where(
                Tenant.id == tenant_id,
                Tenant.status.in_(LIVE_STATUSES),
            )
        ).first()
    if row is None or row.schema_name is None:
        return None
    return TenantRef(id=row.id, slug=row.slug, schema_name=row.schema_name)


def _forget_connections(celery: Celery) -> None:
    """Drop the broker pool, result backend and routing built for earlier settings.

    Celery builds these lazily and caches them on the app; ``init_celery`` may run again
    with other settings (one process, several Flask apps: tests, tools), and must not
    keep talking to the previous broker or backend.
    """
    celery._pool = None
    celery.__dict__.pop("amqp", None)
    celery._backend_cache = None
    celery._local = threading.local()


def init_celery(app: Flask) -> Celery:
    """Configure the Celery app from Flask settings and attach it to ``app``."""
    broker = app.config.get("CELERY_BROKER_URL")
    celery_app.conf.update(
        broker_url=broker or "memory://",
        result_backend=app.config.get("CELERY_RESULT_BACKEND") or broker or None,
        task_always_eager=not broker,
        task_eager_propagates=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_queue=app.config.get("CELERY_TASK_QUEUE") or "crm",
        beat_schedule=BEAT_SCHEDULE,
        timezone="UTC",
    )
    _forget_connections(celery_app)
    celery_app.Task = FlaskTask
    celery_app.flask_app = app
    tenant_celery.connect(celery_app, _lookup_tenant)
    app.extensions["celery"] = celery_app
    # Task modules register themselves on import.
    from app.activities import tasks as _activity_tasks  # noqa: F401
    from app.contacts import tasks as _contact_tasks  # noqa: F401
    from app.exports import tasks as _export_tasks  # noqa: F401
    from app.identity import invitation_tasks as _invitation_tasks  # noqa: F401
    from app.imports import tasks as _import_tasks  # noqa: F401
    from app.lists import tasks as _list_tasks  # noqa: F401
    from app.mail import tasks as _mail_tasks  # noqa: F401
    from app.signup import tasks as _signup_tasks  # noqa: F401
    from billing import tasks as _billing_tasks  # noqa: F401

    return celery_app
