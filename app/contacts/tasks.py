"""Background work on contacts."""

from __future__ import annotations

from sqlalchemy import func, select

from app.contacts.models import Contact
from app.database import db
from app.tasks import TenantTask, celery_app
from tenants.context import require_tenant


@celery_app.task(base=TenantTask, name="contacts.count")
def count_contacts() -> dict[str, int]:
    """Count the bound tenant's contacts (used by usage reconciliation and health checks
    of the worker path: it proves a worker process reads the right schema)."""
    tenant = require_tenant()
    total = db.session.scalar(select(func.count()).select_from(Contact)) or 0
    return {"tenant_id": tenant.id, "contacts": int(total)}
