"""The gateway against Stripe itself, in test mode (no money moves).

Runs only when ``STRIPE_TEST_SECRET_KEY`` (an ``sk_test_...`` key) is set; it creates a
customer, makes sure a price with the catalog's lookup key exists (creating a product and
price in the test account the first time), and opens a Checkout Session and reads it back.
"""

from __future__ import annotations

import os
import uuid

import pytest
import stripe

from billing.plans import get_plan
from billing.stripe_gateway import StripeGateway, lookup_key

KEY = os.environ.get("STRIPE_TEST_SECRET_KEY", "")

pytestmark = pytest.mark.skipif(
    not KEY.startswith("sk_test_"),
    reason="live Stripe suite: set STRIPE_TEST_SECRET_KEY to an sk_test_ key to run it",
)


def _price(client: stripe.StripeClient, key: str) -> str:
    found = client.v1.prices.list(params={"lookup_keys": [key], "active": True})
    for price in found.data:
        return str(price.id)
    plan = get_plan("starter")
    assert plan.monthly_price_cents
    price = client.v1.prices.create(
        params={
            "currency": "eur",
            "unit_amount": plan.monthly_price_cents,
            "recurring": {"interval": "month"},
            "lookup_key": key,
            "product_data": {"name": f"CRM {plan.name} (test)"},
        }
    )
    return str(price.id)


def test_customer_and_checkout_session_in_test_mode() -> None:
    gateway = StripeGateway(KEY)
    tenant_id = int(uuid.uuid4().int % 10**9)
    customer = gateway.create_customer(
        tenant_id=tenant_id, name="Live test Co", email="live-test@example.com"
    )
    assert customer.startswith("cus_")
    # The idempotency key names the tenant: asking again gives the same customer.
    again = gateway.create_customer(
        tenant_id=tenant_id, name="Live test Co", email="live-test@example.com"
    )
    assert again == customer
    key = lookup_key("starter", "month", get_plan("starter").version)
    price = _price(gateway.client, key)
    assert gateway.price_id(key) == price
    url = gateway.create_checkout_session(
        customer=customer,
        tenant_id=tenant_id,
        price=price,
        success_url="https://example.com/settings/billing?checkout=done",
        cancel_url="https://example.com/settings/billing",
    )
    assert url.startswith("https://checkout.stripe.com/")
    sessions = gateway.client.v1.checkout.sessions.list(params={"customer": customer, "limit": 1})
    session = sessions.data[0]
    assert session.mode == "subscription"
    assert session.client_reference_id == str(tenant_id)
    gateway.client.v1.customers.delete(customer)
