"""The board page: columns paginate per stage, totals per currency, scope, filters,
and moving cards through plain forms (no script) or the script's JSON answers."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import Api
from tests.board.conftest import history, seed_deals
from tests.conftest import Factory, TenantFixture, csrf_token_from, login
from tests.pipelines.conftest import default_pipeline, new_deal, stage_named
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text

CARD = re.compile(
    r'<li class="board-card[^"]*" id="deal-(\d+)" data-deal-id="\d+" data-stage-id="(\d+)"'
)


def _owner(client: FlaskClient, tf: TenantFixture) -> Browser:
    assert login(client, tf).status_code == 302
    return Browser(client, tf)


def _cards(html: str) -> list[tuple[int, int]]:
    return [(int(d), int(s)) for d, s in CARD.findall(html)]


def _column(html: str, stage_id: int) -> str:
    start = html.index(f'data-stage-id="{stage_id}" data-stage-kind')
    end = html.find("data-column", start + 1)
    return html[start : end if end != -1 else len(html)]


def test_columns_paginate_by_fifty(
    app: Flask, client: FlaskClient, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead, proposal = stage_named(sales, "Lead"), stage_named(sales, "Proposal")
    seed_deals(app, starter, pipeline_id=sales["id"], stage_id=lead["id"], count=120)
    seed_deals(app, starter, pipeline_id=sales["id"], stage_id=proposal["id"], count=3)
    owner = _owner(client, starter)
    page = owner.get(f"/pipelines/{sales['id']}/board")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    lead_cards = [d for d, s in _cards(html) if s == lead["id"]]
    assert len(lead_cards) == 50 and lead_cards == sorted(lead_cards, reverse=True)
    assert len([d for d, s in _cards(html) if s == proposal["id"]]) == 3
    seen = list(lead_cards)
    column = _column(html, lead["id"])
    assert '<span class="board-count" data-count' in column and ">120</span>" in column
    more = re.search(r'data-load-more href="([^"]+)"', column)
    while more:
        url = more.group(1).replace("&amp;", "&")
        partial = owner.get(url + "&partial=1")
        assert partial.status_code == 200
        body = partial.get_data(as_text=True)
        assert "<html" not in body
        seen += [d for d, _ in _cards(body)]
        # Without scripts the same link is a page of its own.
        assert "<html" in owner.get(url).get_data(as_text=True)
        more = re.search(r'data-load-more href="([^"]+)"', body)
    assert len(seen) == 120 and len(set(seen)) == 120
    # The default pipeline's board has its own address.
    default = owner.get("/deals/board")
    assert default.status_code == 200 and _cards(default.get_data(as_text=True))


def test_totals_per_currency_and_filters(
    app: Flask, client: FlaskClient, factory: Factory, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead = stage_named(sales, "Lead")
    seed_deals(
        app,
        starter,
        pipeline_id=sales["id"],
        stage_id=lead["id"],
        count=3,
        amount_minor=10000,
        currency="EUR",
    )
    seed_deals(
        app,
        starter,
        pipeline_id=sales["id"],
        stage_id=lead["id"],
        count=2,
        amount_minor=500,
        currency="JPY",
    )
    seed_deals(
        app, starter, pipeline_id=sales["id"], stage_id=lead["id"], count=1, amount_minor=None
    )
    owner = _owner(client, starter)
    column = _column(
        owner.get(f"/pipelines/{sales['id']}/board").get_data(as_text=True), lead["id"]
    )
    text = visible_text(column)
    assert ">6</span>" in column
    # 3 x 100.00 EUR and 2 x 500 JPY, never added together; Lead weighs 10 %.
    assert "€300.00" in text and "¥1,000" in text
    assert "weighted €30.00" in text and "weighted ¥100" in text
    # Filters: tag, owner and close date narrow cards and totals alike.
    tagged = new_deal(
        owner_api, title="Tagged", amount="7.00", tags=["vip"], expected_close_date="2030-01-15"
    )
    page = owner.get(f"/pipelines/{sales['id']}/board?tag=vip").get_data(as_text=True)
    assert [d for d, _ in _cards(page)] == [tagged["id"]]
    assert "€7.00" in visible_text(_column(page, lead["id"]))
    dated = owner.get(
        f"/pipelines/{sales['id']}/board?expected_close_from=2030-01-01&expected_close_to=2030-01-31"
    ).get_data(as_text=True)
    assert [d for d, _ in _cards(dated)] == [tagged["id"]]
    rep_id, _, _ = factory.member(starter, role="sales_rep")
    nobody = owner.get(f"/pipelines/{sales['id']}/board?owner_id={rep_id}")
    assert _cards(nobody.get_data(as_text=True)) == []
    # Nonsense filter values are left out, never an error, and the board says so.
    odd = owner.get(f"/pipelines/{sales['id']}/board?owner_id=abc&expected_close_from=soon")
    assert odd.status_code == 200 and len(_cards(odd.get_data(as_text=True))) == 7
    said = visible_text(odd.get_data(as_text=True))
    assert "The owner filter was not applied: “abc” is not a person." in said
    assert "The “Closing from” date was not applied: “soon” is not a date" in said
    long_tag = owner.get(f"/pipelines/{sales['id']}/board?tag={'x' * 51}")
    assert len(_cards(long_tag.get_data(as_text=True))) == 7
    assert "a tag has at most 50 characters" in text_of(long_tag)
    backwards = owner.get(
        f"/pipelines/{sales['id']}/board?expected_close_from=2030-02-01&expected_close_to=2030-01-01"
    )
    assert _cards(backwards.get_data(as_text=True)) == []
    assert "The closing dates are the wrong way round" in text_of(backwards)
    # Good values say nothing.
    assert 'role="alert"' not in _column(page, lead["id"]) and "not applied" not in page
    assert owner.get("/pipelines/999999/board").status_code == 404
    assert owner.get(f"/pipelines/{sales['id']}/board/stages/999999").status_code == 404


def test_scope_sales_rep_sees_and_moves_own_deals(
    app: Flask, client: FlaskClient, factory: Factory, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead, qualified = stage_named(sales, "Lead"), stage_named(sales, "Qualified")
    rep_id, rep_email, rep_token = factory.member(starter, role="sales_rep")
    theirs = new_deal(owner_api, title="Owner's", amount="5.00")
    mine = new_deal(Api(client, starter, token=rep_token), title="Rep's", amount="2.00")
    rep = sign_in_as(app, starter, rep_email)
    html = rep.get(f"/pipelines/{sales['id']}/board").get_data(as_text=True)
    assert [d for d, _ in _cards(html)] == [mine["id"]]
    assert "€5.00" not in visible_text(html) and ">1</span>" in _column(html, lead["id"])
    token = csrf_token_from(html)
    refused = rep.post(
        f"/deals/{theirs['id']}/board-move",
        data={"csrf_token": token, "stage_id": str(qualified["id"])},
    )
    assert refused.status_code == 404
    moved = rep.post(
        f"/deals/{mine['id']}/board-move",
        data={
            "csrf_token": token,
            "stage_id": str(qualified["id"]),
            "from_stage_id": str(lead["id"]),
        },
    )
    assert moved.status_code == 302
    assert history(app, starter, mine["id"])[-1]["by"] == rep_id
    _, viewer_email, _ = factory.member(starter, role="viewer")
    viewer = sign_in_as(app, starter, viewer_email)
    page = viewer.get(f"/pipelines/{sales['id']}/board").get_data(as_text=True)
    assert len(_cards(page)) == 2 and "board-card-move" not in page and "draggable" not in page


def test_moves_without_script(
    app: Flask, client: FlaskClient, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead, qualified = stage_named(sales, "Lead"), stage_named(sales, "Qualified")
    lost = stage_named(sales, "Lost")
    deal = new_deal(owner_api, amount="10.00")
    owner = _owner(client, starter)
    board = f"/pipelines/{sales['id']}/board"
    back = f"{board}?tag=x"
    moved = owner.submit(
        board,
        {"stage_id": str(qualified["id"]), "from_stage_id": str(lead["id"]), "back": back},
        action=f"/deals/{deal['id']}/board-move",
    )
    assert moved.status_code == 302 and moved.location.endswith(back)
    # A lost stage without a reason: a page asking for it, nothing changed.
    asked = owner.submit(
        board,
        {"stage_id": str(lost["id"]), "from_stage_id": str(qualified["id"])},
        action=f"/deals/{deal['id']}/board-move",
    )
    assert asked.status_code == 400
    assert "Say why the deal was lost" in text_of(asked)
    assert 'name="lost_reason"' in asked.get_data(as_text=True)
    assert len(history(app, starter, deal["id"])) == 2
    done = owner.post(
        f"/deals/{deal['id']}/board-move",
        data={
            "csrf_token": csrf_token_from(asked.get_data(as_text=True)),
            "stage_id": str(lost["id"]),
            "from_stage_id": str(qualified["id"]),
            "lost_reason": "no budget",
            "back": "//evil.example/",
        },
    )
    assert done.status_code == 302 and done.location.endswith(board)
    body = owner_api.get(f"/deals/{deal['id']}").get_json()
    assert body["status"] == "lost" and body["lost_reason"] == "No budget"
    # A card moved from a stale board: said so, nothing changed.
    stale = owner.submit(
        board,
        {"stage_id": str(lead["id"]), "from_stage_id": str(qualified["id"])},
        action=f"/deals/{deal['id']}/board-move",
    )
    assert stale.status_code == 302
    assert owner_api.get(f"/deals/{deal['id']}").get_json()["stage_id"] == lost["id"]
    assert "Someone else moved this deal" in visible_text(
        owner.get(stale.location).get_data(as_text=True)
    )
    assert len(history(app, starter, deal["id"])) == 3
    # Bad ids are form errors, never a 500.
    bad = owner.submit(board, {"stage_id": "abc"}, action=f"/deals/{deal['id']}/board-move")
    assert bad.status_code == 400


def test_script_answers(
    app: Flask, client: FlaskClient, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead, qualified = stage_named(sales, "Lead"), stage_named(sales, "Qualified")
    lost = stage_named(sales, "Lost")
    deal = new_deal(owner_api, amount="10.00")
    owner = _owner(client, starter)
    board = f"/pipelines/{sales['id']}/board"
    token = csrf_token_from(owner.get(board).get_data(as_text=True))
    headers = {"Accept": "application/json"}

    def move(**data: str) -> Any:
        return owner.post(
            f"/deals/{deal['id']}/board-move",
            data={"csrf_token": token, "back": board, **data},
            headers=headers,
        )

    ok = move(stage_id=str(qualified["id"]), from_stage_id=str(lead["id"]))
    assert ok.status_code == 200
    answer = ok.get_json()
    assert answer["stage_id"] == qualified["id"]
    assert f'id="deal-{deal["id"]}"' in answer["card_html"]
    assert answer["columns"][str(qualified["id"])]["count"] == 1
    assert answer["columns"][str(qualified["id"])]["totals"][0]["amount"] == "10.00"
    assert answer["columns"][str(qualified["id"])]["totals"][0]["weighted"] == "2.50"
    assert answer["columns"][str(lead["id"])] == {"count": 0, "totals": []}
    refused = move(stage_id=str(lost["id"]), from_stage_id=str(qualified["id"]))
    assert refused.status_code == 400
    assert "lost_reason" in refused.get_json()["error"]["details"]
    conflict = move(stage_id=str(lead["id"]), from_stage_id=str(lead["id"]))
    assert conflict.status_code == 409
    body = conflict.get_json()
    assert body["error"]["code"] == "conflict" and body["stage_id"] == qualified["id"]
    assert f'data-stage-id="{qualified["id"]}"' in body["card_html"]


def test_weighted_totals_use_each_deals_probability(
    app: Flask, client: FlaskClient, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead, won, lost = (stage_named(sales, n) for n in ("Lead", "Won", "Lost"))
    # Lead weighs 10 %: 10.00 at the stage's 10 % and 10.00 at its own 50 %.
    new_deal(owner_api, title="Stage's", amount="10.00")
    new_deal(owner_api, title="Own", amount="10.00", probability=50)
    # Won counts whole, lost counts nothing, whatever their own probability says.
    seed_deals(app, starter, pipeline_id=sales["id"], stage_id=won["id"], count=2, status="won")
    seed_deals(app, starter, pipeline_id=sales["id"], stage_id=lost["id"], count=3, status="lost")
    owner = _owner(client, starter)
    html = owner.get(f"/pipelines/{sales['id']}/board").get_data(as_text=True)
    assert "€20.00 weighted €6.00" in visible_text(_column(html, lead["id"]))
    assert "€20.00 weighted €20.00" in visible_text(_column(html, won["id"]))
    assert "€30.00 weighted €0.00" in visible_text(_column(html, lost["id"]))


def test_one_shared_move_menu_and_a_page_without_script(
    app: Flask, client: FlaskClient, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead = stage_named(sales, "Lead")
    seed_deals(app, starter, pipeline_id=sales["id"], stage_id=lead["id"], count=60)
    owner = _owner(client, starter)
    html = owner.get(f"/pipelines/{sales['id']}/board").get_data(as_text=True)
    cards = _cards(html)
    assert len(cards) == 50
    # Cards carry no form: one "Move to" list for the whole board, with every stage.
    assert html.count('name="stage_id"') == 1 and '<form class="board-card-move' not in html
    menu = html[html.index("data-move-dialog") : html.index("</dialog>")]
    assert all(f'<option value="{s["id"]}">' in menu for s in sales["stages"])
    assert 'data-move-url="/deals/{id}/board-move"' in html
    # Without scripts a card's "Move" opens the deal's page, whose stage form moves it.
    deal_id = cards[0][0]
    assert f'<a class="board-card-move" href="/deals/{deal_id}" data-move>' in html
    detail = owner.get(f"/deals/{deal_id}").get_data(as_text=True)
    assert f'action="/deals/{deal_id}/move"' in detail


def test_move_answer_recounts_the_columns_it_changed(
    app: Flask, client: FlaskClient, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead, qualified = stage_named(sales, "Lead"), stage_named(sales, "Qualified")
    proposal = stage_named(sales, "Proposal")
    seed_deals(app, starter, pipeline_id=sales["id"], stage_id=proposal["id"], count=2)
    deal = new_deal(owner_api, amount="10.00")
    owner = _owner(client, starter)
    board = f"/pipelines/{sales['id']}/board"
    token = csrf_token_from(owner.get(board).get_data(as_text=True))
    moved = owner.post(
        f"/deals/{deal['id']}/board-move",
        data={
            "csrf_token": token,
            "back": board,
            "stage_id": str(qualified["id"]),
            "from_stage_id": str(lead["id"]),
        },
        headers={"Accept": "application/json"},
    )
    assert moved.status_code == 200
    # The card as the board draws it: its owner named, its "Move" ready for the script.
    card_html = moved.get_json()["card_html"]
    assert 'class="avatar avatar-xs board-card-owner"' in card_html
    assert f'<a class="board-card-move" href="/deals/{deal["id"]}" data-move>' in card_html
    columns = moved.get_json()["columns"]
    assert set(columns) == {str(lead["id"]), str(qualified["id"])}
    assert columns[str(qualified["id"])]["count"] == 1
    # The totals read back the board's filters from "back": a tag nobody has empties them.
    tagged = owner.post(
        f"/deals/{deal['id']}/board-move",
        data={
            "csrf_token": token,
            "back": f"{board}?tag=nobody",
            "stage_id": str(proposal["id"]),
            "from_stage_id": str(qualified["id"]),
        },
        headers={"Accept": "application/json"},
    ).get_json()["columns"]
    assert tagged == {
        str(qualified["id"]): {"count": 0, "totals": []},
        str(proposal["id"]): {"count": 0, "totals": []},
    }


def test_cards_say_days_in_stage_and_rotting(
    app: Flask, client: FlaskClient, starter: TenantFixture, owner_api: Api
) -> None:
    sales = default_pipeline(owner_api)
    lead = stage_named(sales, "Lead")
    patched = owner_api.patch(
        f"/pipelines/{sales['id']}/stages/{lead['id']}", json={"rotting_days": 5}
    )
    assert patched.status_code == 200, patched.get_json()
    seed_deals(
        app, starter, pipeline_id=sales["id"], stage_id=lead["id"], count=1, entered_days_ago=9
    )
    seed_deals(
        app, starter, pipeline_id=sales["id"], stage_id=lead["id"], count=1, entered_days_ago=1
    )
    owner = _owner(client, starter)
    html = owner.get(f"/pipelines/{sales['id']}/board").get_data(as_text=True)
    cards = re.findall(r'<li class="board-card( is-rotting)?" id="deal-\d+".*?</li>', html, re.S)
    assert cards == ["", " is-rotting"]  # newest first: the day-old card, then the idle one
    blocks = re.findall(r'<li class="board-card[^"]*" id="deal-\d+".*?</li>', html, re.S)
    assert "1 day<" in blocks[0] and "Rotting" not in visible_text(blocks[0])
    assert "9 days<" in blocks[1] and "Rotting" in visible_text(blocks[1])
