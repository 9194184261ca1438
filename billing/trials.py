"""Reminders before a card-less trial ends.

A trial started at signup (14 days of Pro, ``public.tenants.trial_ends_at``) has no
Stripe subscription, so Stripe sends no ``trial_will_end`` event for it: this module
mails the owner itself, :data:`REMIND_BEFORE` before the end, from an hourly beat task.
Trials run by a Stripe subscription are left to Stripe's event
(``billing.subscriptions``), and a workspace that subscribed needs no reminder.

Each trial is reminded once: the reminder is recorded in the platform audit with the
trial's end, in the same transaction that queues the mail (sent after commit), under a
lock on the tenant's row, so overlapping runs and re-runs send nothing twice. A trial
that is extended (a new end) is reminded again before its new end.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from app.audit.models import PlatformAuditEntry
from app.audit.services import record_platform
from app.database import DbSession
from app.hosts import workspace_url
from app.mail.services import compose, send_after_commit
from billing.models import BillingSubscription
from billing.plans import UnknownPlan, get_plan
from billing.state import ENDED_STATUSES, PAID_STATUSES
from billing.subscriptions import _owner
from tenants.models import Tenant, TenantStatus

log = logging.getLogger(__name__)

REMIND_BEFORE = dt.timedelta(days=3)
REMINDER_ACTION = "billing.trial_reminder_sent"


def _trial_key(ends: dt.datetime) -> str:
    """How a trial's end is recorded with its reminder (UTC, to the second)."""
    return ends.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def _due(session: DbSession) -> list[int]:
    """Active tenants whose card-less trial ends within :data:`REMIND_BEFORE`."""
    subscribed = PAID_STATUSES | ENDED_STATUSES
    return list(
        session.scalars(
            select(Tenant.id)
            .outerjoin(BillingSubscription, BillingSubscription.tenant_id == Tenant.id)
            .where(
                Tenant.status == TenantStatus.ACTIVE,
                Tenant.trial_ends_at > func.now(),
                Tenant.trial_ends_at <= func.now() + REMIND_BEFORE,
                or_(
                    BillingSubscription.status.is_(None),
                    BillingSubscription.status.not_in(subscribed),
                ),
            )
            .order_by(Tenant.id)
        )
    )


def _remind(session: DbSession, tenant_id: int) -> bool:
    """Queue the reminder of one tenant unless it was sent for this trial; commits.
    Whether a mail was queued."""
    tenant = session.scalars(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update(skip_locked=True)
    ).first()
    # Locked by another run (which reminds it), or no longer on a trial.
    if tenant is None or tenant.trial_ends_at is None:
        session.rollback()
        return False
    key = _trial_key(tenant.trial_ends_at)
    already = session.scalar(
        select(PlatformAuditEntry.id)
        .where(
            PlatformAuditEntry.tenant_id == tenant_id,
            PlatformAuditEntry.action == REMINDER_ACTION,
            PlatformAuditEntry.details["trial_ends_at"].astext == key,
        )
        .limit(1)
    )
    owner = _owner(session, tenant_id)
    if already is not None or owner is None:
        session.rollback()
        return False
    try:
        plan = get_plan(tenant.plan, tenant.plan_version).name
    except UnknownPlan:
        plan = tenant.plan
    record_platform(
        session,
        actor="system:trial-reminders",
        action=REMINDER_ACTION,
        tenant_id=tenant_id,
        details={"trial_ends_at": key, "to": owner.email},
    )
    with force_locale(owner.locale or "en"):
        send_after_commit(
            session,
            compose(
                "trial_ending",
                to=owner.email,
                subject=_("Your %(plan)s trial ends soon", plan=plan),
                name=owner.name or owner.email,
                workspace=tenant.name,
                plan=plan,
                ends=tenant.trial_ends_at.strftime("%Y-%m-%d"),
                href=workspace_url(tenant, "billing.settings"),
            ),
        )
    session.commit()
    return True


def send_trial_reminders(session: DbSession) -> int:
    """Remind every owner whose card-less trial ends soon and who was not reminded for
    this trial yet; returns how many mails were queued. A tenant that fails is logged
    and the others still run."""
    sent = 0
    for tenant_id in _due(session):
        session.rollback()  # one short transaction per tenant
        try:
            sent += _remind(session, tenant_id)
        except Exception:
            session.rollback()
            log.exception("trial reminder failed tenant_id=%s", tenant_id)
    return sent
