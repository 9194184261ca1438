"""Audit entries, written by services in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, PublicBase, TenantBase, Timestamp


class AuditEntry(TenantBase):
    """Who changed what in a workspace, with the changed fields."""

    __tablename__ = "audit_entries"

    id: Mapped[BigId]
    # Platform user id; no foreign key into ``public`` (see app.database).
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[Timestamp]

    __table_args__ = (Index("ix_audit_entries_entity", "entity", "entity_id"),)


class PlatformAuditEntry(PublicBase):
    """Platform-level actions (tenant created, suspended, operator created, ...)."""

    __tablename__ = "platform_audit"

    id: Mapped[BigId]
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[Timestamp]
