"""Reordering stages by drag and drop in a real browser: the order is saved through the
API (with the page's version), survives a reload, and the page fits a phone."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import Api
from tests.conftest import PASSWORD, TenantFixture
from tests.pipelines.conftest import default_pipeline
from tests.support.browser import PHONE, LiveServer, no_horizontal_overflow

pytest.importorskip("playwright.sync_api")


def _row_names(page: Any) -> list[str]:
    names: list[str] = page.locator("[data-stage-list] > li input[name='stage-name']").evaluate_all(
        "inputs => inputs.map(input => input.value)"
    )
    return names


def test_drag_and_drop_reorders_stages(
    chromium: Any, live_server: LiveServer, starter: TenantFixture, client: FlaskClient
) -> None:
    api = Api(client, starter)
    sales = default_pipeline(api)
    base = live_server.workspace(starter.slug)
    # Tall enough for the whole list: a drag that has to scroll is not what is tested.
    context = chromium.new_context(viewport={"width": 1280, "height": 2000})
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(starter.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/contacts")
        page.goto(f"{base}/settings/pipelines/{sales['id']}")
        assert _row_names(page)[:2] == ["Lead", "Qualified"]
        lead, proposal = (s["id"] for s in sales["stages"] if s["name"] in ("Lead", "Proposal"))
        handle = page.locator(f"#stage-{lead} [data-drag-handle]")
        assert handle.is_visible()
        with page.expect_response(lambda r: r.url.endswith("/stages/reorder")) as answer:
            handle.drag_to(page.locator(f"#stage-{proposal}"), target_position={"x": 20, "y": 40})
        assert answer.value.status == 200
        page.wait_for_function(
            "document.querySelector('[data-stage-list]').dataset.version === '2'"
        )
        after = _row_names(page)
        assert after.index("Lead") > after.index("Qualified")
        stored = [s["name"] for s in api.get(f"/pipelines/{sales['id']}").get_json()["stages"]]
        assert stored == after
        # The move buttons now carry the new version: a keyboard move still works.
        page.get_by_role("button", name="Move Qualified down").click()
        page.wait_for_load_state()
        stored = [s["name"] for s in api.get(f"/pipelines/{sales['id']}").get_json()["stages"]]
        assert stored.index("Qualified") == after.index("Qualified") + 1
        assert _row_names(page) == stored
        # Someone else reorders meanwhile: the next drag is refused and the page says so.
        current = api.get(f"/pipelines/{sales['id']}").get_json()
        ids = [s["id"] for s in current["stages"]]
        swapped = [ids[1], ids[0], *ids[2:]]
        response = api.post(
            f"/pipelines/{sales['id']}/stages/reorder",
            json={"stage_ids": swapped, "version": current["version"]},
        )
        assert response.status_code == 200
        first, third = ids[0], ids[2]
        with page.expect_response(lambda r: r.url.endswith("/stages/reorder")) as answer:
            page.locator(f"#stage-{third} [data-drag-handle]").drag_to(
                page.locator(f"#stage-{first}"), target_position={"x": 20, "y": 5}
            )
        assert answer.value.status == 409
        assert page.locator("[data-reorder-error]").is_visible()
        stored = [s["id"] for s in api.get(f"/pipelines/{sales['id']}").get_json()["stages"]]
        assert stored == swapped
        phone = context.new_page()
        phone.set_viewport_size(PHONE)
        phone.goto(f"{base}/settings/pipelines/{sales['id']}")
        assert no_horizontal_overflow(phone)
    finally:
        context.close()
