"""An import in a real browser: upload with the progress bar, map, preview, start,
follow the progress to the report, at phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, TenantFixture
from tests.imports.conftest import contacts
from tests.support.browser import PHONE, LiveServer, no_horizontal_overflow

pytest.importorskip("playwright.sync_api")


def test_upload_map_run_and_report(
    chromium: Any, live_server: LiveServer, tenant: TenantFixture, app: Flask, tmp_path: Path
) -> None:
    file = tmp_path / "people.csv"
    rows = "".join(f"Person {i},p{i}@example.com,+49 30 {1000000 + i}\n" for i in range(300))
    file.write_text("Name,E-mail,Telephone\n" + rows + "Broken,not-an-email,\n", encoding="utf-8")
    base = live_server.workspace(tenant.slug)
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(tenant.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        page.goto(f"{base}/imports/new?entity=contact")
        assert no_horizontal_overflow(page), "upload page"
        page.get_by_label("CSV or XLSX file").set_input_files(str(file))
        page.get_by_role("button", name="Upload and continue").click()
        page.wait_for_url("**/imports/*/map")
        assert page.locator("#col_0").input_value() == "full_name"
        assert page.locator("#col_1").input_value() == "email"
        assert page.locator("#col_2").input_value() == "phone"
        assert page.get_by_text("Not a valid email address.").count() == 0  # row 302 is later
        assert page.locator(".import-preview tbody tr").count() == 20
        page.get_by_role("button", name="Start the import").click()
        page.wait_for_url("**/imports/*")
        page.get_by_text("Done", exact=True).wait_for()
        assert page.locator("[data-import-count=created]").inner_text() == "300"
        assert page.locator("[data-import-count=failed]").inner_text() == "1"
        assert page.get_by_text("Row 302: email: Not a valid email address.").is_visible()
        assert no_horizontal_overflow(page), "report page"
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the rows not imported (CSV)").click()
        report = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert report.splitlines()[1].startswith("302,failed,email: Not a valid email address.")
    finally:
        context.close()
    assert len(contacts(app, tenant)) == 300
