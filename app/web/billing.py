"""Billing pages: the usage page in workspace settings, and Stripe's webhook.

``/settings/billing`` (members who may view billing: owners and admins) shows each limit
as a bar, the plan and its status, the next invoice and payment status, a preview of
what a downgrade would leave over its caps, and, with Stripe configured, the actions
that send the owner to Stripe (Checkout to upgrade, the Customer Portal to manage
payment, plan and cancellation). In manual mode it says the operator handles billing.

``/billing/stripe/webhook`` (apex host, no session, no CSRF): the raw body is verified
against ``Stripe-Signature``, stored once by event id and queued; Stripe gets its 200
at once (billing.subscriptions).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.access.policy import may
from app.database import db
from app.errors import InvalidInput, error_body
from app.extensions import csrf
from app.hosts import workspace_blueprint
from app.web import guards
from app.web.billing_forms import CheckoutForm, PortalForm
from app.web.forms import show_refusal
from app.web.workspace import member
from billing import access, subscriptions
from billing.limits import tenant_plan, usage_report
from billing.plans import PLAN_KEYS, get_plan
from billing.state import PAST_DUE_STATUS, READ_ONLY_STATUS
from billing.stripe_gateway import gateway

log = logging.getLogger(__name__)

bp = workspace_blueprint("billing", __name__)
guards.install(bp)

webhook_bp = Blueprint("stripe_webhook", __name__)

# Where the upgrade and portal forms end up (Checkout, the Customer Portal).
STRIPE_FORM_TARGETS = "https://checkout.stripe.com https://billing.stripe.com"
# Statuses whose subscription renews at ``current_period_end``.
RENEWING = frozenset({"trialing", "active", "past_due"})


def _stripe_mode() -> bool:
    return current_app.config.get("BILLING_BACKEND") == "stripe"


@bp.app_context_processor
def _billing_nav() -> dict[str, Any]:
    # App-wide: the workspace layout links the billing page and shows the payment
    # banner to members who may view billing.
    return {"may_view_billing": _may_view_billing, "billing_banner": _billing_banner}


def _may_view_billing() -> bool:
    return bool(current_user.is_authenticated and may(current_user.actor, "billing", "view"))


def _billing_banner() -> str | None:
    """``past_due`` or ``unpaid`` when an admin should be told, else None."""
    tenant = g.get("tenant")
    if tenant is None or not _may_view_billing():
        return None
    status = tenant_plan(db.session, tenant.id).status
    return status if status in (PAST_DUE_STATUS, READ_ONLY_STATUS) else None


def read_only_refusal() -> tuple[str, int]:
    """The 403 page of a write to a read-only (unpaid) workspace."""
    return render_template(
        "workspace/billing/read_only.html", message=access.READ_ONLY_MESSAGE
    ), 403


def _require(action: str) -> None:
    if not may(member().actor, "billing", action):
        abort(403)


def _page(checkout_form: CheckoutForm | None = None, status: int = 200) -> Response:
    actor = member().actor
    tenant = g.tenant
    usage = usage_report(db.session)
    plan = tenant_plan(db.session, tenant.id)
    sub = subscriptions.subscription_of(db.session, tenant.id)
    preview_plan = request.args.get("preview", "")
    preview = (
        subscriptions.downgrade_preview(usage, preview_plan, tenant.limit_overrides)
        if preview_plan in PLAN_KEYS
        else None
    )
    renews = bool(sub and sub.status in RENEWING and not sub.cancel_at_period_end)
    html = render_template(
        "workspace/billing/settings.html",
        usage=usage,
        plan=plan,
        sub=sub,
        next_invoice=sub.current_period_end if renews and sub else None,
        ends_at=sub.current_period_end if sub and sub.cancel_at_period_end else None,
        stripe_mode=_stripe_mode(),
        can_manage=may(actor, "billing", "edit"),
        checkout_form=checkout_form or CheckoutForm(plan="pro", interval="month"),
        portal_form=PortalForm(),
        plans=[get_plan(key) for key in PLAN_KEYS],
        preview_plan=preview_plan if preview is not None else None,
        preview=preview,
    )
    response = make_response(html, status)
    if _stripe_mode():
        # The upgrade and portal forms answer with a redirect to Stripe; the browser
        # checks that redirect against this page's form-action, so allow Stripe's hosts.
        policy = current_app.extensions["crm_csp"]
        response.headers["Content-Security-Policy"] = policy.replace(
            "form-action ", f"form-action {STRIPE_FORM_TARGETS} ", 1
        )
    return response


@bp.get("/settings/billing")
@login_required
def settings() -> Response:
    """The usage page."""
    _require("view")
    if request.args.get("checkout") == "done":
        flash(_("Thank you. Your plan changes as soon as Stripe confirms the payment."), "success")
    return _page()


@bp.post("/settings/billing/checkout")
@login_required
def checkout() -> Response:
    """Send the owner to Stripe Checkout for the chosen plan."""
    _require("edit")
    if not _stripe_mode():
        abort(404)
    form = CheckoutForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        url = subscriptions.start_checkout(
            db.session,
            member().actor,
            gateway(),
            g.tenant.id,
            plan=form.plan.data or "",
            interval=form.interval.data or "",
            success_url=url_for("billing.settings", checkout="done", _external=True),
            cancel_url=url_for("billing.settings", _external=True),
        )
    except InvalidInput as refusal:
        show_refusal(form, refusal)
        return _page(form, 400)
    except subscriptions.PaymentProviderUnavailable:
        flash(_("The payment provider could not be reached. Please try again later."), "error")
        return redirect(url_for("billing.settings"))
    return redirect(url, code=303)


@bp.post("/settings/billing/portal")
@login_required
def portal() -> Response:
    """Send the owner to Stripe's Customer Portal."""
    _require("edit")
    if not _stripe_mode():
        abort(404)
    if not PortalForm().validate_on_submit():
        abort(400)
    try:
        url = subscriptions.open_portal(
            db.session,
            member().actor,
            gateway(),
            g.tenant.id,
            return_url=url_for("billing.settings", _external=True),
        )
    except subscriptions.PaymentProviderUnavailable:
        flash(_("The payment provider could not be reached. Please try again later."), "error")
        return redirect(url_for("billing.settings"))
    return redirect(url, code=303)


@webhook_bp.post("/billing/stripe/webhook")
@csrf.exempt
def stripe_webhook() -> tuple[Response, int]:
    """Verify, store once, queue, answer 200; anything unverifiable is 400 and stored
    nowhere."""
    try:
        event = subscriptions.verify_event(
            request.get_data(cache=False),
            request.headers.get("Stripe-Signature"),
            current_app.config.get("STRIPE_WEBHOOK_SECRET"),
        )
    except subscriptions.InvalidWebhook as exc:
        log.info("stripe webhook refused: %s", exc)
        return jsonify(error_body("invalid_signature", "The event could not be verified.")), 400
    received = subscriptions.receive_event(db.engine, event)
    if received.new:
        from billing.tasks import process_stripe_event

        try:
            process_stripe_event.delay(received.id, received.type, received.refs.as_dict())
        except Exception:
            # Stored, so not lost: it is retried on the next delivery of the same event
            # once marked failed, or by an operator. Stripe still gets its 200.
            log.exception("could not queue stripe event %s", received.id)
            subscriptions.record_failure(db.session, received.id, "could not be queued")
    return jsonify({"received": True, "duplicate": not received.inserted}), 200
