"""The Stripe webhook: signatures, storing once, and convergence on Stripe's state.

Events are signed with Stripe's real scheme and posted to the real endpoint; the
handler (Celery, eager here) re-reads each subscription from the fake Stripe over HTTP.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.database import db
from billing.models import BillingSubscription, StripeEvent
from tests.api.conftest import Api, assert_error
from tests.billing.conftest import (
    WEBHOOK_SECRET,
    deliver,
    stored_event,
    subscription_row,
)
from tests.billing.fake_stripe import FakeStripe, event, new_id, sign
from tests.conftest import Factory, TenantFixture
from tests.support.smtp import SmtpSink


def _customer(fake: FakeStripe, tf: TenantFixture) -> str:
    """A customer in Stripe, not yet stored for the tenant (as when the first event
    about it arrives)."""
    customer = new_id("cus")
    fake.customers[customer] = {"id": customer, "object": "customer", "metadata": {}}
    return customer


def _store_customer(app: Flask, tf: TenantFixture, customer: str) -> None:
    with app.app_context():
        db.session.add(BillingSubscription(tenant_id=tf.tenant.id, stripe_customer_id=customer))
        db.session.commit()
        db.session.remove()


def _events_with_id(app: Flask, event_id: str) -> int:
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(StripeEvent).where(StripeEvent.id == event_id)
        )
        db.session.remove()
    return int(count or 0)


def _checkout_completed(sub: dict[str, Any], tenant_id: int) -> dict[str, Any]:
    return event(
        "checkout.session.completed",
        {
            "id": new_id("cs"),
            "object": "checkout.session",
            "mode": "subscription",
            "customer": sub["customer"],
            "subscription": sub["id"],
            "client_reference_id": str(tenant_id),
        },
    )


def test_checkout_completed_subscribes_the_tenant(
    stripe_app: Flask, factory: Factory, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("wh-checkout")
    customer = _customer(fake_stripe, tf)
    sub = fake_stripe.put_subscription(customer=customer, status="active", tenant_id=tf.tenant.id)
    client = stripe_app.test_client()
    response = deliver(client, _checkout_completed(sub, tf.tenant.id))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"received": True, "duplicate": False}
    row = subscription_row(stripe_app, tf)
    assert row is not None
    assert (row.stripe_customer_id, row.stripe_subscription_id) == (customer, sub["id"])
    assert (row.status, row.plan, row.plan_version, row.interval) == ("active", "pro", 1, "month")
    end = sub["items"]["data"][0]["current_period_end"]
    assert row.current_period_end is not None and int(row.current_period_end.timestamp()) == end
    # The caps follow: Pro allows 20 pipelines.
    usage = Api(client, tf).get("/usage").get_json()
    assert (usage["plan"], usage["status"]) == ("pro", "active")
    assert usage["limits"]["pipelines"]["max"] == 20


def test_forged_missing_and_expired_signatures_store_nothing(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("wh-forged")
    customer = _customer(fake_stripe, tf)
    sub = fake_stripe.put_subscription(customer=customer, status="active", tenant_id=tf.tenant.id)
    client = stripe_app.test_client()
    reads = len(fake_stripe.calls("GET", "/v1/subscriptions/"))
    cases = {
        "wrong secret": {"secret": "whsec_attacker"},
        "missing header": {"signature": ""},
        "garbage header": {"signature": "t=abc,v1=zz"},
        "expired (301 s old)": {"timestamp": int(time.time()) - 301},
    }
    for name, kwargs in cases.items():
        evt = _checkout_completed(sub, tf.tenant.id)
        response = deliver(client, evt, **kwargs)
        assert response.status_code == 400, name
        assert response.get_json()["error"]["code"] == "invalid_signature", name
        assert stored_event(stripe_app, evt["id"]) is None, name
    # A valid signature over another body (the body was tampered with).
    evt = _checkout_completed(sub, tf.tenant.id)
    other = _checkout_completed(sub, tf.tenant.id)
    header = sign(json.dumps(other).encode(), WEBHOOK_SECRET)
    assert deliver(client, evt, signature=header).status_code == 400
    assert stored_event(stripe_app, evt["id"]) is None
    assert subscription_row(stripe_app, tf) is None
    assert len(fake_stripe.calls("GET", "/v1/subscriptions/")) == reads


def test_a_signature_within_tolerance_is_accepted(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("wh-tolerance")
    customer = _customer(fake_stripe, tf)
    sub = fake_stripe.put_subscription(customer=customer, status="active", tenant_id=tf.tenant.id)
    evt = _checkout_completed(sub, tf.tenant.id)
    response = deliver(stripe_app.test_client(), evt, timestamp=int(time.time()) - 250)
    assert response.status_code == 200


def test_a_duplicate_is_acknowledged_and_ignored(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("wh-dup")
    customer = _customer(fake_stripe, tf)
    sub = fake_stripe.put_subscription(customer=customer, status="active", tenant_id=tf.tenant.id)
    client = stripe_app.test_client()
    evt = event("customer.subscription.created", sub)
    assert deliver(client, evt).get_json() == {"received": True, "duplicate": False}
    reads = len(fake_stripe.calls("GET", f"/v1/subscriptions/{sub['id']}"))
    # Stripe changes the subscription; a replay of the old event must not re-read it.
    fake_stripe.put_subscription(
        customer=customer, status="past_due", tenant_id=tf.tenant.id, sub_id=sub["id"]
    )
    for _ in range(3):
        response = deliver(client, evt)
        assert response.status_code == 200
        assert response.get_json() == {"received": True, "duplicate": True}
    assert len(fake_stripe.calls("GET", f"/v1/subscriptions/{sub['id']}")) == reads
    assert _events_with_id(stripe_app, evt["id"]) == 1
    stored = stored_event(stripe_app, evt["id"])
    assert stored is not None and stored.processed_at is not None and stored.error is None
    row = subscription_row(stripe_app, tf)
    assert row is not None and row.status == "active"


def test_updated_before_created_converges(stripe_app: Flask, fake_stripe: FakeStripe) -> None:
    tf = Factory(stripe_app).tenant("wh-order")
    customer = _customer(fake_stripe, tf)
    client = stripe_app.test_client()
    created_payload = fake_stripe.put_subscription(
        customer=customer, status="trialing", tenant_id=tf.tenant.id, plan="starter"
    )
    final = fake_stripe.put_subscription(
        customer=customer,
        status="active",
        tenant_id=tf.tenant.id,
        plan="pro",
        interval="year",
        sub_id=created_payload["id"],
    )
    now = int(time.time())
    updated = event("customer.subscription.updated", final, created=now)
    created = event("customer.subscription.created", created_payload, created=now - 60)
    assert deliver(client, updated).status_code == 200
    assert deliver(client, created).status_code == 200
    row = subscription_row(stripe_app, tf)
    assert row is not None
    assert (row.status, row.plan, row.interval) == ("active", "pro", "year")
    assert row.last_event_created is not None and int(row.last_event_created.timestamp()) == now


def test_deleted_then_a_late_updated_stays_canceled(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("wh-late")
    customer = _customer(fake_stripe, tf)
    client = stripe_app.test_client()
    active = fake_stripe.put_subscription(
        customer=customer, status="active", tenant_id=tf.tenant.id
    )
    assert deliver(client, event("customer.subscription.created", active)).status_code == 200
    canceled = fake_stripe.put_subscription(
        customer=customer, status="canceled", tenant_id=tf.tenant.id, sub_id=active["id"]
    )
    assert deliver(client, event("customer.subscription.deleted", canceled)).status_code == 200
    # The late "updated" carries the old, active snapshot: the handler ignores it and
    # reads Stripe's state (canceled).
    late = event("customer.subscription.updated", active, created=int(time.time()) - 3600)
    assert deliver(client, late).status_code == 200
    row = subscription_row(stripe_app, tf)
    assert row is not None and row.status == "canceled"
    usage = Api(client, tf).get("/usage").get_json()
    assert (usage["plan"], usage["status"]) == ("free", "canceled")


def test_shuffled_lifecycle_converges_whatever_the_order(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    """Every delivery order of a whole lifecycle ends on Stripe's final state."""
    orders = list(itertools.permutations(range(4)))[::5]
    for order in orders:
        tf = Factory(stripe_app).tenant("wh-shuffle")
        customer = _customer(fake_stripe, tf)
        client = stripe_app.test_client()
        sub = fake_stripe.put_subscription(
            customer=customer, status="trialing", tenant_id=tf.tenant.id
        )
        invoice = {
            "id": new_id("in"),
            "object": "invoice",
            "customer": customer,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": sub["id"], "metadata": {}},
            },
        }
        events = [
            event("customer.subscription.created", sub),
            event("invoice.paid", invoice),
            event("customer.subscription.updated", {**sub, "status": "past_due"}),
            event("invoice.payment_failed", invoice),
        ]
        fake_stripe.put_subscription(
            customer=customer,
            status="unpaid",
            tenant_id=tf.tenant.id,
            sub_id=sub["id"],
            plan="starter",
        )
        for index in order:
            assert deliver(client, events[index]).status_code == 200
        row = subscription_row(stripe_app, tf)
        assert row is not None
        assert (row.status, row.plan) == ("unpaid", "starter"), order


