"""Background team work: retiring invitations that expired and giving their seats back."""

from __future__ import annotations

from typing import Any

from app.database import db
from app.identity.members import sweep_expired_invitations
from app.tasks import FlaskTask, celery_app

SWEEP_TASK = "identity.sweep_expired_invitations"


@celery_app.task(base=FlaskTask, name=SWEEP_TASK)
def sweep_invitations() -> dict[str, Any]:
    """Revoke invitations expired for more than a day, per tenant (each in its own
    session, bound to it), releasing their seats; returns how many per tenant."""
    swept = sweep_expired_invitations(db.engine)
    return {"swept": {str(tenant_id): count for tenant_id, count in swept.items() if count}}
