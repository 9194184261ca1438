"""The deal pages: list, card, create (prefilled), edit, stage moves, delete; typed values
kept and field errors shown; scopes; the contact card's deal section."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import Api
from tests.conftest import Factory, TenantFixture
from tests.deals.conftest import events, stages
from tests.web.conftest import Browser, next_link, sign_in_as, text_of, visible_text


def create_deal_page(browser: Browser, **fields: str) -> int:
    response = browser.submit("/deals/new", {"currency": "EUR", **fields})
    assert response.status_code == 302, text_of(response)[:3000]
    match = re.search(r"/deals/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def test_nav_link_and_empty_list(owner: Browser) -> None:
    page = owner.get("/deals")
    assert page.status_code == 200
    html = text_of(page)
    assert 'href="/deals" aria-current="page"' in html
    assert "No deals yet" in visible_text(html)


def test_create_shows_the_card_with_money_in_the_locale(
    owner: Browser, app: Flask, tenant: TenantFixture
) -> None:
    deal_id = create_deal_page(owner, title="Roof repair", amount="1234.5", probability="40")
    card = text_of(owner.get(f"/deals/{deal_id}"))
    text = visible_text(card)
    assert "Roof repair" in text
    assert "€1,234.50" in text
    assert "€493.80" in text  # weighted: 40 %
    assert "Lead" in text
    assert 'id="timeline"' in card  # the history panel
    assert "<script>" not in card and "style=" not in card
    assert [e.kind for e in events(app, tenant, deal_id)] == ["created"]
    listed = visible_text(text_of(owner.get("/deals")))
    assert "Roof repair" in listed and "€1,234.50" in listed


def test_bad_input_keeps_what_was_typed(owner: Browser) -> None:
    response = owner.submit(
        "/deals/new", {"title": "Keep me", "amount": "10.005", "currency": "EUR"}
    )
    assert response.status_code == 200
    html = text_of(response)
    assert 'value="Keep me"' in html and 'value="10.005"' in html
    assert "EUR amounts have at most 2 decimals." in html
    response = owner.submit("/deals/new", {"title": "Yen", "amount": "10.5", "currency": "JPY"})
    assert "JPY amounts have no decimals." in text_of(response)
    response = owner.submit("/deals/new", {"title": "X", "amount": "1e3", "currency": "EUR"})
    assert "Use digits and a decimal point" in text_of(response)
    response = owner.submit("/deals/new", {"title": "X", "amount": "1", "currency": "XXZ"})
    assert "Not a known ISO 4217 currency code." in text_of(response)
    for junk in ({"title": ""}, {"title": "a\x00"}, {"probability": "200"}, {"stage_id": "x"}):
        data = {"title": "T", "currency": "EUR", **junk}
        response = owner.submit("/deals/new", data)
        assert response.status_code == 200, junk
        assert "field-error" in text_of(response), junk
    response = owner.submit(
        "/deals/new", {"title": "T", "currency": "EUR", "stage_id": "99999999999999999999"}
    )
    assert response.status_code == 200
    assert "No such stage." in text_of(response) or "Not a valid choice" in text_of(response)


def test_new_deal_prefills_the_contact(owner: Browser, client: FlaskClient) -> None:
    contact_id = owner.create_contact(first_name="Dana", last_name="Prefill")
    page = text_of(owner.get(f"/deals/new?contact_id={contact_id}"))
    assert f'<option selected value="{contact_id}">Dana Prefill</option>' in page
    assert owner.get("/deals/new?contact_id=abc&company_id=99999999999999999999").status_code == 200
    deal_id = create_deal_page(owner, title="For Dana", contact_id=str(contact_id))
    card = text_of(owner.get(f"/deals/{deal_id}"))
    assert f'href="/contacts/{contact_id}"' in card
    contact_card = text_of(owner.get(f"/contacts/{contact_id}"))
    assert f'href="/deals/{deal_id}"' in contact_card
    assert f'href="/deals/new?contact_id={contact_id}"' in contact_card


def test_move_to_lost_needs_a_reason_then_won_and_reopen(
    owner: Browser, app: Flask, tenant: TenantFixture
) -> None:
    named = stages(app, tenant)
    deal_id = create_deal_page(owner, title="Mover", amount="100")
    card = f"/deals/{deal_id}"
    response = owner.submit(card, {"stage_id": str(named["Lost"]["id"])}, f"{card}/move")
    assert response.status_code == 200
    assert "Say why the deal was lost." in text_of(response)
    assert "Open" in visible_text(text_of(owner.get(card)))
    response = owner.submit(
        card,
        {
            "stage_id": str(named["Lost"]["id"]),
            "lost_reason": "Budget",
            "lost_to_competitor": "Acme",
        },
        f"{card}/move",
    )
    assert response.status_code == 302
    text = visible_text(text_of(owner.get(card)))
    assert "Budget" in text and "to Acme" in text
    response = owner.submit(card, {"stage_id": str(named["Won"]["id"])}, f"{card}/move")
    assert response.status_code == 302
    assert "€100.00" in visible_text(text_of(owner.get(card)))
    response = owner.submit(card, {"stage_id": str(named["Lead"]["id"])}, f"{card}/move")
    assert response.status_code == 302
    kinds = [e.kind for e in events(app, tenant, deal_id)]
    assert kinds == ["created", "stage_changed", "stage_changed", "stage_changed"]
    assert events(app, tenant, deal_id)[-1].data["reopened"] is True
    # A stage of another pipeline is not offered by the card's form.
    response = owner.submit(card, {"stage_id": "99999999"}, f"{card}/move")
    assert response.status_code == 200 and "field-error" in text_of(response)


def test_edit_and_delete(owner: Browser, app: Flask, tenant: TenantFixture) -> None:
    deal_id = create_deal_page(owner, title="Old", amount="5", tags="a, b")
    page = text_of(owner.get(f"/deals/{deal_id}/edit"))
    assert 'value="5.00"' in page and 'value="a, b"' in page
    response = owner.submit(
        f"/deals/{deal_id}/edit", {"title": "New", "amount": "7", "currency": "JPY"}
    )
    assert response.status_code == 302, text_of(response)[:2000]
    assert "¥7" in visible_text(text_of(owner.get(f"/deals/{deal_id}")))
    assert events(app, tenant, deal_id)[-1].kind == "updated"
    assert owner.get(f"/deals/{deal_id}/delete").status_code == 200
    response = owner.submit(f"/deals/{deal_id}/delete", {})
    assert response.status_code == 302
    assert owner.get(f"/deals/{deal_id}").status_code == 404


def test_list_search_filter_and_keyset_pages(owner: Browser, tenant: TenantFixture) -> None:
    api = Api(owner.client, tenant)
    for n in range(27):
        api.post("/deals", json={"title": f"Bulk {n:02d}", "amount": str(n)})
    api.post("/deals", json={"title": "Needle", "amount": "3"})
    page = text_of(owner.get("/deals"))
    link = next_link(page)
    assert link is not None
    second = visible_text(text_of(owner.get(link)))
    assert "Bulk 00" in second and "Needle" not in second
    assert "Needle" in visible_text(text_of(owner.get("/deals?q=needle")))
    assert "No deal matches" in visible_text(text_of(owner.get("/deals?status=won")))
    for junk in ("?cursor=junk", "?sort=evil", "?status=x", "?pipeline_id=abc", "?q=%00"):
        assert owner.get(f"/deals{junk}").status_code == 200, junk
    biggest = visible_text(text_of(owner.get("/deals?sort=-amount")))
    assert biggest.index("Bulk 26") < biggest.index("Bulk 25")


def test_sales_rep_and_viewer(app: Flask, factory: Factory) -> None:
    tenant = factory.tenant("deals", plan="enterprise")  # room for two more seats
    owner = sign_in_as(app, tenant, tenant.owner_email)
    owners_deal = create_deal_page(owner, title="Owner secret deal")
    _, rep_email, _ = factory.member(tenant, role="sales_rep")
    rep = sign_in_as(app, tenant, rep_email)
    assert "Owner secret deal" not in text_of(rep.get("/deals"))
    assert rep.get(f"/deals/{owners_deal}").status_code == 404
    assert rep.get(f"/deals/{owners_deal}/edit").status_code == 404
    mine = create_deal_page(rep, title="Rep deal")
    assert rep.get(f"/deals/{mine}").status_code == 200
    _, viewer_email, _ = factory.member(tenant, role="viewer")
    viewer = sign_in_as(app, tenant, viewer_email)
    card = text_of(viewer.get(f"/deals/{owners_deal}"))
    assert "Owner secret deal" in card and "/move" not in card
    assert viewer.get("/deals/new").status_code == 403
    assert viewer.get(f"/deals/{owners_deal}/edit").status_code == 403


def test_deal_pages_need_sign_in(client: FlaskClient, tenant: TenantFixture) -> None:
    response = client.get("/deals", base_url=tenant.base_url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
