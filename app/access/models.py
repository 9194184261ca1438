"""Role table (one per tenant schema)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, TenantBase, Timestamp


class Role(TenantBase):
    """A named set of permissions: resource -> action -> scope."""

    __tablename__ = "roles"

    id: Mapped[BigId]
    # Memberships (public) refer to roles by this key, not by id.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    is_builtin: Mapped[bool] = mapped_column(default=False, server_default="false")
    permissions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    field_rules: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[Timestamp]
