"""The import task: runs one job of the tenant named in its message headers.

Acknowledged late: if the worker dies mid-import, the broker delivers the message
again and the new run takes the job over once the dead run's heartbeat is stale,
continuing after the last committed chunk (see :func:`app.imports.services.run`). An
unexpected error fails the job (resumable from the page or the API) instead of
leaving it "running" for ever; it is logged with the tenant and job ids.
"""

from __future__ import annotations

import logging

from flask_babel import gettext as _

from app.database import db
from app.imports import services
from app.tasks import TenantTask, celery_app
from tenants.context import require_tenant

log = logging.getLogger(__name__)


@celery_app.task(base=TenantTask, name="imports.run", acks_late=True)
def run_import(job_id: int) -> str | None:
    """Import job ``job_id`` of the bound tenant; returns its status afterwards."""
    try:
        return services.run(db.session, job_id)
    except Exception:
        log.exception("import failed tenant_id=%s job_id=%s", require_tenant().id, job_id)
        services.fail(
            db.session,
            job_id,
            "unexpected",
            _("The import stopped on an unexpected error. Start it again to continue."),
        )
        return "failed"
