"""Stripe subscriptions: the services that write ``billing_subscriptions`` and
``stripe_events``, and what the usage page shows.

- :func:`ensure_customer` makes the tenant's one Stripe customer, under a row lock on
  the tenant, so that two admins clicking "upgrade" at once still make one.
- :func:`start_checkout` / :func:`open_portal` hand the browser to Stripe.
- :func:`receive_event` stores a verified webhook event once by id and queues it.
- :func:`process_event` (the Celery task's body) re-reads the subscription from Stripe
  and upserts it, under a lock on the tenant's row, so duplicates and out-of-order
  deliveries converge on Stripe's state at processing time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Engine, func, select, update

from app.access.policy import Actor
from app.audit.services import record_platform
from app.database import DbSession
from app.errors import InvalidInput
from app.hosts import workspace_url
from app.identity.models import Membership, User
from app.mail.services import compose, send_after_commit
from billing.models import BillingSubscription, StripeEvent
from billing.plans import COUNTED, PLAN_KEYS, PLANS, current_version, get_plan, plan_limits
from billing.state import ENDED_STATUSES
from billing.stripe_gateway import (
    INTERVALS,
    StripeGateway,
    SubscriptionSnapshot,
    UnknownPrice,
    lookup_key,
)
from tenants.models import Tenant

log = logging.getLogger(__name__)

# Seconds a webhook signature stays valid (Stripe's default tolerance).
SIGNATURE_TOLERANCE = 300
# Events that lead to a re-read of the subscription.
HANDLED_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "invoice.paid",
        "invoice.payment_failed",
    }
)
# Plans bought through Checkout (Free needs no payment; Enterprise is by contract).
PURCHASABLE = tuple(key for key in PLAN_KEYS if (get_plan(key).monthly_price_cents or 0) > 0)


class InvalidWebhook(Exception):
    """A webhook request that is not a verified Stripe event: answered 400, not stored."""


class PaymentProviderUnavailable(Exception):
    """Stripe could not do what was asked (down, misconfigured, price missing)."""


@dataclass(frozen=True, slots=True)
class EventRefs:
    """What an event names: the subscription to re-read, its customer, its tenant."""

    subscription_id: str | None
    customer_id: str | None
    tenant_id: int | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form carried by the task message."""
        return {
            "subscription_id": self.subscription_id,
            "customer_id": self.customer_id,
            "tenant_id": self.tenant_id,
        }


def _id_of(value: Any) -> str | None:
    """An object reference, expanded or not."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def _int_or_none(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() else None


def event_refs(event_type: str, obj: dict[str, Any]) -> EventRefs:
    """The references in an event's ``data.object`` (see each object's wire shape)."""
    if event_type == "checkout.session.completed":
        return EventRefs(
            _id_of(obj.get("subscription")),
            _id_of(obj.get("customer")),
            _int_or_none(obj.get("client_reference_id")),
        )
    if event_type.startswith("customer.subscription."):
        return EventRefs(
            _id_of(obj.get("id")),
            _id_of(obj.get("customer")),
            _int_or_none((obj.get("metadata") or {}).get("tenant_id")),
        )
    # Invoices: ``subscription`` until 2025-03-31.basil, then under ``parent``.
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    return EventRefs(
        _id_of(obj.get("subscription") or details.get("subscription")),
        _id_of(obj.get("customer")),
        _int_or_none((details.get("metadata") or {}).get("tenant_id")),
    )


# --- the customer, Checkout and the Portal -------------------------------------------


def _owner(session: DbSession, tenant_id: int) -> User | None:
    """The workspace's owner (who gets billing mail)."""
    return session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.role == "owner",
            Membership.is_active.is_(True),
        )
        .order_by(Membership.id)
        .limit(1)
    ).first()


