"""Exact plan limits: usage counters reserved in the creating transaction.

Every service that creates a capped record calls :func:`reserve` in its own transaction,
before the insert. ``reserve`` is one conditional ``UPDATE ... RETURNING`` on the
resource's row of ``usage_counters``: PostgreSQL locks that row until the transaction
ends and re-checks the condition against the newest value, so concurrent creates are
serialised on it and never pass the cap together. A rollback undoes the reservation with
the insert. Deleting a record calls :func:`release`. :func:`reconcile_tenant` (nightly,
and ``crm billing reconcile``) resets each counter from ``COUNT(*)`` and logs any drift.

``reserve`` costs one round trip: the cap comes from the tenant's plan as last read by
this process, and the same ``UPDATE`` checks (in a subquery on the registry and
subscription rows) that the plan's inputs are still what they were when it was read (a
fingerprint of them). When they changed, or the cap is reached, it reads the plan again
and decides with that: a stale plan can never let a create through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    Text,
    Update,
    bindparam,
    cast,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.contacts.models import Contact
from app.custom_fields.models import CustomFieldDefinition
from app.database import DbSession
from app.identity.models import Invitation, Membership
from app.pipelines.models import Pipeline
from billing.models import BillingSubscription, UsageCounter
from billing.plans import COUNTED, LIMITS, PlanLimits, UnknownPlan, get_plan, plan_limits
from billing.state import effective_access
from tenants.context import require_tenant, tenant_context
from tenants.models import Tenant

log = logging.getLogger(__name__)

_PLAN_CACHE_KEY = "crm_tenant_plan"
# Plans as last read by this process, by tenant id; only ever used together with the
# fingerprint check in ``reserve``'s UPDATE (and, with an age bound, by the API rate
# limiter), so a stale entry costs a re-read, never a wrong answer. Bounded: cleared
# when it grows past this many tenants.
_PROCESS_PLANS: dict[int, TenantPlan] = {}
_PROCESS_PLANS_MAX = 10_000


class PlanLimitExceeded(Exception):
    """Creating more of ``limit`` would pass the tenant's plan cap.

    ``used`` is the current usage, ``max`` the cap, ``plan`` the plan key. The API
    answers 402 ``plan_limit_exceeded`` with these as details; pages show the cap.
    """

    def __init__(self, *, limit: str, used: int, max: int, plan: str, plan_name: str = "") -> None:
        self.limit = limit
        self.used = used
        self.max = max
        self.plan = plan
        self.plan_name = plan_name or plan
        label = limit.replace("_", " ")
        self.message = (
            f"The {self.plan_name} plan allows {max} {label}; this workspace uses {used}. "
            "A workspace admin can upgrade the plan."
        )
        super().__init__(self.message)

    @property
    def details(self) -> dict[str, Any]:
        """The API error's ``details``."""
        return {"limit": self.limit, "used": self.used, "max": self.max, "plan": self.plan}


class MissingUsageCounter(RuntimeError):
    """A tenant schema has no counter row for a resource (run ``crm billing reconcile``)."""


@dataclass(frozen=True, slots=True)
class TenantPlan:
    """A tenant's effective plan (its subscription's, else ``public.tenants``'s; see
    ``billing.state``), with its effective limits."""

    tenant_id: int
    plan: str
    version: int
    status: str
    limits: PlanLimits
    # An unpaid subscription: reads work, writes are refused (billing.state).
    read_only: bool = False
    # md5 of every input the plan was derived from (see ``_plan_fingerprint``).
    fingerprint: str = ""
    # time.monotonic() when it was read (for callers that accept a bounded staleness).
    read_at: float = field(default=0.0, compare=False)

    @property
    def plan_name(self) -> str:
        """The plan's display name."""
        try:
            return get_plan(self.plan, self.version).name
        except UnknownPlan:
            return self.plan


@dataclass(frozen=True, slots=True)
class UsageDrift:
    """A counter that disagreed with the rows it counts."""

    resource: str
    recorded: int
    actual: int


