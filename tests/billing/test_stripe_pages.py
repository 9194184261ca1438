"""The billing page and what subscription states do to a workspace: Checkout and the
Portal through the real gateway (to the fake Stripe), unpaid -> read-only, canceled ->
Free limits with data kept, past_due banner, trials, downgrade preview, manual mode."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.access.policy import actor_for
from app.database import db
from app.pipelines.models import Pipeline
from billing import subscriptions
from billing.models import BillingSubscription
from billing.stripe_gateway import gateway
from tenants.context import tenant_context
from tests.api.conftest import Api, assert_error
from tests.billing.conftest import deliver, set_plan, subscription_row
from tests.billing.fake_stripe import FakeStripe, event
from tests.conftest import Factory, TenantFixture, csrf_token_from, login


def _signed_in(app: Flask, tf: TenantFixture, email: str | None = None) -> FlaskClient:
    client = app.test_client()
    assert login(client, tf, email).status_code == 302
    return client


def _page(client: FlaskClient, tf: TenantFixture, query: str = "") -> Any:
    return client.get(f"/settings/billing{query}", base_url=tf.base_url)


def _subscribe(
    app: Flask, fake: FakeStripe, tf: TenantFixture, status: str, plan: str = "pro", **kw: Any
) -> dict[str, Any]:
    """Put the tenant on a Stripe subscription through the webhook, as in production."""
    with app.app_context():
        customer = subscriptions.ensure_customer(
            db.session, actor_for(tf.owner_id, "owner"), gateway(), tf.tenant.id
        )
        db.session.remove()
    existing = subscription_row(app, tf)
    sub = fake.put_subscription(
        customer=customer,
        status=status,
        plan=plan,
        tenant_id=tf.tenant.id,
        sub_id=existing.stripe_subscription_id if existing else None,
        **kw,
    )
    response = deliver(app.test_client(), event("customer.subscription.updated", sub))
    assert response.status_code == 200
    return sub


def _pipelines(app: Flask, tf: TenantFixture) -> int:
    with app.app_context(), tenant_context(tf.tenant.ref):
        total = db.session.scalar(select(func.count()).select_from(Pipeline))
        db.session.remove()
    return int(total or 0)


def test_upgrade_goes_through_checkout_with_the_documented_parameters(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("pg-checkout", name="Checkout Co")
    client = _signed_in(stripe_app, tf)
    page = _page(client, tf)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Upgrade with Stripe" in html and "Manage billing" in html
    # The forms redirect to Stripe: the page's form-action allows its hosts (only here).
    csp = page.headers["Content-Security-Policy"]
    assert "form-action https://checkout.stripe.com https://billing.stripe.com 'self'" in csp
    other = client.get("/contacts", base_url=tf.base_url).headers["Content-Security-Policy"]
    assert "stripe.com" not in other
    before = len(fake_stripe.calls("POST", "/v1/customers"))
    response = client.post(
        "/settings/billing/checkout",
        base_url=tf.base_url,
        data={"plan": "starter", "interval": "year", "csrf_token": csrf_token_from(html)},
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("https://checkout.stripe.com/c/pay/cs_")
    # One customer, named after the workspace, with the owner's address and the tenant id.
    customers = fake_stripe.calls("POST", "/v1/customers")
    assert len(customers) == before + 1
    made = customers[-1]
    assert made.params["name"] == "Checkout Co"
    assert made.params["email"] == tf.owner_email
    assert made.params["metadata[tenant_id]"] == str(tf.tenant.id)
    assert made.headers["idempotency-key"] == f"crm-customer-tenant-{tf.tenant.id}"
    assert made.headers["authorization"] == "Bearer sk_test_fake"
    # The price found by its lookup key, then the session in subscription mode.
    lookups = fake_stripe.calls("GET", "/v1/prices")
    assert lookups[-1].params["lookup_keys[0]"] == "starter_year_v1"
    assert lookups[-1].params["active"] == "true"
    session = fake_stripe.calls("POST", "/v1/checkout/sessions")[-1].params
    row = subscription_row(stripe_app, tf)
    assert row is not None
    assert session["mode"] == "subscription"
    assert session["customer"] == row.stripe_customer_id
    assert session["client_reference_id"] == str(tf.tenant.id)
    assert session["line_items[0][price]"] == fake_stripe.prices["starter_year_v1"]["id"]
    assert session["line_items[0][quantity]"] == "1"
    assert session["subscription_data[metadata][tenant_id]"] == str(tf.tenant.id)
    assert session["success_url"].startswith(f"{tf.base_url}/settings/billing")
    # A second upgrade reuses the stored customer.
    client.post(
        "/settings/billing/checkout",
        base_url=tf.base_url,
        data={"plan": "pro", "interval": "month", "csrf_token": csrf_token_from(html)},
    )
    assert len(fake_stripe.calls("POST", "/v1/customers")) == before + 1


def test_a_plan_that_can_not_be_bought_is_a_field_error(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("pg-badplan")
    client = _signed_in(stripe_app, tf)
    token = csrf_token_from(_page(client, tf).get_data(as_text=True))
    sessions = len(fake_stripe.calls("POST", "/v1/checkout/sessions"))
    for plan, interval in (("enterprise", "month"), ("free", "month"), ("pro", "weekly")):
        response = client.post(
            "/settings/billing/checkout",
            base_url=tf.base_url,
            data={"plan": plan, "interval": interval, "csrf_token": token},
        )
        assert response.status_code == 400
        assert "field-error" in response.get_data(as_text=True)
    assert len(fake_stripe.calls("POST", "/v1/checkout/sessions")) == sessions
    assert subscription_row(stripe_app, tf) is None


def test_stripe_down_is_a_message_not_an_error(stripe_app: Flask, fake_stripe: FakeStripe) -> None:
    tf = Factory(stripe_app).tenant("pg-down")
    client = _signed_in(stripe_app, tf)
    token = csrf_token_from(_page(client, tf).get_data(as_text=True))
    fake_stripe.failing = True
    try:
        response = client.post(
            "/settings/billing/portal", base_url=tf.base_url, data={"csrf_token": token}
        )
    finally:
        fake_stripe.failing = False
    assert response.status_code == 302
    assert "could not be reached" in _page(client, tf).get_data(as_text=True)
    assert subscription_row(stripe_app, tf) is None


def test_manage_billing_opens_the_portal(stripe_app: Flask, fake_stripe: FakeStripe) -> None:
    tf = Factory(stripe_app).tenant("pg-portal")
    client = _signed_in(stripe_app, tf)
    token = csrf_token_from(_page(client, tf).get_data(as_text=True))
    response = client.post(
        "/settings/billing/portal", base_url=tf.base_url, data={"csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("https://billing.stripe.com/p/session/bps_")
    call = fake_stripe.calls("POST", "/v1/billing_portal/sessions")[-1].params
    row = subscription_row(stripe_app, tf)
    assert row is not None and call["customer"] == row.stripe_customer_id
    assert call["return_url"] == f"{tf.base_url}/settings/billing"


def test_one_customer_when_two_admins_click_at_once(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("pg-race")
    before = len(fake_stripe.calls("POST", "/v1/customers"))
    results: list[str] = []
    fake_stripe.delay = 0.3  # widen the window between the lock and Stripe's answer

    def click() -> None:
        with stripe_app.app_context():
            results.append(
                subscriptions.ensure_customer(
                    db.session, actor_for(tf.owner_id, "owner"), gateway(), tf.tenant.id
                )
            )
            db.session.remove()

    try:
        threads = [threading.Thread(target=click) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        fake_stripe.delay = 0.0
    assert len(set(results)) == 1 and len(results) == 4
    # The row lock serialised them: Stripe was asked once.
    assert len(fake_stripe.calls("POST", "/v1/customers")) == before + 1


def test_admins_see_the_page_others_do_not(stripe_app: Flask) -> None:
    stripe_factory = Factory(stripe_app)
    tf = stripe_factory.tenant("pg-roles")
    set_plan(stripe_app, tf, limit_overrides={"seats": 10})
    _, admin_email, _ = stripe_factory.member(tf, role="admin")
    _, rep_email, _ = stripe_factory.member(tf, role="sales_rep")
    admin = _signed_in(stripe_app, tf, admin_email)
    page = _page(admin, tf)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'href="/settings/billing"' in html  # the user menu link
    assert "Upgrade with Stripe" in html  # the built-in Admin role may edit billing
    token = csrf_token_from(html)
    response = admin.post(
        "/settings/billing/portal", base_url=tf.base_url, data={"csrf_token": token}
    )
    assert response.status_code == 303
    rep = _signed_in(stripe_app, tf, rep_email)
    assert _page(rep, tf).status_code == 403
    contacts = rep.get("/contacts", base_url=tf.base_url).get_data(as_text=True)
    assert 'href="/settings/billing"' not in contacts
    response = rep.post(
        "/settings/billing/portal",
        base_url=tf.base_url,
        data={"csrf_token": csrf_token_from(contacts)},
    )
    assert response.status_code == 403


def test_usage_bars_plan_status_and_next_invoice(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("pg-bars")
    end = int(time.time()) + 12 * 86400
    _subscribe(stripe_app, fake_stripe, tf, "active", plan="starter", period_end=end)
    Api(stripe_app.test_client(), tf).create(first_name="One")
    html = _page(_signed_in(stripe_app, tf), tf).get_data(as_text=True)
    assert re.search(r"data-plan>\s*Starter", html)
    assert 'data-status="active"' in html
    assert time.strftime("%Y-%m-%d", time.gmtime(end)) in html
    assert "Up to date" in html
    contacts = re.search(r'data-limit="contacts">(.*?)</li>', html, re.S)
    assert contacts and "1 of 5000" in contacts.group(1) and "<meter" in contacts.group(1)
    storage = re.search(r'data-limit="api_requests_per_minute">(.*?)</li>', html, re.S)
    assert storage and "up to 300" in storage.group(1)


def test_unpaid_makes_the_workspace_read_only(stripe_app: Flask, fake_stripe: FakeStripe) -> None:
    tf = Factory(stripe_app).tenant("pg-unpaid")
    api = Api(stripe_app.test_client(), tf)
    contact = api.create(first_name="Kept")
    _subscribe(stripe_app, fake_stripe, tf, "unpaid")
    # API: reads work, every write is 403 read_only.
    assert api.get(f"/contacts/{contact['id']}").status_code == 200
    assert api.get("/usage").get_json()["status"] == "unpaid"
    assert_error(api.post("/contacts", json={"first_name": "New"}), 403, "read_only")
    assert_error(
        api.patch(f"/contacts/{contact['id']}", json={"first_name": "X"}), 403, "read_only"
    )
    assert_error(api.delete(f"/contacts/{contact['id']}"), 403, "read_only")
    # Pages: the read-only page; the banner; the billing page still works for paying.
    client = _signed_in(stripe_app, tf)
    listing = client.get("/contacts", base_url=tf.base_url)
    assert listing.status_code == 200
    assert 'data-billing-banner="unpaid"' in listing.get_data(as_text=True)
    token = csrf_token_from(
        client.get("/contacts/new", base_url=tf.base_url).get_data(as_text=True)
    )
    refused = client.post(
        "/contacts/new", base_url=tf.base_url, data={"first_name": "New", "csrf_token": token}
    )
    assert refused.status_code == 403
    assert "read-only" in refused.get_data(as_text=True)
    portal = client.post(
        "/settings/billing/portal", base_url=tf.base_url, data={"csrf_token": token}
    )
    assert portal.status_code == 303
    assert api.get("/contacts").get_json()["items"][0]["first_name"] == "Kept"
    # Paid again: writable again.
    _subscribe(stripe_app, fake_stripe, tf, "active")
    assert api.post("/contacts", json={"first_name": "New"}).status_code == 201


def test_past_due_works_fully_with_a_banner_for_admins(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("pg-pastdue")
    set_plan(stripe_app, tf, limit_overrides={"seats": 10})
    _, rep_email, _ = Factory(stripe_app).member(tf, role="sales_rep")
    _subscribe(stripe_app, fake_stripe, tf, "past_due")
    api = Api(stripe_app.test_client(), tf)
    assert api.post("/contacts", json={"first_name": "Still"}).status_code == 201
    owner_page = _signed_in(stripe_app, tf).get("/contacts", base_url=tf.base_url)
    assert 'data-billing-banner="past_due"' in owner_page.get_data(as_text=True)
    rep_page = _signed_in(stripe_app, tf, rep_email).get("/contacts", base_url=tf.base_url)
    assert "data-billing-banner" not in rep_page.get_data(as_text=True)


def test_canceled_falls_back_to_free_and_keeps_the_data(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("pg-cancel")
    _subscribe(stripe_app, fake_stripe, tf, "active", plan="pro")
    api = Api(stripe_app.test_client(), tf)
    for name in ("Second", "Third"):
        assert api.post("/pipelines", json={"name": name}).status_code == 201
    assert _pipelines(stripe_app, tf) == 3
    # The downgrade preview shows what Free would leave over its caps.
    html = _page(_signed_in(stripe_app, tf), tf, "?preview=free").get_data(as_text=True)
    assert 'data-over="pipelines"' in html and "3 used, 1 allowed" in html
    _subscribe(stripe_app, fake_stripe, tf, "canceled", plan="pro")
    usage = api.get("/usage").get_json()
    assert (usage["plan"], usage["status"]) == ("free", "canceled")
    assert usage["limits"]["pipelines"] == {"used": 3, "max": 1}
    # Nothing deleted; reads and edits work; creating over the cap is 402.
    assert _pipelines(stripe_app, tf) == 3
    assert len(api.get("/pipelines").get_json()["items"]) == 3
    assert_error(api.post("/pipelines", json={"name": "Fourth"}), 402, "plan_limit_exceeded")
    assert api.post("/contacts", json={"first_name": "Under cap"}).status_code == 201


def test_trial_without_subscription_expires_to_free(stripe_app: Flask) -> None:
    tf = Factory(stripe_app).tenant("pg-trial", plan="pro")
    api = Api(stripe_app.test_client(), tf)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
    set_plan(stripe_app, tf, trial_ends_at=future)
    usage = api.get("/usage").get_json()
    assert (usage["plan"], usage["status"]) == ("pro", "trialing")
    set_plan(stripe_app, tf, trial_ends_at=future - dt.timedelta(days=10))
    usage = api.get("/usage").get_json()
    assert (usage["plan"], usage["status"]) == ("free", "trial_expired")
    assert usage["limits"]["pipelines"]["max"] == 1


def test_manual_mode_has_no_payment_actions(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("pg-manual")
    client = _signed_in(app, tf)
    page = _page(client, tf)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "handled by the operator" in html
    assert "Upgrade with Stripe" not in html and "Manage billing" not in html
    token = csrf_token_from(html)
    for path in ("/settings/billing/checkout", "/settings/billing/portal"):
        response = client.post(
            path, base_url=tf.base_url, data={"csrf_token": token, "plan": "pro"}
        )
        assert response.status_code == 404
    with app.app_context():
        assert db.session.get(BillingSubscription, tf.tenant.id) is None
        db.session.remove()
