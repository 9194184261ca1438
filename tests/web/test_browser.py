"""The workspace UI in a real browser: Debian's Chromium driven by Playwright, against
the app served over real HTTP on 127.0.0.1 with workspace hosts resolved by Chromium.

Set ``CRM_SCREENSHOT_DIR`` to keep the screenshots somewhere to look at them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, Factory, TenantFixture
from tests.support.browser import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    SKIP_REASON,
    LiveServer,
)
from tests.support.browser import no_horizontal_overflow as _no_horizontal_overflow
from tests.web.conftest import seed_contacts

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

LONG_EMAIL = (
    "bartholomew.maximilian.wolfeschlegelsteinhausenbergerdorff@a-very-long-company-domain.example"
)


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go."""
    wanted = os.environ.get("CRM_SCREENSHOT_DIR")
    if wanted:
        path = Path(wanted)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def workspace(factory: Factory, app: Flask) -> TenantFixture:
    """A workspace with a few contacts, some of them awkward to lay out."""
    tf = factory.tenant("browser", name="Northwind Trading")
    seed_contacts(
        app,
        tf,
        [
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@analytical.example",
                "phone": "+44 20 7946 0000",
                "title": "Mathematician",
                "company_name": "Analytical Engines",
            },
            {
                "first_name": "Linus",
                "last_name": "Torvalds",
                "email": "linus@kernel.example",
                "phone": "+1 503 555 0100",
                "company_name": "Kernel Works",
            },
            {
                "first_name": "מרים",
                "last_name": "כהן",
                "email": "miriam@example.co.il",
                "phone": "+972 3 555 0123",
                "company_name": "חברת הדוגמה",
            },
            {
                "first_name": "Bartholomew-Maximilian",
                "last_name": "Wolfeschlegelsteinhausenbergerdorff",
                "email": LONG_EMAIL,
                "company_name": "International Consolidated Holdings and Subsidiaries Limited",
            },
            {"first_name": "Zoë", "last_name": "Ñúñez", "email": "zoe@example.es", "title": "CEO"},
        ],
    )
    return tf


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None
    return dict(box)


def _sign_in(
    page: Any, server: LiveServer, tf: TenantFixture, shots: tuple[Path, str] | None = None
) -> None:
    """From the apex sign-in to the workspace's contact list, with one wrong password."""
    page.goto(f"{server.apex}/login")
    page.get_by_label("Workspace address").fill(tf.slug)
    if shots:
        assert _no_horizontal_overflow(page), "apex sign-in"
        page.screenshot(path=shots[0] / f"apex-login-{shots[1]}.png", full_page=True)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{server.workspace(tf.slug)}/login")
    expect(page.get_by_role("heading", name="Sign in to Northwind Trading")).to_be_visible()
    page.get_by_label("Email").fill(tf.owner_email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    if shots:
        assert _no_horizontal_overflow(page), "workspace sign-in"
        page.screenshot(path=shots[0] / f"login-failed-{shots[1]}.png", full_page=True)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.workspace(tf.slug)}/contacts")


