"""The reports page in a real browser: charts are drawn (with size), the page fits a
phone's width, and the filter form changes the report."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.reports.conftest import World
from tests.support.browser import LiveServer

# The browser fixtures are the web tests'.
from tests.web.conftest import chromium, live_server  # noqa: F401

pytest.importorskip("playwright.sync_api")


@pytest.mark.parametrize("width", [1280, 375])
def test_charts_are_drawn_and_fit_the_screen(
    chromium: Any,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    world: World,
    width: int,
) -> None:
    base = live_server.workspace(world.tf.slug)
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(world.tf.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        page.get_by_role("link", name="Reports", exact=True).click()
        page.wait_for_url(f"{base}/reports")
        page.get_by_label("From", exact=True).fill("2026-02-01")
        page.get_by_label("To", exact=True).fill("2026-02-28")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**from=2026-02-01**")
        funnel = page.locator("#report-funnel svg.chart-svg")
        box = funnel.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
        # Every bar has a size: the funnel's four stages and won.
        widths = page.locator("#report-funnel rect.chart-bar").evaluate_all(
            "bars => bars.map(b => b.getBBox().width)"
        )
        assert len(widths) == 5 and all(w > 0 for w in widths)
        assert widths[0] > widths[-1]
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        shots = os.environ.get("REPORT_SCREENSHOTS")
        if shots:  # a look at the page, for people: REPORT_SCREENSHOTS=/tmp pytest ...
            page.screenshot(path=f"{shots}/reports-{width}.png", full_page=True)
            for section in page.locator("section.report").all():
                name = section.get_attribute("id")
                section.screenshot(path=f"{shots}/{name}-{width}.png")
    finally:
        context.close()
