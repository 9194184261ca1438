"""Finding and merging a duplicate contact in a real browser, at phone width."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.contacts.models import Contact
from tests.api.conftest import tenant_session
from tests.conftest import PASSWORD, TenantFixture
from tests.duplicates.conftest import seed_contacts
from tests.support.browser import PHONE, LiveServer, no_horizontal_overflow

pytest.importorskip("playwright.sync_api")


def test_find_compare_and_merge(
    chromium: Any, live_server: LiveServer, tenant: TenantFixture, app: Flask
) -> None:
    keep, other = seed_contacts(
        app,
        tenant,
        [
            {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
            {
                "first_name": "Anne",
                "last_name": "Lee-Harrington of the Very Long Family Name",
                "email": "Ann@Example.com",
                "phone": "+1 555 0100",
                "notes": "Prefers mail. " * 20,
            },
        ],
    )
    base = live_server.workspace(tenant.slug)
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(tenant.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        page.get_by_role("link", name="Duplicates").click()
        page.wait_for_url(f"{base}/contacts/duplicates")
        assert page.get_by_text("Same email", exact=True).is_visible()
        assert no_horizontal_overflow(page), "duplicates list"

        page.get_by_role("link", name="Compare and merge").click()
        page.wait_for_url(f"{base}/contacts/{keep}/merge/{other}")
        assert no_horizontal_overflow(page), "merge page"
        assert page.get_by_role("heading", name="What comes over").is_visible()
        # Take the other record's last name; the phone comes over by default.
        page.locator('input[name="field-last_name"][value="other"]').check()
        page.get_by_role("button", name="Merge").click()
        page.wait_for_url(f"{base}/contacts/{keep}")
        assert page.get_by_text("was merged into this record").is_visible()
        assert page.get_by_text("merged Anne Lee-Harrington").first.is_visible()
        assert no_horizontal_overflow(page), "kept card"
    finally:
        context.close()
    with tenant_session(app, tenant) as session:
        assert session.get(Contact, other) is None
        kept = session.get(Contact, keep)
        assert kept is not None
        assert (kept.first_name, kept.phone) == ("Ann", "+1 555 0100")
        assert kept.last_name.startswith("Lee-Harrington")
