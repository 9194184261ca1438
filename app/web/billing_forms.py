"""Forms of the billing page (CSRF-protected): the plan to buy, and the portal button."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from billing.plans import get_plan
from billing.subscriptions import PURCHASABLE

INTERVAL_LABELS = {"month": _l("Monthly"), "year": _l("Yearly (two months free)")}


class CheckoutForm(FlaskForm):
    """Upgrade: a plan and a billing interval, paid through Stripe Checkout."""

    plan = SelectField(
        _l("Plan"),
        choices=[SelectChoice(key, get_plan(key).name) for key in PURCHASABLE],
        validate_choice=False,
    )
    interval = SelectField(
        _l("Billing"),
        choices=[SelectChoice(key, label) for key, label in INTERVAL_LABELS.items()],
        validate_choice=False,
    )


class PortalForm(FlaskForm):
    """Manage billing: payment method, invoices, plan, cancellation in Stripe's portal."""
