"""The one door to Stripe: customers, Checkout, the Customer Portal, subscriptions.

Built on ``stripe.StripeClient`` with a configurable API base (``STRIPE_API_BASE``),
so that tests (and a staging stub) answer on a local address while production talks
to ``https://api.stripe.com``. Every call Stripe may receive twice carries an
idempotency key derived from what it is for, so a retried request never creates a
second customer. The gateway only speaks to Stripe; what is stored, and when, is
``billing.subscriptions``'s job.

Wire shapes used (Stripe API reference):
- ``POST /v1/customers`` (name, email, metadata[tenant_id]) -> ``{"id": "cus_..."}``
- ``GET /v1/prices?lookup_keys[]=...&active=true`` -> list of prices
- ``POST /v1/prices`` (currency, unit_amount, recurring[interval], lookup_key,
  product_data[name]) -> the price (catalog sync)
- ``POST /v1/checkout/sessions`` (mode=subscription, customer, client_reference_id,
  line_items, subscription_data[metadata], success_url, cancel_url) -> ``{"url"}``
- ``POST /v1/billing_portal/sessions`` (customer, return_url) -> ``{"url"}``
- ``GET /v1/subscriptions/{id}`` -> the subscription; since API version
  2025-03-31.basil the billing period lives on its items
  (``items.data[].current_period_end``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import stripe
from flask import Flask, current_app

from billing.plans import CURRENCY

# Prices are found by lookup key ``<plan>_<interval>_v<version>`` (``crm billing``
# creates them), so that the catalog in code names its Stripe prices.
LOOKUP_KEY = re.compile(r"^(?P<plan>[a-z][a-z0-9]*)_(?P<interval>month|year)_v(?P<version>\d+)$")
INTERVALS = ("month", "year")
# Seconds before a call to Stripe gives up (a page waits on it).
TIMEOUT_SECONDS = 20
_EXTENSION_KEY = "stripe_gateway"


class BillingNotConfigured(RuntimeError):
    """Billing is ``manual`` (no Stripe key): nothing may talk to Stripe."""


class UnknownPrice(LookupError):
    """No active Stripe price has this lookup key (run the catalog sync)."""


class UnexpectedSubscription(ValueError):
    """A subscription whose price is not one of the catalog's lookup keys."""


def lookup_key(plan: str, interval: str, version: int) -> str:
    """The Stripe lookup key of ``plan`` at ``version`` billed every ``interval``."""
    return f"{plan}_{interval}_v{version}"


