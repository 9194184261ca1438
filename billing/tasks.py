"""Background billing work: the nightly reconciliation of usage counters."""

from __future__ import annotations

from typing import Any

from app.database import db
from app.tasks import FlaskTask, celery_app
from billing.limits import reconcile_all

RECONCILE_TASK = "billing.reconcile_usage"


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