def ensure_customer(
    session: DbSession, actor: Actor, gateway: StripeGateway, tenant_id: int
) -> str:
    """The tenant's Stripe customer id, created (once) if it has none; commits.

    The tenant's registry row is locked first: a second caller waits, then finds the
    id the first one stored. The Stripe call also carries an idempotency key naming the
    tenant, so even a crash between Stripe's answer and the commit makes no second
    customer."""
    tenant = session.scalars(select(Tenant).where(Tenant.id == tenant_id).with_for_update()).one()
    existing = session.scalar(
        select(BillingSubscription.stripe_customer_id).where(
            BillingSubscription.tenant_id == tenant_id
        )
    )
    if existing:
        session.commit()
        return existing
    owner = _owner(session, tenant_id)
    try:
        customer = gateway.create_customer(
            tenant_id=tenant_id, name=tenant.name, email=owner.email if owner else None
        )
    except stripe.StripeError as exc:
        session.rollback()
        log.warning("stripe customer creation failed tenant_id=%s: %s", tenant_id, exc)
        raise PaymentProviderUnavailable(str(exc)) from exc
    session.add(BillingSubscription(tenant_id=tenant_id, stripe_customer_id=customer))
    record_platform(
        session,
        actor=f"user:{actor.user_id}",
        action="billing.customer_created",
        tenant_id=tenant_id,
        details={"stripe_customer_id": customer},
    )
    session.commit()
    return customer


def start_checkout(
    session: DbSession,
    actor: Actor,
    gateway: StripeGateway,
    tenant_id: int,
    *,
    plan: str,
    interval: str,
    success_url: str,
    cancel_url: str,
) -> str:
    """Validate the choice and return the URL of a Checkout Session for it."""
    errors: dict[str, list[str]] = {}
    if plan not in PURCHASABLE:
        errors["plan"] = [_("Choose one of the plans offered.")]
    if interval not in INTERVALS:
        errors["interval"] = [_("Choose monthly or yearly billing.")]
    if errors:
        raise InvalidInput(errors)
    customer = ensure_customer(session, actor, gateway, tenant_id)
    key = lookup_key(plan, interval, current_version(plan))
    try:
        return gateway.create_checkout_session(
            customer=customer,
            tenant_id=tenant_id,
            price=gateway.price_id(key),
            success_url=success_url,
            cancel_url=cancel_url,
        )
    except UnknownPrice as exc:
        log.error("no active Stripe price with lookup key %s (sync the catalog)", key)
        raise PaymentProviderUnavailable(f"no price {key}") from exc
    except stripe.StripeError as exc:
        log.warning("stripe checkout failed tenant_id=%s: %s", tenant_id, exc)
        raise PaymentProviderUnavailable(str(exc)) from exc


def open_portal(
    session: DbSession, actor: Actor, gateway: StripeGateway, tenant_id: int, return_url: str
) -> str:
    """The URL of a Customer Portal session for the tenant's customer."""
    customer = ensure_customer(session, actor, gateway, tenant_id)
    try:
        return gateway.create_portal_session(customer=customer, return_url=return_url)
    except stripe.StripeError as exc:
        log.warning("stripe portal failed tenant_id=%s: %s", tenant_id, exc)
        raise PaymentProviderUnavailable(str(exc)) from exc


# --- webhooks ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """A verified event and whether it was new."""

    id: str
    type: str
    inserted: bool  # False for a redelivery (already stored)
    handled: bool  # an event this app acts on
    refs: EventRefs

    @property
    def new(self) -> bool:
        """Whether it must be queued for processing."""
        return self.inserted and self.handled


def verify_event(payload: bytes, signature: str | None, secret: str | None) -> dict[str, Any]:
    """The event in ``payload`` if ``signature`` (the ``Stripe-Signature`` header) is a
    valid ``v1`` HMAC-SHA256 of ``"{t}.{payload}"`` under ``secret``, made within
    :data:`SIGNATURE_TOLERANCE` seconds; else :class:`InvalidWebhook`."""
    if not secret:
        raise InvalidWebhook("no webhook secret is configured")
    if not signature:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature, secret, SIGNATURE_TOLERANCE)
        event = json.loads(text)
    except (UnicodeDecodeError, ValueError, stripe.SignatureVerificationError) as exc:
        raise InvalidWebhook(str(exc)) from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidWebhook("not an event")
    if not isinstance(event.get("type"), str) or not isinstance(event.get("created"), int):
        raise InvalidWebhook("not an event")
    return event


# Store an event once by id. A redelivery is ignored, unless processing it failed before
# (a "Resend" from the Stripe Dashboard then retries it). Plain SQL on the driver: the
# statement never changes, so it is not rebuilt and compiled per event.
_STORE_EVENT_SQL = """
INSERT INTO public.stripe_events AS e (id, type, created, processed_at)
VALUES (%(id)s, %(type)s, %(created)s,
        CASE WHEN %(handled)s THEN NULL ELSE now() END)
ON CONFLICT (id) DO UPDATE SET error = NULL
 WHERE e.processed_at IS NULL AND e.error IS NOT NULL
RETURNING e.id
"""


