"""Mentioning a colleague in a real browser: type "@", pick them from the list with the
keyboard, post; the colleague sees the bell's count and opens the comment from it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.comments.conftest import comments_in, rename, seed
from tests.conftest import PASSWORD, Factory, TenantFixture
from tests.support.browser import CHROMIUM, PHONE, SKIP_REASON, LiveServer, no_horizontal_overflow

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def _sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/contacts")


def test_mention_a_colleague_who_then_sees_the_notification(
    chromium: Any, live_server: LiveServer, workspace: TenantFixture, factory: Factory, app: Flask
) -> None:
    ann_id, ann_email, _ = factory.member(workspace, role="admin")
    rename(app, ann_id, "Ann Lee")
    rita_id, _, _ = factory.member(workspace, role="sales_rep")
    rename(app, rita_id, "Annika Rep")
    contact = seed(app, workspace, "contact", first_name="Grace", last_name="Hopper")
    base = live_server.workspace(workspace.slug)

    writer = chromium.new_context()
    page = writer.new_page()
    try:
        _sign_in(page, base, workspace.owner_email)
        page.goto(f"{base}/contacts/{contact}")
        box = page.get_by_label("Comment")
        box.click()
        box.press_sequentially("Please call her, @ann")
        listbox = page.get_by_role("listbox", name="Members to mention")
        expect(listbox).to_be_visible()
        ann = listbox.get_by_role("option", name="Ann Lee")
        expect(ann).to_have_attribute("aria-selected", "true")
        # The rep may not see the owner's contact: listed, but not to be picked.
        expect(listbox.get_by_role("option", name=re.compile("Annika Rep"))).to_have_attribute(
            "aria-disabled", "true"
        )
        expect(box).to_have_attribute("aria-activedescendant", ann.get_attribute("id") or "")
        box.press("ArrowDown")
        box.press("ArrowDown")  # wraps past the rep back to Ann
        expect(ann).to_have_attribute("aria-selected", "true")
        box.press("Enter")
        expect(listbox).to_be_hidden()
        expect(box).to_have_value("Please call her, @Ann Lee ")
        box.press_sequentially("today.")
        page.get_by_role("button", name="Post comment").click()
        page.wait_for_url(re.compile(rf"/contacts/{contact}\?timeline_cursor="))
        mention = page.locator(".comment .mention")
        expect(mention).to_have_text("@Ann Lee")
    finally:
        writer.close()
    (stored,) = comments_in(app, workspace)
    assert stored["body"] == f"Please call her, @[Ann Lee](user:{ann_id}) today."

    reader = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = reader.new_page()
    try:
        _sign_in(page, base, ann_email)
        bell = page.locator(".nav-bell")
        expect(bell.locator("[data-unread-count]")).to_have_text(re.compile(r"\b1$"))
        assert no_horizontal_overflow(page), "navigation with the bell"
        bell.click()
        page.wait_for_url(f"{base}/notifications")
        assert no_horizontal_overflow(page), "notifications page"
        page.get_by_role("button", name=re.compile("Owner mentioned you on Grace Hopper")).click()
        page.wait_for_url(re.compile(rf"/contacts/{contact}\?timeline_cursor=.*#comment-"))
        expect(page.locator(f"#comment-{stored['id']} .mention")).to_have_text("@Ann Lee")
        expect(page.locator(".nav-bell [data-unread-count]")).to_have_count(0)
    finally:
        reader.close()
