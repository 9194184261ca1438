"""In a real browser: an admin adds a select field, fills it on a contact's form and
reads it on the card; the pages fit a phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PASSWORD, TenantFixture
from tests.support.browser import DESKTOP, PHONE, LiveServer, no_horizontal_overflow

pytest.importorskip("playwright.sync_api")


def test_admin_adds_a_select_and_uses_it_on_a_contact(
    chromium: Any, live_server: LiveServer, tenant: TenantFixture
) -> None:
    base = live_server.workspace(tenant.slug)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(tenant.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")

        page.get_by_label("Account menu").click()
        page.get_by_role("link", name="Custom fields").click()
        page.wait_for_url(f"{base}/settings/custom-fields")
        page.get_by_role("link", name="Add a field").first.click()
        page.get_by_label("Label", exact=True).fill("Customer tier")
        page.get_by_label("Type", exact=True).select_option("single_select")
        page.get_by_label("Options").fill("Gold\nSilver\nBronze")
        page.get_by_role("button", name="Add field").click()
        page.wait_for_url(f"{base}/settings/custom-fields?entity=contact")
        assert page.get_by_text("Customer tier was added.").is_visible()
        assert page.locator("td.cell-name code").inner_text() == "customer_tier"

        page.goto(f"{base}/contacts/new")
        page.get_by_label("First name").fill("Ada")
        page.get_by_label("Customer tier").select_option("Silver")
        page.get_by_role("button", name="Save contact").click()
        page.wait_for_url(f"{base}/contacts/*")
        row = page.locator(".field-row", has=page.locator("dt", has_text="Customer tier"))
        assert row.locator("dd").inner_text() == "Silver"

        page.get_by_role("link", name="Edit", exact=True).first.click()
        assert page.get_by_label("Customer tier").input_value() == "Silver"

        context.close()
        context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(tenant.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        for path in ("/settings/custom-fields", "/settings/custom-fields/new", "/contacts/new"):
            page.goto(f"{base}{path}")
            assert no_horizontal_overflow(page), path
    finally:
        context.close()
