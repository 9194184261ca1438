"""Signup requests (public schema): one row per submitted signup form.

The row exists before the tenant does, so the progress page has something to poll and
a failed provisioning leaves a clear record (and never half a tenant: provisioning is
one transaction).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, DateTime, Enum, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, PublicBase, Timestamp


class SignupStatus(enum.StrEnum):
    """Where a signup is: queued, being provisioned, ready to enter, or failed."""

    PENDING = "pending"
    PROVISIONING = "provisioning"
    READY = "ready"
    FAILED = "failed"


class Signup(PublicBase):
    """A submitted signup form and the outcome of provisioning it."""

    __tablename__ = "signups"

    id: Mapped[BigId]
    # SHA-256 of the secret in the progress page's URL.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[SignupStatus] = mapped_column(
        Enum(SignupStatus, name="signup_status", values_callable=lambda e: [m.value for m in e]),
        default=SignupStatus.PENDING,
    )
    company_name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(40))
    owner_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    # The owner's argon2id hash, kept only until the workspace exists (the password
    # itself never reaches the task queue).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    plan: Mapped[str] = mapped_column(String(40))
    trial: Mapped[bool] = mapped_column(default=False, server_default="false")
    ip_address: Mapped[str | None] = mapped_column(String(64))
    tenant_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("public.tenants.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("public.users.id", ondelete="SET NULL")
    )
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Timestamp]
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # A slug is held by an unfinished signup, so two people can not both be told
        # "it's yours" for the same address.
        Index(
            "uq_signups_open_slug",
            func.lower(slug),
            unique=True,
            postgresql_where=text("status IN ('pending', 'provisioning')"),
        ),
        # The per-IP rate limit counts recent signups from one address.
        Index("ix_signups_ip_created", "ip_address", "created_at"),
    )
