"""Reading a card's history: order, paging without gaps or repeats, visibility, words."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.database import db
from app.timeline.models import TimelineEvent
from tenants.context import tenant_context
from tests.activities.conftest import seed, seed_events
from tests.api.conftest import Api, assert_error
from tests.conftest import Factory
from tests.web.conftest import Browser, text_of

START = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


def test_api_pages_through_65_events_newest_first_without_repeats(app: Flask, api: Api) -> None:
    contact = seed(app, api.tf, "contact")
    other = seed(app, api.tf, "contact")
    ids = seed_events(app, api.tf, 65, START, contact_id=contact)
    seed_events(app, api.tf, 5, START, contact_id=other)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = {"cursor": cursor} if cursor else {}
        response = api.get(f"/contacts/{contact}/timeline", query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert len(body["items"]) <= 25
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    # Newest first; events sharing a time come newest id first.
    assert seen == ids[::-1]
    first = api.get(f"/contacts/{contact}/timeline", query_string={"limit": 1}).get_json()
    item = first["items"][0]
    assert item["kind"] == "comment" and item["actor"] == {"id": api.tf.owner_id, "name": "Owner"}
    assert item["entity"] == "contact" and item["data"] == {"body": "comment 64"}
    for bad in ("nope", "eyJ4IjoxfQ", "WyJ0bCIsIjIwMjQtMDEtMDFUMDA6MDA6MDAiLDFd"):
        assert_error(
            api.get(f"/contacts/{contact}/timeline", query_string={"cursor": bad}),
            400,
            "validation_error",
            "cursor",
        )
    assert_error(
        api.get(f"/contacts/{contact}/timeline", query_string={"since": "x"}),
        400,
        "validation_error",
        "since",
    )


def test_timelines_of_cards_out_of_scope_or_of_another_tenant_are_not_found(
    app: Flask, client: FlaskClient, two_tenants: Any, factory: Factory
) -> None:
    a, b = two_tenants
    rep_id, _, rep_token = factory.member(a, role="sales_rep")
    rep, owner = Api(client, a, rep_token), Api(client, a)
    records = {
        "contacts": seed(app, a, "contact"),
        "companies": seed(app, a, "company"),
        "deals": seed(app, a, "deal"),
    }
    mine = {
        "contacts": seed(app, a, "contact", owner_id=rep_id),
        "companies": seed(app, a, "company", owner_id=rep_id),
        "deals": seed(app, a, "deal", owner_id=rep_id),
    }
    for plural, record_id in records.items():
        assert owner.get(f"/{plural}/{record_id}/timeline").status_code == 200
        assert_error(rep.get(f"/{plural}/{record_id}/timeline"), 404, "not_found")
        assert_error(Api(client, b).get(f"/{plural}/{record_id}/timeline"), 404, "not_found")
        assert_error(owner.get(f"/{plural}/987654321/timeline"), 404, "not_found")
        assert rep.get(f"/{plural}/{mine[plural]}/timeline").status_code == 200


def test_a_call_shows_on_every_card_it_concerns_even_one_the_actor_can_not_see(
    app: Flask, client: FlaskClient, factory: Factory
) -> None:
    """The card grants its history: a rep's call with their contact at the owner's
    company shows on the company card for whoever may see the company."""
    a = factory.tenant("tl", plan="pro")
    rep_id, _, rep_token = factory.member(a, role="sales_rep")
    company = seed(app, a, "company")  # the owner's
    contact = seed(app, a, "contact", owner_id=rep_id, company_id=company)
    rep = Api(client, a, rep_token)
    call = rep.post(
        "/activities",
        json={"type": "call", "subject": "Pricing", "contact_id": contact, "direction": "inbound"},
    )
    assert call.status_code == 201 and call.get_json()["company_id"] == company
    items = Api(client, a).get(f"/companies/{company}/timeline").get_json()["items"]
    assert [(i["kind"], i["data"]["subject"]) for i in items] == [("activity", "Pricing")]
    assert rep.get(f"/companies/{company}/timeline").status_code == 404


def test_deleting_a_contact_keeps_the_history_it_shares(
    app: Flask, client: FlaskClient, factory: Factory
) -> None:
    """A call with a contact stays on its deal's and company's cards when the contact is
    deleted; what only the contact's card showed goes with it, and nothing is left
    behind that no card shows."""
    a = factory.tenant("tlkeep", plan="pro")
    api = Api(client, a)
    company = seed(app, a, "company")
    contact = api.create(first_name="Leaving", company_id=company)["id"]
    deal = seed(app, a, "deal", company_id=company, contact_id=contact)
    call = api.post(
        "/activities",
        json={"type": "call", "subject": "Renewal", "contact_id": contact, "deal_id": deal},
    )
    assert call.status_code == 201
    assert api.delete(f"/contacts/{contact}").status_code == 204
    for card in (f"/deals/{deal}", f"/companies/{company}"):
        items = api.get(f"{card}/timeline").get_json()["items"]
        assert ("activity", "Renewal") in [(i["kind"], i["data"].get("subject")) for i in items]
    with app.app_context(), tenant_context(a.tenant.ref):
        orphans = db.session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(
                TimelineEvent.contact_id.is_(None),
                TimelineEvent.company_id.is_(None),
                TimelineEvent.deal_id.is_(None),
            )
        )
        own = db.session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(TimelineEvent.entity == "contact", TimelineEvent.entity_id == contact)
        )
        db.session.rollback()
    assert orphans == 0 and own == 0


def _ids(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'id="event-(\d+)"', html)]


def test_the_card_panel_pages_with_show_older_and_speaks_plainly(
    app: Flask, owner: Browser
) -> None:
    contact = owner.create_contact(first_name="Ada", email="a@x.example")
    empty = text_of(owner.get(f"/contacts/{contact}"))
    ids = seed_events(app, owner.tf, 30, START, contact_id=contact)
    page = text_of(owner.get(f"/contacts/{contact}"))
    first = _ids(page)
    seeded = [i for i in first if i in ids]
    assert len(first) == 25 and seeded == sorted(seeded, reverse=True)
    assert "<time datetime=" in page and "Owner commented" in page
    match = re.search(r'rel="next" href="([^"]+)"', page)
    assert match, "no show-older link"
    older = text_of(owner.get(unescape(match.group(1))))
    rest = _ids(older)
    assert not set(first) & set(rest)
    assert set(first) | set(rest) == set(ids) | set(_ids(empty))
    # A hand-edited cursor shows the first page, not an error.
    assert _ids(text_of(owner.get(f"/contacts/{contact}?timeline_cursor=zzz"))) == first


def test_events_in_peoples_words(app: Flask, owner: Browser) -> None:
    contact = owner.create_contact(first_name="Ada", email="a@x.example")
    edit = owner.submit(f"/contacts/{contact}/edit", {"first_name": "Ada", "email": "b@x.example"})
    assert edit.status_code == 302
    api = Api(owner.client, owner.tf)
    api.post(
        "/activities",
        json={
            "type": "call",
            "subject": "Intro",
            "contact_id": contact,
            "direction": "outbound",
            "duration_seconds": 720,
            "outcome": "reached",
        },
    )
    task = api.post(
        "/activities", json={"type": "task", "subject": "Send deck", "contact_id": contact}
    ).get_json()
    api.post(f"/activities/{task['id']}/complete", json={"result_note": "Sent v2"})
    from tests.web.conftest import visible_text

    text = visible_text(text_of(owner.get(f"/contacts/{contact}")))
    assert "Owner called — outbound, 12 min, reached" in text
    assert "Task done: Send deck" in text and "Sent v2" in text
    assert "Owner added a task" in text
    from app.timeline.models import TimelineEvent
    from app.timeline.services import record_event
    from tests.activities.conftest import tenant_session

    with tenant_session(app, owner.tf) as session:
        record_event(
            session,
            kind="updated",
            entity="contact",
            entity_id=contact,
            actor_id=owner.tf.owner_id,
            contact_id=contact,
            data={"changes": {"email": ["a@x.example", "b@x.example"]}},
        )
        record_event(
            session,
            kind="stage_changed",
            entity="deal",
            entity_id=None,
            actor_id=owner.tf.owner_id,
            contact_id=contact,
            data={"from_stage": "Demo", "to_stage": "Proposal", "seconds_in_stage": 3 * 86400 + 5},
        )
        session.commit()
        assert session.query(TimelineEvent).count() >= 5
    text = visible_text(text_of(owner.get(f"/contacts/{contact}")))
    assert "Email changed from a@x.example to b@x.example" in text
    assert "Stage moved from Demo to Proposal after 3 days" in text
