"""Billing tables: usage counters (one table per tenant schema), kept exact by
``billing.limits``; and, in ``public``, each tenant's Stripe subscription and the
webhook events received from Stripe."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database import PublicBase, TenantBase, Timestamp


class UsageCounter(TenantBase):
    """One row per counted resource (``billing.plans.COUNTED``).

    Creating a capped record moves ``used`` up with a conditional ``UPDATE`` in the
    creating transaction; deleting one moves it down; the nightly reconciliation resets
    it from ``COUNT(*)``.
    """

    __tablename__ = "usage_counters"

    resource: Mapped[str] = mapped_column(Text, primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[Timestamp]

    __table_args__ = (CheckConstraint("used >= 0", name="used_not_negative"),)

    def __repr__(self) -> str:
        return f"<UsageCounter {self.resource}={self.used}>"


class BillingSubscription(PublicBase):
    """A tenant's Stripe customer and the last known state of its subscription.

    One row per tenant (platform schema): created with the Stripe customer, before any
    subscription exists (``status`` null), then overwritten by the webhook handler with
    what Stripe answers when the subscription is read again. It is a cache of Stripe's
    truth, never edited by hand: access and limits follow it (``billing.state``).
    """

    __tablename__ = "billing_subscriptions"

    tenant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("public.tenants.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Stripe's subscription status (trialing, active, past_due, unpaid, canceled, ...).
    status: Mapped[str | None] = mapped_column(String(32))
    plan: Mapped[str | None] = mapped_column(String(40))
    plan_version: Mapped[int | None] = mapped_column(Integer)
    interval: Mapped[str | None] = mapped_column(String(8))
    current_period_end: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False, server_default="false")
    trial_end: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The newest ``created`` of the events that led to a re-read (for support: which
    # event was the last to touch this row).
    last_event_created: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=text("now()"))

    def __repr__(self) -> str:
        return f"<BillingSubscription tenant={self.tenant_id} {self.status}>"


class StripeEvent(PublicBase):
    """A webhook event Stripe delivered, stored once by its id.

    The primary key makes a redelivered event a no-op (``INSERT ... ON CONFLICT DO
    NOTHING``); ``processed_at`` and ``error`` say what the handler made of it.
    """

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[Timestamp]
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<StripeEvent {self.id} {self.type}>"
