"""The tenant registry (public schema)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import DateTime, Enum, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, PublicBase, Timestamp


class TenantStatus(enum.StrEnum):
    """Lifecycle of a workspace. Nothing but ``active`` serves tenant data."""

    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


# Statuses whose schema holds live data: served (suspended ones read-only notice),
# migrated, walked by fleet jobs. Provisioning and deleted tenants are none of these.
LIVE_STATUSES = (TenantStatus.ACTIVE, TenantStatus.SUSPENDED)


class MigrationState(enum.StrEnum):
    """Outcome of the last fleet migration attempt on this tenant's schema."""

    OK = "ok"
    FAILED = "failed"


class Tenant(PublicBase):
    """One customer company and its workspace; its data lives in ``schema_name``."""

    __tablename__ = "tenants"

    id: Mapped[BigId]
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Derived once from ``id`` at provisioning (tenants.naming) and never changed.
    schema_name: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[TenantStatus] = mapped_column(
        Enum(TenantStatus, name="tenant_status", values_callable=lambda e: [m.value for m in e]),
        default=TenantStatus.PROVISIONING,
    )
    plan: Mapped[str] = mapped_column(String(40), default="free", server_default="free")
    # The catalog version of ``plan`` (billing.plans): kept until the tenant is moved.
    plan_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Operator-set caps that replace the plan's (limit name -> cap, null = unlimited).
    limit_overrides: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # Per-tenant Alembic revision, so that `crm db status` answers in one query.
    schema_version: Mapped[str | None] = mapped_column(String(64))
    migration_state: Mapped[MigrationState] = mapped_column(
        Enum(
            MigrationState, name="migration_state", values_callable=lambda e: [m.value for m in e]
        ),
        default=MigrationState.OK,
        server_default=MigrationState.OK.value,
    )
    migration_error: Mapped[str | None] = mapped_column(Text)
    # Set for a trial of ``plan`` (e.g. the 14-day Pro trial at signup): when it passes
    # without a paid subscription, the tenant falls back to Free (data kept).
    trial_ends_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Tenant admins may require two-factor sign-in from every member.
    require_two_factor: Mapped[bool] = mapped_column(default=False, server_default="false")
    migrated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=text("now()"))

    __table_args__ = (Index("ix_tenants_schema_version", "schema_version"),)

    @property
    def is_active(self) -> bool:
        """Whether the workspace serves its users."""
        return self.status == TenantStatus.ACTIVE

    def __repr__(self) -> str:
        return f"<Tenant {self.id} {self.slug!r} {self.status}>"