def test_the_contact_journey(
    chromium: Any, live_server: LiveServer, workspace: TenantFixture, screenshots: Path
) -> None:
    base = live_server.workspace(workspace.slug)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        _sign_in(page, live_server, workspace, (screenshots, "desktop"))
        expect(page.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()
        expect(page.locator("table.list tbody tr")).to_have_count(5)
        page.screenshot(path=screenshots / "list-desktop.png", full_page=True)

        # A new contact; first with an invalid email, which the server refuses per field.
        page.get_by_role("link", name="New contact").click()
        page.wait_for_url(f"{base}/contacts/new")
        page.get_by_label("First name").fill("Grace")
        page.get_by_label("Last name").fill("Hopper")
        page.get_by_label("Email").fill("grace-at-navy")
        page.get_by_role("button", name="Save contact").click()
        expect(page.locator("#email-error")).to_be_visible()
        expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Email")).to_be_focused()
        expect(page.get_by_label("First name")).to_have_value("Grace")
        page.screenshot(path=screenshots / "form-errors-desktop.png", full_page=True)
        page.get_by_label("Email").fill("grace@navy.example")
        page.get_by_label("Phone").fill("+1 202 555 0199")
        page.get_by_label("Company name").fill("US Navy")
        page.get_by_label("Notes").fill("Invented the first compiler.\n<b>Not bold</b>")
        page.get_by_role("button", name="Save contact").click()
        page.wait_for_url(re.compile(rf"{re.escape(base)}/contacts/\d+$"))
        expect(page.locator(".flash[role=status]")).to_have_text("Contact created.")
        expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
        expect(page.get_by_text("<b>Not bold</b>")).to_be_visible()
        card_url = page.url

        # Find it with the search box (results refresh while typing).
        page.locator(".topnav").get_by_role("link", name="Contacts").click()
        page.get_by_role("searchbox", name="Search contacts").fill("hopper")
        rows = page.locator("table.list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Grace Hopper")
        page.wait_for_url(re.compile(r"[?&]q=hopper"))
        page.get_by_role("searchbox", name="Search contacts").fill("202555")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        expect(rows).to_have_count(1)

        # Open its card (the whole row is the link) and edit it.
        rows.first.get_by_role("link").click()
        page.wait_for_url(card_url)
        page.get_by_role("link", name="Edit").click()
        page.get_by_label("Job title").fill("Rear Admiral")
        page.get_by_role("button", name="Save changes").click()
        page.wait_for_url(card_url)
        expect(page.locator(".flash[role=status]")).to_have_text("Changes saved.")
        expect(page.locator(".contact-title")).to_contain_text("Rear Admiral")

        # Delete it, confirming in the dialog.
        page.get_by_role("link", name="Delete").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Delete Grace Hopper?")
        page.screenshot(path=screenshots / "delete-dialog-desktop.png")
        dialog.get_by_role("button", name="Delete contact").click()
        page.wait_for_url(f"{base}/contacts")
        expect(page.get_by_role("status")).to_have_text("Grace Hopper was deleted.")
        page.get_by_role("searchbox", name="Search contacts").fill("hopper")
        expect(page.get_by_text("No contact matches “hopper”")).to_be_visible()
        page.goto(card_url)
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        page.screenshot(path=screenshots / "not-found-desktop.png")

        # The user menu signs out.
        page.locator("details.usermenu summary").click()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{base}/login")
        expect(page.get_by_role("status")).to_have_text("You have signed out.")
        assert errors == []
    finally:
        context.close()


def test_phone_width_has_no_horizontal_overflow(
    chromium: Any, live_server: LiveServer, workspace: TenantFixture, screenshots: Path
) -> None:
    base = live_server.workspace(workspace.slug)
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.apex}/")
        assert _no_horizontal_overflow(page), "landing"
        page.screenshot(path=screenshots / "landing-phone.png", full_page=True)
        _sign_in(page, live_server, workspace, (screenshots, "phone"))
        expect(page.locator("table.list tbody tr")).to_have_count(5)
        # Less important columns give way; the name column stays.
        expect(page.get_by_role("columnheader", name="Name")).to_be_visible()
        expect(page.get_by_role("columnheader", name="Phone")).to_be_hidden()
        expect(page.get_by_role("columnheader", name="Company")).to_be_hidden()
        assert _no_horizontal_overflow(page), "contact list"
        page.screenshot(path=screenshots / "list-phone.png", full_page=True)

        page.get_by_role("link", name="New contact").click()
        page.get_by_label("Email").fill("not an email")
        page.get_by_label("Company name").fill("x" * 150)
        page.get_by_role("button", name="Save contact").click()
        expect(page.locator("#email-error")).to_be_visible()
        assert _no_horizontal_overflow(page), "contact form"
        page.screenshot(path=screenshots / "form-phone.png", full_page=True)

        page.goto(f"{base}/contacts?q=Wolfeschlegel")
        page.locator("table.list .row-link").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Bartholomew")
        assert _no_horizontal_overflow(page), "contact card"
        page.screenshot(path=screenshots / "card-phone.png", full_page=True)

        page.locator("details.usermenu summary").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert _no_horizontal_overflow(page), "user menu"
        page.screenshot(path=screenshots / "menu-phone.png")
    finally:
        context.close()


def test_right_to_left_layout_mirrors(
    chromium: Any, live_server: LiveServer, workspace: TenantFixture, screenshots: Path
) -> None:
    base = live_server.workspace(workspace.slug)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()

    def set_direction(direction: str) -> None:
        page.evaluate("(dir) => { document.documentElement.dir = dir; }", direction)

    try:
        _sign_in(page, live_server, workspace)
        heading = page.get_by_role("heading", name="Contacts", exact=True)
        new_button = page.get_by_role("link", name="New contact")
        brand = page.locator(".brand")
        search = page.get_by_role("searchbox", name="Search contacts")
        name_header = page.get_by_role("columnheader", name="Name")

        # Left to right: title and brand at the left, the primary action at the right.
        assert _box(heading)["x"] < _box(new_button)["x"]
        assert _box(brand)["x"] < 100
        ltr_header = _box(name_header)

        set_direction("rtl")
        page.screenshot(path=screenshots / "list-rtl-desktop.png", full_page=True)
        assert _box(heading)["x"] > _box(new_button)["x"]
        assert _box(brand)["x"] + _box(brand)["width"] > DESKTOP["width"] - 100
        # The search box starts at the right; the first column is now the rightmost.
        sort_order = page.get_by_label("Sort order")
        assert _box(search)["x"] + _box(search)["width"] > _box(sort_order)["x"]
        assert _box(name_header)["x"] > ltr_header["x"]
        assert _no_horizontal_overflow(page)

        # On the form, the primary button comes first in reading order: right in RTL.
        page.goto(f"{base}/contacts/new")
        save = page.get_by_role("button", name="Save contact")
        cancel = page.get_by_role("link", name="Cancel")
        first_name = page.get_by_label("First name")
        last_name = page.get_by_label("Last name")
        assert _box(save)["x"] < _box(cancel)["x"]
        assert _box(first_name)["x"] < _box(last_name)["x"]
        set_direction("rtl")
        assert _box(save)["x"] > _box(cancel)["x"]
        assert _box(first_name)["x"] > _box(last_name)["x"]
        # Submitted empty: the page comes back with errors (and the server's direction).
        page.get_by_role("button", name="Save contact").click()
        set_direction("rtl")
        expect(page.locator("#first_name-error")).to_be_visible()
        page.screenshot(path=screenshots / "form-rtl-desktop.png", full_page=True)

        # The user menu opens towards the inline end, inside the window.
        page.locator("details.usermenu summary").click()
        panel = _box(page.locator(".usermenu-panel"))
        assert panel["x"] >= 0
        assert _no_horizontal_overflow(page)
        page.screenshot(path=screenshots / "menu-rtl-desktop.png")
    finally:
        context.close()
