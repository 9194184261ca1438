"""Company pages in a real browser at phone width: nothing wider than the screen."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import tenant_session
from tests.conftest import PASSWORD, TenantFixture
from tests.support.browser import PHONE, LiveServer, no_horizontal_overflow

pytest.importorskip("playwright.sync_api")


def test_company_pages_fit_a_phone(
    chromium: Any, live_server: LiveServer, tenant: TenantFixture, app: Flask
) -> None:
    from app.companies.models import Company

    with tenant_session(app, tenant) as session:
        company = Company(
            name="International Consolidated Holdings and Subsidiaries Limited",
            domain="a-very-long-subdomain.international-consolidated-holdings.example",
            industry="Conglomerates",
            tags=["VIP", "Key account"],
            owner_id=tenant.owner_id,
        )
        session.add(company)
        session.commit()
        company_id = company.id
    base = live_server.workspace(tenant.slug)
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(tenant.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        for path in ("/contacts", "/companies", f"/companies/{company_id}", "/companies/new"):
            page.goto(f"{base}{path}")
            assert no_horizontal_overflow(page), path
        page.goto(f"{base}/companies/new")
        page.get_by_label("Name").fill("Globex")
        page.get_by_label("Website domain").fill("not a domain")
        page.get_by_role("button", name="Save company").click()
        assert page.locator("#domain-error").is_visible()
        assert no_horizontal_overflow(page), "form with errors"
    finally:
        context.close()
