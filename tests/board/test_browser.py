"""The board in a real browser: drag a card to another column (totals follow), then
move one from the keyboard through the board's shared "Move to" dialog to the lost stage
and give the reason; a stale move (the M key on a card) is a clear conflict."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import Api
from tests.board.conftest import history
from tests.conftest import PASSWORD, TenantFixture
from tests.pipelines.conftest import default_pipeline, new_deal, stage_named
from tests.support.browser import LiveServer

pytest.importorskip("playwright.sync_api")


def test_drag_a_card_then_lose_one_through_the_dialog(
    app: Flask, chromium: Any, live_server: LiveServer, starter: TenantFixture, client: FlaskClient
) -> None:
    api = Api(client, starter)
    sales = default_pipeline(api)
    lead, qualified = stage_named(sales, "Lead"), stage_named(sales, "Qualified")
    lost = stage_named(sales, "Lost")
    first = new_deal(api, title="Window job", amount="100.00")
    second = new_deal(api, title="Door job", amount="40.00")
    base = live_server.workspace(starter.slug)
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(starter.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        page.goto(f"{base}/pipelines/{sales['id']}/board")
        target = page.locator(f'[data-column][data-stage-id="{qualified["id"]}"]')
        with page.expect_response(lambda r: r.url.endswith("/board-move")) as answer:
            page.locator(f"#deal-{first['id']} .board-card-title").drag_to(target)
        assert answer.value.status == 200
        page.wait_for_selector(
            f'[data-column][data-stage-id="{qualified["id"]}"] #deal-{first["id"]}'
        )
        assert target.locator("[data-count]").inner_text() == "1"
        assert "€100.00" in target.locator("[data-totals]").inner_text()
        source = page.locator(f'[data-column][data-stage-id="{lead["id"]}"]')
        assert source.locator("[data-count]").inner_text() == "1"
        # From the keyboard: the card's "Move" button opens the board's one "Move to"
        # dialog, focus on its stage list; choosing the lost stage asks why first.
        second_card = page.locator(f"#deal-{second['id']}")
        second_card.get_by_role("button", name="Move Door job").focus()
        page.keyboard.press("Enter")
        menu = page.locator("[data-move-dialog]")
        menu.wait_for(state="visible")
        assert "Door job" in menu.inner_text()
        assert page.evaluate("document.activeElement.id") == "move-dialog-stage"
        menu.get_by_label("Move to").select_option(str(lost["id"]))
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        menu.wait_for(state="hidden")
        dialog = page.locator("[data-lost-dialog]")
        dialog.wait_for(state="visible")
        dialog.get_by_label("Reason").fill("Price too high")
        dialog.get_by_label("Lost to competitor (optional)").fill("Rival Inc")
        with page.expect_response(lambda r: r.url.endswith("/board-move")) as answer:
            dialog.get_by_role("button", name="Mark as lost").click()
        assert answer.value.status == 200
        page.wait_for_selector(f'[data-column][data-stage-id="{lost["id"]}"] #deal-{second["id"]}')
        stored = api.get(f"/deals/{second['id']}").get_json()
        assert stored["status"] == "lost" and stored["lost_reason"] == "Price too high"
        assert stored["lost_to_competitor"] == "Rival Inc"
        assert [r["to"] for r in history(app, starter, second["id"])] == [lead["id"], lost["id"]]
        # Someone else moves the first deal meanwhile: the next move is a clear conflict.
        api.patch(f"/deals/{first['id']}", json={"stage_id": lead["id"]})
        # The M key on a focused card opens the same dialog.
        page.locator(f"#deal-{first['id']} .board-card-title").focus()
        page.keyboard.press("m")
        menu.wait_for(state="visible")
        assert "Window job" in menu.inner_text()
        menu.get_by_label("Move to").select_option(str(stage_named(sales, "Proposal")["id"]))
        with page.expect_response(lambda r: r.url.endswith("/board-move")) as answer:
            menu.get_by_role("button", name="Move", exact=True).click()
        assert answer.value.status == 409
        page.wait_for_selector(f'[data-column][data-stage-id="{lead["id"]}"] #deal-{first["id"]}')
        assert "Someone else moved this deal" in page.locator("[data-board-status]").inner_text()
    finally:
        context.close()
