"""The billing page in a real browser (Debian's Chromium via Playwright): the owner finds
it in the user menu, reads the usage bars, previews a downgrade and is sent to Stripe
Checkout (the fake Stripe made the session; the browser's trip to checkout.stripe.com is
answered locally). At phone width nothing overflows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.billing.conftest import WEBHOOK_SECRET
from tests.billing.fake_stripe import FakeStripe
from tests.conftest import PASSWORD, Factory, TenantFixture, mail_settings, make_app
from tests.support.browser import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    SKIP_REASON,
    LiveServer,
    launch_chromium,
    no_horizontal_overflow,
    serve,
)
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture(scope="module")
def stripe_server(
    app: Flask, database_url: str, smtp_sink: SmtpSink, fake_stripe: FakeStripe
) -> Iterator[LiveServer]:
    """The app in Stripe mode over real HTTP."""
    with serve(
        lambda server_name: make_app(
            database_url,
            SERVER_NAME=server_name,
            STRIPE_SECRET_KEY="sk_test_fake",
            BILLING_BACKEND="stripe",
            STRIPE_API_BASE=fake_stripe.url,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            **mail_settings(smtp_sink),
        )
    ) as server:
        yield server


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


def _sign_in(page: Any, server: LiveServer, tf: TenantFixture) -> None:
    page.goto(f"{server.workspace(tf.slug)}/login")
    page.get_by_label("Email").fill(tf.owner_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.workspace(tf.slug)}/contacts")


def test_owner_upgrades_through_checkout(
    chromium: Any, stripe_server: LiveServer, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_server.app).tenant("browser-billing", name="Billing Browser")
    base = stripe_server.workspace(tf.slug)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route(
        "https://checkout.stripe.com/**",
        lambda route: route.fulfill(status=200, body="<h1>Stripe Checkout</h1>"),
    )
    try:
        _sign_in(page, stripe_server, tf)
        page.locator("details.usermenu summary").click()
        page.get_by_role("link", name="Billing and usage").click()
        page.wait_for_url(f"{base}/settings/billing")
        expect(page.get_by_role("heading", name="Billing and usage")).to_be_visible()
        expect(page.locator("[data-plan]")).to_have_text("Free")
        expect(page.locator('[data-limit="seats"]')).to_contain_text("1 of 2")
        expect(page.locator('[data-limit="seats"] meter')).to_be_visible()
        # Downgrade preview: Free fits (nothing is over).
        page.get_by_label("Compare with").select_option("free")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("[data-over-limits-none]")).to_be_visible()
        # Upgrade: Starter, yearly -> Stripe Checkout.
        page.get_by_label("Plan", exact=True).select_option("starter")
        page.get_by_label("Billing", exact=True).select_option("year")
        # The page's form-action (CSP) lets the redirect to Stripe through.
        page.get_by_role("button", name="Upgrade with Stripe").click()
        page.wait_for_url("https://checkout.stripe.com/**")
        expect(page.get_by_role("heading", name="Stripe Checkout")).to_be_visible()
        session = fake_stripe.calls("POST", "/v1/checkout/sessions")[-1].params
        assert session["client_reference_id"] == str(tf.tenant.id)
        assert session["line_items[0][price]"] == fake_stripe.prices["starter_year_v1"]["id"]
        assert errors == []
    finally:
        context.close()


def test_billing_page_fits_a_phone(chromium: Any, stripe_server: LiveServer) -> None:
    tf = Factory(stripe_server.app).tenant("browser-billing-phone", name="Phone Co")
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        _sign_in(page, stripe_server, tf)
        page.goto(f"{stripe_server.workspace(tf.slug)}/settings/billing?preview=free")
        expect(page.get_by_role("heading", name="Billing and usage")).to_be_visible()
        assert no_horizontal_overflow(page)
    finally:
        context.close()
