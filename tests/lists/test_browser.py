"""The contact list in a real browser: filter with the panel, save the result as a
segment, tick the whole page and add a tag to it with the bulk action bar."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.contacts.models import Contact
from app.lists.models import Segment
from tests.api.conftest import tenant_session
from tests.conftest import PASSWORD, TenantFixture
from tests.lists.conftest import contacts
from tests.support.browser import DESKTOP, PHONE, LiveServer, no_horizontal_overflow

pytest.importorskip("playwright.sync_api")


def test_filter_save_a_segment_and_tag_it_in_bulk(
    chromium: Any, live_server: LiveServer, tenant: TenantFixture, app: Flask
) -> None:
    vera, vic, _otto = contacts(
        app,
        tenant,
        [
            {"first_name": "Vera", "last_name": "Vip", "tags": ["VIP"]},
            {"first_name": "Vic", "last_name": "Vip", "tags": ["vip"]},
            {"first_name": "Otto", "last_name": "Other"},
        ],
    )
    base = live_server.workspace(tenant.slug)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(tenant.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")

        # Filter: the panel is a GET form; empty inputs are left out of the address.
        page.locator(".filter-panel > summary").click()
        page.get_by_label("Has any of these tags").fill("vip")
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_url("**/contacts?*tag_any=vip*")
        assert "created_from" not in page.url
        assert page.locator("a.row-link").count() == 2
        assert page.locator(".filter-chip").count() == 1

        # Save as a shared segment; the list then shows it, chosen in the menu.
        page.locator(".save-segment > summary").click()
        page.get_by_label("Segment name").fill("VIP clients")
        page.get_by_label("Share with the team").check()
        page.get_by_role("button", name="Save segment").click()
        page.wait_for_url("**/contacts?segment=*")
        current = page.locator('.segment-link[aria-current="page"]')
        assert "VIP clients" in current.inner_text()
        assert page.locator("a.row-link").count() == 2

        # Tick the page, add a tag to both.
        page.get_by_label("Select every row of this page").check()
        assert page.locator("[data-bulk-count]").inner_text().startswith("2")
        page.get_by_label("Action").select_option("add_tag")
        assert page.get_by_label("New owner").is_hidden()
        page.get_by_label("Tag", exact=True).fill("Priority")
        page.get_by_role("button", name="Apply to selected").click()
        page.wait_for_selector(".flash-success")
        assert "2 records tagged." in page.locator(".flash-success").inner_text()
        assert "segment=" in page.url  # back on the segment

        context.close()
        context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        phone = context.new_page()
        phone.goto(f"{base}/login")
        phone.get_by_label("Email").fill(tenant.owner_email)
        phone.get_by_label("Password").fill(PASSWORD)
        phone.get_by_role("button", name="Sign in").click()
        phone.wait_for_url(f"{base}/contacts")
        phone.locator(".filter-panel > summary").click()
        assert no_horizontal_overflow(phone), "the open filter panel fits a phone"
    finally:
        context.close()
    with tenant_session(app, tenant) as session:
        tags = {c.id: list(c.tags) for c in session.scalars(select(Contact))}
        assert tags[vera] == ["VIP", "Priority"] and tags[vic] == ["vip", "Priority"]
        segment = session.scalars(select(Segment)).one()
        assert (segment.name, segment.shared, segment.filters) == (
            "VIP clients",
            True,
            {"tag_any": "vip"},
        )
