"""The front door in a real browser (Debian's Chromium, Playwright), with mail read
from a real SMTP server: sign up, land in the workspace, invite a colleague who
accepts from the mail, both see the same contacts; a password reset from the mail;
and the lockout after repeated wrong passwords."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.conftest import PASSWORD, Factory, TenantFixture
from tests.support.browser import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    SKIP_REASON,
    LiveServer,
    no_horizontal_overflow,
)
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

NEW_PASSWORD = "violet tugboat harmonica"


def _mail_link(sink: SmtpSink, to: str, contains: str, count: int = 1) -> str:
    """The link containing ``contains`` in the newest of ``count`` mails to ``to``."""
    mail = sink.wait_for(to, count)[-1]
    links = [link for link in mail.links() if contains in link]
    assert links, f"no {contains!r} link in {mail.subject!r}: {mail.text}"
    return links[0]


def _watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    return errors


def test_sign_up_invite_a_colleague_and_share_contacts(
    chromium: Any, live_server: LiveServer, smtp_sink: SmtpSink
) -> None:
    slug = f"nw-{uuid.uuid4().hex[:8]}"
    owner_email = f"founder@{slug}.example"
    colleague_email = f"colleague@{slug}.example"
    base = live_server.workspace(slug)

    owner_ctx = chromium.new_context(viewport=DESKTOP)
    page = owner_ctx.new_page()
    errors = _watch(page)
    colleague_ctx = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        # Sign up on the apex host; the live check says the address is free.
        page.goto(f"{live_server.apex}/")
        page.get_by_role("link", name=re.compile("Start free", re.I)).first.click()
        page.wait_for_url(f"{live_server.apex}/signup")
        page.get_by_label("Company name").fill("Northwind Windows")
        page.get_by_label("Workspace address").fill(slug)
        expect(page.locator("#slug-status")).to_contain_text(re.compile("available", re.I))
        page.get_by_label("Your name").fill("Nora Founder")
        page.get_by_label("Work email").fill(owner_email)
        page.get_by_label("Password").fill("123")
        page.get_by_role("button", name="Create my workspace").click()
        # A weak password comes back as a field error, the other values kept.
        expect(page.locator("#password-error")).to_be_visible()
        expect(page.get_by_label("Company name")).to_have_value("Northwind Windows")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create my workspace").click()

        # Lands signed in on the new workspace.
        page.wait_for_url(re.compile(rf"^{re.escape(base)}/"))
        expect(page.locator("details.usermenu summary")).to_contain_text(owner_email)
        # Not verified yet: the banner asks, and the mail's link confirms.
        expect(page.get_by_text(re.compile("confirm your email", re.I)).first).to_be_visible()
        page.goto(_mail_link(smtp_sink, owner_email, "/verify-email/"))
        expect(page.get_by_role("heading", name="Your email address is confirmed")).to_be_visible()

        # A first contact.
        page.goto(f"{base}/contacts/new")
        page.get_by_label("First name").fill("Ada")
        page.get_by_label("Last name").fill("Lovelace")
        page.get_by_label("Email").fill("ada@analytical.example")
        page.get_by_role("button", name="Save contact").click()
        expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()

        # Invite a colleague as an admin (admins see every contact).
        page.locator(".topnav").get_by_role("link", name="Team").click()
        page.get_by_label("Email").fill(colleague_email)
        page.get_by_label("Role").select_option("admin")
        page.get_by_role("button", name=re.compile("invit", re.I)).click()
        expect(page.get_by_role("status")).to_contain_text(colleague_email)
        expect(page.locator("main")).to_contain_text(colleague_email)

        # The colleague accepts from the mail, on a phone, creating a password.
        colleague = colleague_ctx.new_page()
        colleague_errors = _watch(colleague)
        colleague.goto(_mail_link(smtp_sink, colleague_email, "/invitations/"))
        expect(colleague.locator("main")).to_contain_text("Northwind Windows")
        colleague.get_by_label("Your name").fill("Carl Colleague")
        colleague.get_by_label("Password", exact=True).fill(PASSWORD)
        colleague.get_by_label(re.compile("Repeat|Confirm", re.I)).fill(PASSWORD)
        assert no_horizontal_overflow(colleague), "invitation page"
        colleague.get_by_role("button", name=re.compile("join", re.I)).click()
        colleague.wait_for_url(re.compile(rf"^{re.escape(base)}/"))

        # Both see the same contacts: the owner's, and one the colleague adds.
        colleague.goto(f"{base}/contacts")
        expect(colleague.locator("table.list tbody tr")).to_have_count(1)
        expect(colleague.locator("table.list")).to_contain_text("Ada Lovelace")
        colleague.goto(f"{base}/contacts/new")
        colleague.get_by_label("First name").fill("Grace")
        colleague.get_by_label("Last name").fill("Hopper")
        colleague.get_by_role("button", name="Save contact").click()
        expect(colleague.get_by_role("heading", name="Grace Hopper")).to_be_visible()
        page.goto(f"{base}/contacts")
        expect(page.locator("table.list tbody tr")).to_have_count(2)
        expect(page.locator("table.list")).to_contain_text("Grace Hopper")

        # The team page lists both members, and the seats they take.
        page.goto(f"{base}/settings/team")
        expect(page.locator("main")).to_contain_text("Carl Colleague")
        assert errors == [] and colleague_errors == []
    finally:
        owner_ctx.close()
        colleague_ctx.close()


@pytest.fixture
def workspace(factory: Factory) -> TenantFixture:
    return factory.tenant("door", name="Door Test Ltd")


def test_password_reset_from_the_mail(
    chromium: Any, live_server: LiveServer, smtp_sink: SmtpSink, workspace: TenantFixture
) -> None:
    base = live_server.workspace(workspace.slug)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = _watch(page)
    try:
        page.goto(f"{base}/login")
        page.get_by_role("link", name=re.compile("Forgot", re.I)).click()
        page.get_by_label("Email").fill(workspace.owner_email)
        page.get_by_role("button", name=re.compile("link", re.I)).click()
        expect(page.locator("main")).to_contain_text(re.compile("if an account", re.I))

        page.goto(_mail_link(smtp_sink, workspace.owner_email, "/reset-password/"))
        page.get_by_label("New password", exact=True).fill("password123")
        page.get_by_label(re.compile("Repeat|Confirm", re.I)).fill("password123")
        page.get_by_role("button", name=re.compile("password", re.I)).click()
        expect(page.locator(".field-error").first).to_be_visible()  # a common password
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label(re.compile("Repeat|Confirm", re.I)).fill(NEW_PASSWORD)
        page.get_by_role("button", name=re.compile("password", re.I)).click()
        page.wait_for_url(re.compile(rf"^{re.escape(base)}/(?!reset)"))
        expect(page.locator("details.usermenu summary")).to_contain_text(workspace.owner_email)

        # Signed out, the old password no longer works and the new one does.
        page.locator("details.usermenu summary").click()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{base}/login")
        page.get_by_label("Email").fill(workspace.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
        page.get_by_label("Password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        assert errors == []
    finally:
        context.close()


def test_lockout_after_repeated_failures(
    chromium: Any, live_server: LiveServer, workspace: TenantFixture
) -> None:
    base = live_server.workspace(workspace.slug)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        limit = live_server.app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
        for _ in range(limit):
            page.get_by_label("Email").fill(workspace.owner_email)
            page.get_by_label("Password").fill("not the password")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(re.compile("locked", re.I))
        expect(alert).to_contain_text(re.compile(r"\d+ minute", re.I))
        # While locked, even the right password is refused.
        page.get_by_label("Email").fill(workspace.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text(re.compile("locked", re.I))
        assert "/login" in page.url
    finally:
        context.close()
