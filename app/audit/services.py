"""Writing audit rows. Called by services inside their own transaction."""

from __future__ import annotations

from typing import Any

from app.audit.models import AuditEntry, PlatformAuditEntry
from app.database import DbSession


def record(
    session: DbSession,
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: int | None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Add a tenant audit entry to the caller's transaction."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            changes=changes or {},
        )
    )


def record_platform(
    session: DbSession,
    *,
    actor: str,
    action: str,
    tenant_id: int | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Add a platform audit entry to the caller's transaction."""
    session.add(
        PlatformAuditEntry(
            actor=actor, action=action, tenant_id=tenant_id, reason=reason, details=details or {}
        )
    )