@dataclass
class ReconcileReport:
    """Outcome of reconciling the fleet."""

    tenants: int = 0
    drift: dict[int, dict[str, UsageDrift]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


def _plan_fingerprint() -> ColumnElement[str]:
    """md5 of the registry and subscription columns ``effective_access`` decides from,
    plus whether the trial has ended by now: equal fingerprints give equal plans. To be
    selected from ``public.tenants`` outer-joined to ``public.billing_subscriptions``."""
    return func.md5(
        cast(
            tuple_(
                Tenant.plan,
                Tenant.plan_version,
                Tenant.status,
                Tenant.limit_overrides,
                Tenant.trial_ends_at,
                Tenant.trial_ends_at <= func.now(),
                BillingSubscription.status,
                BillingSubscription.plan,
                BillingSubscription.plan_version,
            ),
            Text,
        )
    )


def _remember(plan: TenantPlan) -> None:
    if len(_PROCESS_PLANS) >= _PROCESS_PLANS_MAX:
        _PROCESS_PLANS.clear()
    _PROCESS_PLANS[plan.tenant_id] = plan


def recent_tenant_plan(session: DbSession, tenant_id: int, max_age: float) -> TenantPlan:
    """The tenant's plan as read by this process at most ``max_age`` seconds ago (or by
    this session), else read now. For checks that may lag a plan change by that much
    (the API rate limit), not for exact limits."""
    cached = session.info.get(_PLAN_CACHE_KEY)
    if isinstance(cached, TenantPlan) and cached.tenant_id == tenant_id:
        return cached
    known = _PROCESS_PLANS.get(tenant_id)
    if known is not None and time.monotonic() - known.read_at <= max_age:
        return known
    return tenant_plan(session, tenant_id)


def tenant_plan(session: DbSession, tenant_id: int) -> TenantPlan:
    """The plan and effective limits of ``tenant_id``, read once per session (a session
    serves one request or one tenant of a fleet walk)."""
    cached = session.info.get(_PLAN_CACHE_KEY)
    if isinstance(cached, TenantPlan) and cached.tenant_id == tenant_id:
        return cached
    row = session.execute(
        select(
            Tenant.plan,
            Tenant.plan_version,
            Tenant.status,
            Tenant.limit_overrides,
            Tenant.trial_ends_at,
            BillingSubscription.status.label("subscription_status"),
            BillingSubscription.plan.label("subscription_plan"),
            BillingSubscription.plan_version.label("subscription_version"),
            func.now().label("now"),
            _plan_fingerprint().label("fingerprint"),
        )
        .outerjoin(BillingSubscription, BillingSubscription.tenant_id == Tenant.id)
        .where(Tenant.id == tenant_id)
    ).one()
    # The subscription decides the plan (billing.state); operator overrides still apply.
    access = effective_access(
        tenant_plan=row.plan,
        tenant_version=row.plan_version,
        tenant_status=str(row.status.value),
        trial_ends_at=row.trial_ends_at,
        subscription_status=row.subscription_status,
        subscription_plan=row.subscription_plan,
        subscription_version=row.subscription_version,
        now=row.now,
    )
    plan = TenantPlan(
        tenant_id=tenant_id,
        plan=access.plan,
        version=access.version,
        status=access.status,
        limits=plan_limits(access.plan, access.version, row.limit_overrides),
        read_only=access.read_only,
        fingerprint=str(row.fingerprint),
        read_at=time.monotonic(),
    )
    session.info[_PLAN_CACHE_KEY] = plan
    _remember(plan)
    return plan


def _check_resource(resource: str, n: int) -> None:
    if resource not in COUNTED:
        raise ValueError(f"{resource!r} is not a counted resource")
    if n < 1:
        raise ValueError("reserve or release at least one")


def _conditional_update(*, capped: bool, checked: bool) -> Update:
    """``UPDATE usage_counters SET used = used + :n ... RETURNING used``, conditional on
    the cap (``capped``) and on the plan's fingerprint being ``:fingerprint``
    (``checked``). Built once: a Core statement on the table, so a reservation costs no
    ORM bookkeeping and hits SQLAlchemy's compiled cache."""
    counters = UsageCounter.__table__
    assert isinstance(counters, Table)  # a declarative model's table (narrows the type)
    used = counters.c.used
    stmt = update(counters).where(counters.c.resource == bindparam("for_resource"))
    if capped:
        stmt = stmt.where(used + bindparam("n") <= bindparam("cap"))
    if checked:
        still_current = (
            select(_plan_fingerprint())
            .select_from(Tenant)
            .outerjoin(BillingSubscription, BillingSubscription.tenant_id == Tenant.id)
            .where(Tenant.id == bindparam("tenant_id"))
            .scalar_subquery()
        )
        stmt = stmt.where(still_current == bindparam("fingerprint"))
    return stmt.values(used=used + bindparam("n"), updated_at=func.now()).returning(used)


_TAKE = {
    (capped, checked): _conditional_update(capped=capped, checked=checked)
    for capped in (False, True)
    for checked in (False, True)
}


def _take(
    session: DbSession, resource: str, n: int, cap: int | None, plan: TenantPlan | None
) -> int | None:
    """Run the conditional UPDATE; the new usage, or None when a condition failed.
    With ``plan``, only if the plan's inputs still have its fingerprint."""
    params: dict[str, Any] = {"for_resource": resource, "n": n}
    if cap is not None:
        params["cap"] = cap
    if plan is not None:
        params["tenant_id"] = plan.tenant_id
        params["fingerprint"] = plan.fingerprint
    stmt = _TAKE[(cap is not None, plan is not None)]
    # On the session's connection (its transaction, bound to the tenant): a Core
    # statement needs none of the ORM execution path, which costs more than the rest.
    used = session.connection().execute(stmt, params).scalar_one_or_none()
    return None if used is None else int(used)


def reserve(session: DbSession, resource: str, n: int = 1) -> int:
    """Take ``n`` of ``resource`` for the bound tenant in the caller's transaction, or
    raise :class:`PlanLimitExceeded`; returns the new usage. Call it before the insert,
    in the same transaction: a rollback gives the reservation back."""
    _check_resource(resource, n)
    tenant_id = require_tenant().id
    cached = session.info.get(_PLAN_CACHE_KEY)
    known = (
        cached
        if isinstance(cached, TenantPlan) and cached.tenant_id == tenant_id
        else _PROCESS_PLANS.get(tenant_id)
    )
    if known is not None and known.fingerprint:
        # One round trip: the cap of the plan known, applied only if the plan's inputs
        # are unchanged (checked in the same statement, against the same snapshot).
        used = _take(session, resource, n, known.limits[resource], known)
        if used is not None:
            return used
        # The plan changed, or the cap is reached: decide with a fresh read.
        session.info.pop(_PLAN_CACHE_KEY, None)
    plan = tenant_plan(session, tenant_id)
    cap = plan.limits[resource]
    used = _take(session, resource, n, cap, None)
    if used is not None:
        return used
    current = session.scalar(select(UsageCounter.used).where(UsageCounter.resource == resource))
    if current is None or cap is None:
        raise MissingUsageCounter(f"no usage counter for {resource!r}")
    raise PlanLimitExceeded(
        limit=resource, used=int(current), max=cap, plan=plan.plan, plan_name=plan.plan_name
    )


def release(session: DbSession, resource: str, n: int = 1) -> None:
    """Give back ``n`` of ``resource`` (never below zero) in the caller's transaction."""
    _check_resource(resource, n)
    require_tenant()
    session.execute(
        update(UsageCounter)
        .where(UsageCounter.resource == resource)
        .values(used=func.greatest(UsageCounter.used - n, 0), updated_at=func.now())
    )


def _actual_counts(tenant_id: int) -> Any:
    """One row with the real count of every counted resource of the bound tenant.

    Seats are active memberships plus pending invitations (neither accepted nor
    revoked): an invitation holds its seat from the moment it is sent, so that accepting
    it can never pass the cap, until it is accepted (the membership takes the seat over),
    revoked, or retired by the sweep of expired invitations. Deactivated members hold no
    seat. Custom fields are the definitions of every entity together.
    """
    return select(
        select(func.count()).select_from(Contact).scalar_subquery().label("contacts"),
        (
            select(func.count())
            .select_from(Membership)
            .where(Membership.tenant_id == tenant_id, Membership.is_active.is_(True))
            .scalar_subquery()
            + select(func.count())
            .select_from(Invitation)
            .where(
                Invitation.tenant_id == tenant_id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .scalar_subquery()
        ).label("seats"),
        select(func.count()).select_from(Pipeline).scalar_subquery().label("pipelines"),
        select(func.count())
        .select_from(CustomFieldDefinition)
        .scalar_subquery()
        .label("custom_fields"),
    )


def seed_usage_counters(connection: Connection, tenant_id: int) -> None:
    """Create the counters of a new tenant from what its schema already holds (the
    default pipeline, the owner's membership, any seeded records), on a connection
    bound to its schema, in the provisioning transaction."""
    counts = connection.execute(_actual_counts(tenant_id)).one()._mapping
    connection.execute(
        insert(UsageCounter), [{"resource": name, "used": counts[name]} for name in COUNTED]
    )


def usage_report(session: DbSession) -> dict[str, Any]:
    """The bound tenant's plan and, per limit, what it uses and its cap (None when
    unlimited, or when the usage is not metered yet)."""
    plan = tenant_plan(session, require_tenant().id)
    used: dict[str, int] = {
        row.resource: int(row.used)
        for row in session.execute(select(UsageCounter.resource, UsageCounter.used))
    }
    return {
        "plan": plan.plan,
        "plan_version": plan.version,
        "status": plan.status,
        "limits": {
            name: {"used": used.get(name) if name in COUNTED else None, "max": plan.limits[name]}
            for name in LIMITS
        },
    }


def reconcile_tenant(session: DbSession) -> dict[str, UsageDrift]:
    """Reset the bound tenant's counters from ``COUNT(*)``, commit, and return (and log)
    the counters that had drifted.

    The counter rows are locked first: creates in flight (which hold a row lock from
    their reservation) finish before counting, and new ones wait until this commits, so
    the counts and the counters describe the same moment.
    """
    tenant = require_tenant()
    recorded: dict[str, int] = {
        row.resource: int(row.used)
        for row in session.execute(
            select(UsageCounter.resource, UsageCounter.used)
            .order_by(UsageCounter.resource)
            .with_for_update()
        )
    }
    actual = session.execute(_actual_counts(tenant.id)).one()._mapping
    drift: dict[str, UsageDrift] = {}
    for name in COUNTED:
        real = int(actual[name])
        if recorded.get(name) == real:
            continue
        drift[name] = UsageDrift(name, recorded.get(name, 0), real)
        log.warning(
            "usage counter drift tenant_id=%s resource=%s recorded=%s actual=%s",
            tenant.id,
            name,
            recorded.get(name),
            real,
        )
        session.execute(
            pg_insert(UsageCounter)
            .values(resource=name, used=real)
            .on_conflict_do_update(
                index_elements=[UsageCounter.resource],
                set_={"used": real, "updated_at": func.now()},
            )
        )
    session.commit()
    return drift


def reconcile_all(
    engine: Engine, on_tenant: Callable[[int, dict[str, UsageDrift] | None], None] | None = None
) -> ReconcileReport:
    """Reconcile every live tenant, each in a fresh session of its own. A tenant that
    fails is logged and reported; the others still run. ``on_tenant`` is called after
    each tenant (with None as the drift when it failed)."""
    from tenants.fleet import iter_live_tenants

    report = ReconcileReport()
    for ref in list(iter_live_tenants(engine)):
        report.tenants += 1
        drift: dict[str, UsageDrift] | None = None
        with tenant_context(ref), Session(engine) as session:
            try:
                drift = reconcile_tenant(session)
            except Exception as exc:
                session.rollback()
                log.exception("usage reconciliation failed tenant_id=%s", ref.id)
                report.failed[ref.id] = f"{type(exc).__name__}: {exc}"
        if drift:
            report.drift[ref.id] = drift
        if on_tenant is not None:
            on_tenant(ref.id, drift)
    return report
