"""The navigation's search box in a real browser at phone width (375 px): the typeahead
opens, arrow keys move through it, Enter opens the record, Escape closes it, and the
box never pushes the page wider than the screen."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.companies.models import Company
from app.contacts.models import Contact
from tests.api.conftest import tenant_session
from tests.conftest import PASSWORD, TenantFixture
from tests.support.browser import LiveServer, no_horizontal_overflow

pytest.importorskip("playwright.sync_api")

NARROW = {"width": 375, "height": 740}


def test_typeahead_at_phone_width(
    chromium: Any, live_server: LiveServer, tenant: TenantFixture, app: Flask
) -> None:
    with tenant_session(app, tenant) as session:
        ann = Contact(
            first_name="Annika",
            last_name="Lindqvist-Oyelaran",
            email="annika.lindqvist-oyelaran@a-rather-long-domain.example",
            owner_id=tenant.owner_id,
        )
        session.add_all([ann, Company(name="Annex Holdings", owner_id=tenant.owner_id)])
        session.commit()
        ann_id = ann.id
    base = live_server.workspace(tenant.slug)
    context = chromium.new_context(viewport=NARROW, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(tenant.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        box = page.get_by_role("combobox", name="Search contacts, companies and deals")
        assert box.is_visible()
        assert no_horizontal_overflow(page), "the navigation with the search box"

        box.fill("ann")
        listbox = page.get_by_role("listbox")
        listbox.wait_for(state="visible")
        assert box.get_attribute("aria-expanded") == "true"
        options = page.get_by_role("option")
        assert options.first.inner_text().startswith("Annika Lindqvist-Oyelaran")
        assert "Annex Holdings" in listbox.inner_text()
        assert "All results for “ann”" in listbox.inner_text()
        assert no_horizontal_overflow(page), "the open typeahead"

        # Escape closes it, and arrow keys open it again.
        box.press("Escape")
        listbox.wait_for(state="hidden")
        assert box.get_attribute("aria-expanded") == "false"
        box.press("ArrowDown")
        listbox.wait_for(state="visible")
        box.press("ArrowDown")
        first = page.locator("#navsearch-opt-0")
        assert first.get_attribute("aria-selected") == "true"
        assert box.get_attribute("aria-activedescendant") == "navsearch-opt-0"
        box.press("Enter")
        page.wait_for_url(f"{base}/contacts/{ann_id}")

        # The last option opens the results page, which works without the typeahead too.
        box = page.get_by_role("combobox", name="Search contacts, companies and deals")
        box.fill("annex")
        page.get_by_role("option", name="All results for “annex”").wait_for()
        box.press("ArrowUp")  # from nothing selected, up wraps to the last option
        box.press("Enter")
        page.wait_for_url(f"{base}/search?q=annex")
        assert page.get_by_role("heading", name="Companies").is_visible()
        assert no_horizontal_overflow(page), "the results page"
    finally:
        context.close()


def test_the_box_works_without_javascript(
    chromium: Any, live_server: LiveServer, tenant: TenantFixture, app: Flask
) -> None:
    with tenant_session(app, tenant) as session:
        session.add(Company(name="Initrode", owner_id=tenant.owner_id))
        session.commit()
    base = live_server.workspace(tenant.slug)
    context = chromium.new_context(viewport=NARROW, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(tenant.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        box = page.get_by_role("combobox", name="Search contacts, companies and deals")
        box.fill("initrode")
        box.press("Enter")
        page.wait_for_url(f"{base}/search?q=initrode")
        assert page.get_by_role("link", name="Initrode").is_visible()
    finally:
        context.close()
