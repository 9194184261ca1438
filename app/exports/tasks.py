"""Background work of exports: writing an export's file, and sweeping old files.

``exports.run`` is a tenant task: it carries the tenant id in its headers (sent from a
request bound to the workspace) and runs bound to it, so every query of the export reads
that workspace's schema and nothing else. ``exports.sweep`` (Celery beat, hourly) walks
the live tenants, each in its own session bound to it, deleting files past their expiry
and failing jobs that were lost on the way.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from app.database import db
from app.exports.services import run_export, sweep_tenant
from app.tasks import FlaskTask, TenantTask, celery_app
from tenants.context import tenant_context

log = logging.getLogger(__name__)

RUN_TASK = "exports.run"
SWEEP_TASK = "exports.sweep"


@celery_app.task(base=TenantTask, name=RUN_TASK)
def run_export_task(export_id: int) -> dict[str, Any]:
    """Write the file of export ``export_id`` of the bound tenant."""
    job = run_export(db.session, export_id)
    if job is None:
        return {"export_id": export_id, "status": "skipped"}
    return {"export_id": export_id, "status": job.status, "rows": job.rows_written}


def sweep_fleet() -> dict[int, dict[str, int]]:
    """:func:`app.exports.services.sweep_tenant` for every live tenant, each in its own
    session bound to it; one tenant's failure is logged and the others still run."""
    from tenants.fleet import iter_live_tenants

    results: dict[int, dict[str, int]] = {}
    for ref in iter_live_tenants(db.engine):
        with tenant_context(ref), Session(db.engine) as session:
            try:
                results[ref.id] = sweep_tenant(session)
            except Exception:
                session.rollback()
                log.exception("export sweep failed tenant_id=%s", ref.id)
    return results


@celery_app.task(base=FlaskTask, name=SWEEP_TASK)
def sweep_exports() -> dict[str, Any]:
    """Beat entry point: expired export files and lost jobs, fleet-wide."""
    results = sweep_fleet()
    return {str(tid): counts for tid, counts in results.items() if any(counts.values())}
