"""``crm billing sync-catalog``: the catalog's prices in Stripe, by lookup key."""

from __future__ import annotations

from flask import Flask

from billing.plans import get_plan
from tests.billing.fake_stripe import FakeStripe


def test_sync_creates_the_missing_prices_once(stripe_app: Flask, fake_stripe: FakeStripe) -> None:
    fake_stripe.prices.pop("pro_year_v1", None)
    runner = stripe_app.test_cli_runner()
    result = runner.invoke(args=["billing", "sync-catalog"])
    assert result.exit_code == 0, result.output
    assert "created pro_year_v1 price_" in result.output
    assert "exists  starter_month_v1" in result.output
    assert "1 created, 4 prices in the catalog" in result.output
    made = fake_stripe.calls("POST", "/v1/prices")[-1]
    assert made.params["lookup_key"] == "pro_year_v1"
    assert made.params["currency"] == "eur"
    assert made.params["unit_amount"] == str(get_plan("pro").yearly_price_cents)
    assert made.params["recurring[interval]"] == "year"
    assert made.params["product_data[name]"] == "CRM Pro"
    assert made.headers["idempotency-key"] == "crm-price-pro_year_v1"
    # Nothing left to create.
    again = runner.invoke(args=["billing", "sync-catalog"])
    assert again.exit_code == 0 and "0 created" in again.output


def test_sync_refuses_in_manual_mode(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["billing", "sync-catalog"])
    assert result.exit_code == 1
    assert "Billing is manual" in result.output
