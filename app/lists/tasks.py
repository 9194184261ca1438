"""Background work of lists: large bulk edits (see :mod:`app.lists.bulk`)."""

from __future__ import annotations

from app.database import db
from app.lists import bulk
from app.lists.models import BulkEdit
from app.tasks import TenantTask, celery_app

RUN_BULK_EDIT_TASK = "lists.run_bulk_edit"


@celery_app.task(base=TenantTask, name=RUN_BULK_EDIT_TASK, acks_late=True)
def run_bulk_edit_task(job_id: int) -> dict[str, int | str]:
    """Run (or, delivered again after a worker died, go on with) bulk edit ``job_id``
    of the bound workspace; returns its counts."""
    bulk.run_bulk_edit(db.session, job_id)
    job = db.session.get(BulkEdit, job_id)
    if job is None:
        return {"id": job_id, "status": "missing"}
    return {"id": job_id, "status": job.status, "changed": job.changed}
