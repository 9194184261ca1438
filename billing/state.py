"""Subscription state -> access: which plan's limits a tenant has, and whether it may write.

One pure function, :func:`effective_access`, decides it from the tenant's registry row
(``public.tenants``: plan, version, trial end) and its Stripe subscription row
(``public.billing_subscriptions``), so that limits (``billing.limits.tenant_plan``),
the read-only guard and the usage page all agree:

- ``trialing``, ``active``, ``past_due``: the subscribed plan, full access (past_due
  shows a banner to admins while Stripe retries the payment);
- ``unpaid``: the subscribed plan's limits, but the workspace is read-only until an
  invoice is paid;
- ``canceled``, ``incomplete_expired``, ``paused`` (a trial that ended without a
  payment method): Free limits, data kept;
- no subscription (manual billing, or never subscribed; ``incomplete`` = a first
  payment still pending): the registry's plan, unless its trial has ended, then Free.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from billing.plans import DEFAULT_PLAN, current_version

# Stripe statuses that keep the subscribed plan.
PAID_STATUSES = frozenset({"trialing", "active", "past_due", "unpaid"})
# Stripe statuses after which the tenant is back on Free.
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired", "paused"})
READ_ONLY_STATUS = "unpaid"
PAST_DUE_STATUS = "past_due"


@dataclass(frozen=True, slots=True)
class Access:
    """The effective plan of a tenant and what it may do."""

    plan: str
    version: int
    # The billing status shown to users and the API: Stripe's subscription status, or
    # the tenant's own (active, suspended) when it has no subscription; "trial_expired"
    # when a trial without a subscription has ended.
    status: str
    read_only: bool


def _free() -> tuple[str, int]:
    return DEFAULT_PLAN, current_version(DEFAULT_PLAN)


def effective_access(
    *,
    tenant_plan: str,
    tenant_version: int,
    tenant_status: str,
    trial_ends_at: dt.datetime | None,
    subscription_status: str | None,
    subscription_plan: str | None,
    subscription_version: int | None,
    now: dt.datetime,
) -> Access:
    """Decide the effective plan and access (see the module's docstring)."""
    if subscription_status in PAID_STATUSES and subscription_plan and subscription_version:
        return Access(
            subscription_plan,
            subscription_version,
            subscription_status,
            read_only=subscription_status == READ_ONLY_STATUS,
        )
    if subscription_status in ENDED_STATUSES:
        plan, version = _free()
        return Access(plan, version, subscription_status, read_only=False)
    if trial_ends_at is not None and trial_ends_at <= now:
        plan, version = _free()
        return Access(plan, version, "trial_expired", read_only=False)
    if trial_ends_at is not None:
        return Access(tenant_plan, tenant_version, "trialing", read_only=False)
    return Access(tenant_plan, tenant_version, tenant_status, read_only=False)
