"""Operator accounts (public schema)."""

from __future__ import annotations

from sqlalchemy import Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, PublicBase, Timestamp


class Operator(PublicBase):
    """A platform operator. Never a tenant user: separate table, separate login."""

    __tablename__ = "operators"

    id: Mapped[BigId]
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    created_at: Mapped[Timestamp]

    __table_args__ = (Index("uq_operators_email_lower", func.lower(email), unique=True),)
