"""Exporting a filtered list in a real browser: search, open the Export menu, get the
file (the search narrowed the list without reloading the page, and the export follows
it), then find the export on the exports page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.contacts.models import Contact
from tests.conftest import PASSWORD, TenantFixture
from tests.exports.conftest import add_rows, read_csv
from tests.support.browser import DESKTOP, PHONE, LiveServer, no_horizontal_overflow

pytest.importorskip("playwright.sync_api")


def test_export_a_filtered_list(
    chromium: Any, live_server: LiveServer, tenant: TenantFixture, app: Flask, tmp_path: Path
) -> None:
    add_rows(
        app,
        tenant,
        [
            Contact(first_name="Ada", last_name="Lovelace", email="ada@x.example",
                    owner_id=tenant.owner_id),
            Contact(first_name="Alan", last_name="Turing", owner_id=tenant.owner_id),
            Contact(first_name="Grace", last_name="Hopper", owner_id=tenant.owner_id),
        ],
    )  # fmt: skip
    base = live_server.workspace(tenant.slug)
    context = chromium.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(tenant.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        # The live search changes the list and the address, not the page.
        page.get_by_label("Search contacts", exact=True).fill("Lovelace")
        page.wait_for_url(f"{base}/contacts?q=Lovelace**")
        page.get_by_text("Export", exact=True).click()
        with page.expect_download() as download_info:
            page.get_by_role("button", name="CSV file").click()
        download = download_info.value
        assert download.suggested_filename.startswith("contacts-")
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        rows = read_csv(target.read_bytes())
        assert [row[1:3] for row in rows[1:]] == [["Ada", "Lovelace"]]

        page.goto(f"{base}/exports")
        assert page.get_by_text("q=Lovelace").is_visible()
        page.set_viewport_size(PHONE)
        assert no_horizontal_overflow(page)
        page.goto(f"{base}/contacts")
        page.get_by_text("Export", exact=True).click()
        assert page.get_by_role("button", name="Excel workbook (XLSX)").is_visible()
        assert no_horizontal_overflow(page)
    finally:
        context.close()