def receive_event(engine: Engine, event: dict[str, Any]) -> ReceivedEvent:
    """Store a verified event once by id (committed on return). A redelivery changes
    nothing and comes back with ``inserted=False`` (unless processing it failed before).
    Events this app does not act on are stored as processed.

    One platform-table statement in autocommit on a pooled connection, not a session
    transaction: the webhook must answer fast, and this saves the BEGIN, the per-tenant
    ``search_path`` binding and the COMMIT round trips (the statement is atomic alone)."""
    handled = event["type"] in HANDLED_EVENTS
    obj = (event.get("data") or {}).get("object") or {}
    refs = event_refs(event["type"], obj) if handled else EventRefs(None, None, None)
    params = {
        "id": event["id"][:255],
        "type": event["type"][:100],
        "created": dt.datetime.fromtimestamp(event["created"], tz=dt.UTC),
        "handled": handled,
    }
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        inserted = connection.exec_driver_sql(_STORE_EVENT_SQL, params).scalar()
    return ReceivedEvent(
        event["id"], event["type"], inserted=inserted is not None, handled=handled, refs=refs
    )


class EventNotApplicable(Exception):
    """An event that names no tenant of ours, or contradicts what is stored."""


def _locked_row(session: DbSession, refs: EventRefs) -> tuple[int, BillingSubscription | None]:
    """The tenant the event is about and its subscription row, locked (the tenant row
    too, so that a first subscription and a customer creation can not race)."""
    row: BillingSubscription | None = None
    if refs.customer_id:
        row = session.scalars(
            select(BillingSubscription)
            .where(BillingSubscription.stripe_customer_id == refs.customer_id)
            .with_for_update()
        ).first()
    if row is not None:
        if refs.tenant_id is not None and refs.tenant_id != row.tenant_id:
            raise EventNotApplicable(
                f"customer {refs.customer_id} belongs to tenant {row.tenant_id}, "
                f"the event names tenant {refs.tenant_id}"
            )
        return row.tenant_id, row
    if refs.tenant_id is None:
        raise EventNotApplicable(f"customer {refs.customer_id} is not one of ours")
    tenant = session.scalar(select(Tenant.id).where(Tenant.id == refs.tenant_id).with_for_update())
    if tenant is None:
        raise EventNotApplicable(f"no tenant {refs.tenant_id}")
    row = session.scalars(
        select(BillingSubscription)
        .where(BillingSubscription.tenant_id == refs.tenant_id)
        .with_for_update()
    ).first()
    if row is not None and refs.customer_id and row.stripe_customer_id != refs.customer_id:
        raise EventNotApplicable(
            f"tenant {refs.tenant_id} has customer {row.stripe_customer_id}, "
            f"the event names {refs.customer_id}"
        )
    return refs.tenant_id, row


def _supersedes(row: BillingSubscription, snap: SubscriptionSnapshot) -> bool:
    """Whether ``snap`` should replace what ``row`` holds: always for the same
    subscription (Stripe's current state wins); for another one, unless that one has
    ended while the stored one is still live (a late event about an old subscription
    must not undo a newer one)."""
    if row.stripe_subscription_id in (None, snap.id):
        return True
    return not (snap.status in ENDED_STATUSES and row.status not in ENDED_STATUSES)


def _trial_mail(session: DbSession, tenant_id: int, snap: SubscriptionSnapshot) -> None:
    tenant = session.get(Tenant, tenant_id)
    owner = _owner(session, tenant_id)
    if tenant is None or owner is None:
        return
    with force_locale(owner.locale or "en"):
        send_after_commit(
            session,
            compose(
                "trial_ending",
                to=owner.email,
                subject=_("Your %(plan)s trial ends soon", plan=get_plan(snap.plan).name),
                name=owner.name or owner.email,
                workspace=tenant.name,
                plan=get_plan(snap.plan, snap.plan_version).name,
                ends=snap.trial_end.strftime("%Y-%m-%d") if snap.trial_end else "",
                href=workspace_url(tenant, "billing.settings"),
            ),
        )