def _timestamp(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(int(value), tz=dt.UTC)


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    """What Stripe says about a subscription right now (the fields access depends on)."""

    id: str
    customer: str
    status: str
    plan: str
    plan_version: int
    interval: str
    current_period_end: dt.datetime | None
    cancel_at_period_end: bool
    trial_end: dt.datetime | None
    # ``metadata.tenant_id`` set at Checkout; None when made elsewhere (the Dashboard).
    tenant_id: int | None

    @classmethod
    def from_stripe(cls, sub: dict[str, Any]) -> SubscriptionSnapshot:
        """Read a subscription object (as a plain dict)."""
        items = (sub.get("items") or {}).get("data") or []
        if not items:
            raise UnexpectedSubscription(f"subscription {sub.get('id')} has no items")
        item = items[0]
        price = item.get("price") or {}
        match = LOOKUP_KEY.match(str(price.get("lookup_key") or ""))
        if match is None:
            raise UnexpectedSubscription(
                f"subscription {sub.get('id')}: price {price.get('id')} has lookup key "
                f"{price.get('lookup_key')!r}, not one of the catalog's"
            )
        # The period moved onto items (2025-03-31.basil); older versions had it on top.
        period_end = item.get("current_period_end") or sub.get("current_period_end")
        raw_tenant = (sub.get("metadata") or {}).get("tenant_id")
        customer = sub.get("customer")
        if isinstance(customer, dict):
            customer = customer.get("id")
        return cls(
            id=str(sub["id"]),
            customer=str(customer),
            status=str(sub["status"]),
            plan=match.group("plan"),
            plan_version=int(match.group("version")),
            interval=match.group("interval"),
            current_period_end=_timestamp(period_end),
            cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
            trial_end=_timestamp(sub.get("trial_end")),
            tenant_id=int(str(raw_tenant)) if str(raw_tenant or "").isdigit() else None,
        )


class StripeGateway:
    """Stripe calls the application makes, each a method."""

    def __init__(
        self, secret_key: str, *, api_base: str | None = None, max_network_retries: int = 2
    ) -> None:
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        )

    def create_customer(self, *, tenant_id: int, name: str, email: str | None) -> str:
        """A new Stripe customer for ``tenant_id``; returns its id.

        The idempotency key names the tenant: a retry within Stripe's 24 hours returns
        the first customer instead of creating another."""
        params: dict[str, Any] = {"name": name, "metadata": {"tenant_id": str(tenant_id)}}
        if email:
            params["email"] = email
        customer = self.client.v1.customers.create(
            params=params,  # type: ignore[arg-type]  # a TypedDict built as a dict
            options={"idempotency_key": f"crm-customer-tenant-{tenant_id}"},
        )
        return str(customer.id)

    def price_id(self, key: str) -> str:
        """The id of the active price with lookup key ``key``."""
        prices = self.client.v1.prices.list(params={"lookup_keys": [key], "active": True})
        for price in prices.data:
            return str(price.id)
        raise UnknownPrice(key)

    def ensure_price(
        self, *, key: str, plan_key: str, plan_name: str, interval: str, amount_cents: int
    ) -> tuple[str, bool]:
        """The id of the active price with lookup key ``key``, created (with its product)
        when Stripe has none; returns ``(price id, created)``."""
        try:
            return self.price_id(key), False
        except UnknownPrice:
            pass
        price = self.client.v1.prices.create(
            params={
                "currency": CURRENCY.lower(),
                "unit_amount": amount_cents,
                "recurring": {"interval": interval},
                "lookup_key": key,
                "product_data": {"name": f"CRM {plan_name}", "metadata": {"plan": plan_key}},
                "metadata": {"plan": plan_key},
            },
            options={"idempotency_key": f"crm-price-{key}"},
        )
        return str(price.id), True

    def create_checkout_session(
        self,
        *,
        customer: str,
        tenant_id: int,
        price: str,
        success_url: str,
        cancel_url: str,
    ) -> str:
        """A Checkout Session that subscribes ``customer`` to ``price``; returns its URL.

        The tenant id rides in ``client_reference_id`` and in the subscription's
        metadata, so every later event names its workspace."""
        session = self.client.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer,
                "client_reference_id": str(tenant_id),
                "line_items": [{"price": price, "quantity": 1}],
                "subscription_data": {"metadata": {"tenant_id": str(tenant_id)}},
                "success_url": success_url,
                "cancel_url": cancel_url,
            }
        )
        return str(session.url)

    def create_portal_session(self, *, customer: str, return_url: str) -> str:
        """A Customer Portal session for ``customer``; returns its URL."""
        session = self.client.v1.billing_portal.sessions.create(
            params={"customer": customer, "return_url": return_url}
        )
        return str(session.url)

    def subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """Read the subscription from Stripe now (never from an event's payload)."""
        sub = self.client.v1.subscriptions.retrieve(subscription_id)
        return SubscriptionSnapshot.from_stripe(sub.to_dict())


def gateway(app: Flask | None = None) -> StripeGateway:
    """The app's gateway (one per app, built on first use); raises
    :class:`BillingNotConfigured` in manual mode."""
    flask_app = app or current_app
    if flask_app.config.get("BILLING_BACKEND") != "stripe":
        raise BillingNotConfigured("billing is manual: no STRIPE_SECRET_KEY")
    built = flask_app.extensions.get(_EXTENSION_KEY)
    if not isinstance(built, StripeGateway):
        built = StripeGateway(
            flask_app.config["STRIPE_SECRET_KEY"], api_base=flask_app.config.get("STRIPE_API_BASE")
        )
        flask_app.extensions[_EXTENSION_KEY] = built
    return built