def test_a_late_event_about_an_old_subscription_does_not_undo_a_new_one(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("wh-resub")
    customer = _customer(fake_stripe, tf)
    client = stripe_app.test_client()
    old = fake_stripe.put_subscription(customer=customer, status="canceled", tenant_id=tf.tenant.id)
    new = fake_stripe.put_subscription(customer=customer, status="active", tenant_id=tf.tenant.id)
    assert deliver(client, event("customer.subscription.created", new)).status_code == 200
    assert deliver(client, event("customer.subscription.deleted", old)).status_code == 200
    row = subscription_row(stripe_app, tf)
    assert row is not None and (row.stripe_subscription_id, row.status) == (new["id"], "active")


def test_an_event_for_another_tenants_customer_is_not_applied(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    factory = Factory(stripe_app)
    a, b = factory.tenant("wh-a"), factory.tenant("wh-b")
    customer_a = _customer(fake_stripe, a)
    _store_customer(stripe_app, a, customer_a)
    # A subscription on A's customer whose metadata names B (made by hand in Stripe).
    sub = fake_stripe.put_subscription(customer=customer_a, status="active", tenant_id=b.tenant.id)
    evt = event("customer.subscription.created", sub)
    assert deliver(stripe_app.test_client(), evt).status_code == 200
    assert subscription_row(stripe_app, b) is None
    row_a = subscription_row(stripe_app, a)
    assert row_a is not None and row_a.status is None
    stored = stored_event(stripe_app, evt["id"])
    assert stored is not None and stored.error and "belongs to tenant" in stored.error


def test_stripe_down_keeps_the_event_and_a_resend_applies_it(
    stripe_app: Flask, fake_stripe: FakeStripe
) -> None:
    tf = Factory(stripe_app).tenant("wh-down")
    customer = _customer(fake_stripe, tf)
    sub = fake_stripe.put_subscription(customer=customer, status="active", tenant_id=tf.tenant.id)
    evt = event("customer.subscription.created", sub)
    client = stripe_app.test_client()
    fake_stripe.failing = True
    try:
        # Still acknowledged: the event is stored, its failure noted.
        assert deliver(client, evt).status_code == 200
    finally:
        fake_stripe.failing = False
    stored = stored_event(stripe_app, evt["id"])
    assert stored is not None and stored.processed_at is None and stored.error
    assert subscription_row(stripe_app, tf) is None
    # "Resend" from the Dashboard: the failed event is taken again and processed.
    assert deliver(client, evt).get_json() == {"received": True, "duplicate": False}
    stored = stored_event(stripe_app, evt["id"])
    assert stored is not None and stored.processed_at is not None and stored.error is None
    row = subscription_row(stripe_app, tf)
    assert row is not None and row.status == "active"


def test_unhandled_events_are_stored_as_processed(stripe_app: Flask) -> None:
    evt = event("charge.succeeded", {"id": new_id("ch"), "object": "charge"})
    assert deliver(stripe_app.test_client(), evt).status_code == 200
    stored = stored_event(stripe_app, evt["id"])
    assert stored is not None and stored.type == "charge.succeeded"
    assert stored.processed_at is not None


def test_trial_will_end_mails_the_owner_once(
    stripe_app: Flask, fake_stripe: FakeStripe, smtp_sink: SmtpSink
) -> None:
    tf = Factory(stripe_app).tenant("wh-trial")
    customer = _customer(fake_stripe, tf)
    trial_end = int(time.time()) + 3 * 86400
    sub = fake_stripe.put_subscription(
        customer=customer, status="trialing", tenant_id=tf.tenant.id, trial_end=trial_end
    )
    evt = event("customer.subscription.trial_will_end", sub)
    client = stripe_app.test_client()
    assert deliver(client, evt).status_code == 200
    assert deliver(client, evt).status_code == 200
    mails = smtp_sink.wait_for(tf.owner_email)
    assert len(mails) == 1
    assert "trial" in mails[0].subject.lower()
    assert time.strftime("%Y-%m-%d", time.gmtime(trial_end)) in mails[0].text
    assert any("/settings/billing" in link for link in mails[0].links())
    time.sleep(0.2)
    assert len(smtp_sink.to(tf.owner_email)) == 1


def test_webhook_without_a_configured_secret_refuses(app: Flask) -> None:
    evt = event("customer.subscription.created", {"id": "sub_x", "object": "subscription"})
    response = deliver(app.test_client(), evt)
    assert response.status_code == 400
    assert stored_event(app, evt["id"]) is None
    assert_error(response, 400, "invalid_signature")