def process_event(
    session: DbSession, gateway: StripeGateway, event_id: str, event_type: str, refs: EventRefs
) -> None:
    """Apply one stored event: lock the tenant's row, read the subscription from Stripe,
    upsert it, mark the event processed; commits. A Stripe error propagates (the task
    retries); an event that does not apply is recorded with its error."""
    created = session.scalar(select(StripeEvent.created).where(StripeEvent.id == event_id))
    try:
        tenant_id, row = _locked_row(session, refs)
        if refs.subscription_id is None:
            snap = None
        else:
            snap = gateway.subscription(refs.subscription_id)
            if refs.customer_id and snap.customer != refs.customer_id:
                raise EventNotApplicable(
                    f"subscription {snap.id} belongs to {snap.customer}, not {refs.customer_id}"
                )
    except EventNotApplicable as exc:
        session.rollback()
        log.warning("stripe event %s (%s) not applied: %s", event_id, event_type, exc)
        _finish(session, event_id, str(exc))
        return
    if snap is not None:
        if row is None:
            row = BillingSubscription(tenant_id=tenant_id, stripe_customer_id=snap.customer)
            session.add(row)
        if _supersedes(row, snap):
            row.stripe_subscription_id = snap.id
            row.status = snap.status
            row.plan = snap.plan
            row.plan_version = snap.plan_version
            row.interval = snap.interval
            row.current_period_end = snap.current_period_end
            row.cancel_at_period_end = snap.cancel_at_period_end
            row.trial_end = snap.trial_end
        if created is not None and (row.last_event_created or created) <= created:
            row.last_event_created = created
        if event_type == "customer.subscription.trial_will_end" and snap.status == "trialing":
            _trial_mail(session, tenant_id, snap)
    _finish(session, event_id, None)


def _finish(session: DbSession, event_id: str, error: str | None) -> None:
    session.execute(
        update(StripeEvent)
        .where(StripeEvent.id == event_id)
        .values(processed_at=func.now(), error=error)
    )
    session.commit()


def record_failure(session: DbSession, event_id: str, error: str) -> None:
    """Note on the event why processing failed (it stays unprocessed); commits."""
    session.rollback()
    session.execute(update(StripeEvent).where(StripeEvent.id == event_id).values(error=error))
    session.commit()


# --- what the usage page shows -------------------------------------------------------


def subscription_of(session: DbSession, tenant_id: int) -> BillingSubscription | None:
    """The tenant's stored subscription row, if it ever had a Stripe customer."""
    return session.get(BillingSubscription, tenant_id)


@dataclass(frozen=True, slots=True)
class OverLimit:
    """A limit the tenant would be over on another plan."""

    limit: str
    used: int
    max: int


def downgrade_preview(
    usage: dict[str, Any], plan: str, overrides: dict[str, Any] | None = None
) -> list[OverLimit]:
    """The counted limits that ``usage`` (``billing.limits.usage_report``) would exceed
    on ``plan``'s current version. Nothing is ever deleted by a downgrade: the tenant
    keeps its records and can not create more of these until it is under the cap."""
    caps = plan_limits(plan, current_version(plan), overrides)
    over: list[OverLimit] = []
    for name in COUNTED:
        used = usage["limits"][name]["used"]
        cap = caps[name]
        if cap is not None and used is not None and used > cap:
            over.append(OverLimit(name, int(used), cap))
    return over


@dataclass(frozen=True, slots=True)
class SyncedPrice:
    """One catalog price in Stripe after :func:`sync_catalog`."""

    lookup_key: str
    price_id: str
    created: bool


def sync_catalog(gateway: StripeGateway) -> list[SyncedPrice]:
    """Make sure Stripe has an active price for every paid plan version and interval
    of the catalog (found by lookup key, created with its product when missing). Old
    versions keep their prices: their subscribers are still billed by them."""
    synced: list[SyncedPrice] = []
    for plan in PLANS.values():
        for interval in INTERVALS:
            amount = plan.monthly_price_cents if interval == "month" else plan.yearly_price_cents
            if not amount:
                continue
            key = lookup_key(plan.key, interval, plan.version)
            price, created = gateway.ensure_price(
                key=key,
                plan_key=plan.key,
                plan_name=plan.name,
                interval=interval,
                amount_cents=amount,
            )
            synced.append(SyncedPrice(key, price, created))
    return synced
