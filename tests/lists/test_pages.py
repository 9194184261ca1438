"""The list pages: the filter panel (GET, no scripts needed), chips, refusals shown next
to their filter, segments (save, menu, rename, share, delete) and the bulk action bar
with its confirmation and progress pages."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import func, select

from app.contacts.models import Contact
from app.lists.models import BulkEdit, Segment
from tests.api.conftest import tenant_session
from tests.conftest import csrf_token_from
from tests.lists.conftest import contacts
from tests.web.conftest import Browser, contact_ids, sign_in_as, text_of, visible_text


def _tags(app: Flask, owner: Browser) -> dict[int, list[str]]:
    with tenant_session(app, owner.tf) as session:
        return {c.id: list(c.tags) for c in session.scalars(select(Contact))}


def test_the_filter_panel_narrows_the_list_and_shows_chips(app: Flask, owner: Browser) -> None:
    vip, other = contacts(
        app, owner.tf, [{"first_name": "Vera", "tags": ["VIP"]}, {"first_name": "Otto"}]
    )
    page = owner.get("/contacts?tag_any=vip&created_from=&owner_id=")
    assert page.status_code == 200
    html = text_of(page)
    assert contact_ids(html) == [vip]
    assert 'class="chip filter-chip"' in html
    text = visible_text(html)
    assert "Has any of these tags" in text or "Tags any of" in text
    # The chip's link drops that filter (and nothing else).
    remove = re.search(r'class="chip-remove" href="([^"]+)"', html)
    assert remove is not None
    assert sorted(contact_ids(text_of(owner.get(unescape(remove.group(1)))))) == sorted(
        [vip, other]
    )


def test_a_bad_filter_is_shown_next_to_its_input_and_left_out(app: Flask, owner: Browser) -> None:
    made = contacts(app, owner.tf, [{"first_name": "A"}, {"first_name": "B"}])
    page = owner.get("/contacts?created_from=2026-13-45&not_contacted_days=abc")
    assert page.status_code == 200
    html = text_of(page)
    assert sorted(contact_ids(html)) == sorted(made)
    assert 'id="filter-created_from-error"' in html
    assert 'id="filter-not_contacted_days-error"' in html
    assert "Give a date as YYYY-MM-DD." in html
    # A parameter the panel has no input for is named at the top.
    page = owner.get("/contacts?shoe_size=42")
    assert page.status_code == 200 and "Unknown filter." in text_of(page)


def test_save_a_segment_then_rename_share_and_delete_it(app: Flask, owner: Browser) -> None:
    vip = contacts(app, owner.tf, [{"first_name": "Vera", "tags": ["vip"]}, {"first_name": "O"}])[0]
    page = owner.get("/contacts?tag=vip&sort=last_name")
    token = csrf_token_from(text_of(page))
    saved = owner.post(
        "/lists/segments",
        data={
            "csrf_token": token,
            "entity": "contact",
            "filters": "tag=vip",
            "sort": "last_name",
            "name": "VIPs",
            "shared": "y",
        },
    )
    assert saved.status_code == 302, text_of(saved)[:500]
    with tenant_session(app, owner.tf) as session:
        segment = session.scalars(select(Segment)).one()
        assert (segment.name, segment.filters, segment.sort, segment.shared) == (
            "VIPs",
            {"tag": "vip"},
            "last_name",
            True,
        )
        segment_id = segment.id
    assert urlsplit(saved.headers["Location"]).query == f"segment={segment_id}"
    html = text_of(owner.get(f"/contacts?segment={segment_id}"))
    assert contact_ids(html) == [vip]
    assert "VIPs" in visible_text(html)
    assert f'href="/contacts?segment={segment_id}" aria-current="page"' in html
    # The same name again is refused with a message, nothing saved.
    again = owner.post(
        "/lists/segments",
        data={"csrf_token": token, "entity": "contact", "filters": "tag=vip", "name": "vips"},
        follow_redirects=True,
    )
    assert "You already have a segment with this name." in text_of(again)
    renamed = owner.post(
        f"/lists/segments/{segment_id}", data={"csrf_token": token, "name": "Top clients"}
    )
    assert renamed.status_code == 302
    with tenant_session(app, owner.tf) as session:
        stored = session.get(Segment, segment_id)
        assert stored is not None and (stored.name, stored.shared) == ("Top clients", False)
    deleted = owner.post(f"/lists/segments/{segment_id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 302
    with tenant_session(app, owner.tf) as session:
        assert session.scalar(select(func.count()).select_from(Segment)) == 0


def test_another_members_segments(app: Flask, owner: Browser, factory: Any) -> None:
    _, rep_email, _ = factory.member(owner.tf, role="sales_rep")
    rep = sign_in_as(app, owner.tf, rep_email)
    token = csrf_token_from(text_of(owner.get("/contacts")))
    owner.post(
        "/lists/segments",
        data={"csrf_token": token, "entity": "contact", "filters": "q=a", "name": "Private"},
    )
    with tenant_session(app, owner.tf) as session:
        segment_id = session.scalars(select(Segment.id)).one()
    html = text_of(rep.get(f"/contacts?segment={segment_id}"))
    assert "Private" not in visible_text(html)
    assert "That segment is not there (any more)." in html
    rep_token = csrf_token_from(html)
    assert (
        rep.post(f"/lists/segments/{segment_id}/delete", data={"csrf_token": rep_token}).status_code
        == 404
    )


def test_bulk_add_tag_to_checked_rows(app: Flask, owner: Browser) -> None:
    a, b, c = contacts(app, owner.tf, [{"first_name": n} for n in ("A", "B", "C")])
    page = owner.get("/contacts")
    html = text_of(page)
    assert 'form="bulk-form"' in html and 'id="bulk-form"' in html
    done = owner.post(
        "/lists/bulk",
        data={
            "csrf_token": csrf_token_from(html),
            "entity": "contact",
            "action": "add_tag",
            "tag": "Priority",
            "ids": [str(a), str(c)],
            "back": "/contacts?sort=last_name",
        },
    )
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/contacts?sort=last_name")
    assert _tags(app, owner) == {a: ["Priority"], b: [], c: ["Priority"]}
    assert "2 records tagged." in text_of(owner.get("/contacts"))


def test_bulk_delete_asks_first_stating_the_count(app: Flask, owner: Browser) -> None:
    made = contacts(app, owner.tf, [{"first_name": f"D{n}", "tags": ["old"]} for n in range(3)])
    contacts(app, owner.tf, [{"first_name": "Keep"}])
    token = csrf_token_from(text_of(owner.get("/contacts")))
    form = {
        "csrf_token": token,
        "entity": "contact",
        "action": "delete",
        "all_matching": "y",
        "filters": "tag=old",
        "back": "/contacts",
    }
    confirm = owner.post("/lists/bulk", data=form)
    assert confirm.status_code == 200
    text = visible_text(text_of(confirm))
    assert "Delete 3 contacts? This can not be undone." in text
    with tenant_session(app, owner.tf) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 4  # not yet
    done = owner.post("/lists/bulk", data={**form, "confirmed": "1"})
    assert done.status_code == 302
    with tenant_session(app, owner.tf) as session:
        left = set(session.scalars(select(Contact.id)))
        assert not left & set(made) and len(left) == 1
    # Nothing ticked: a message, nothing done.
    nothing = owner.post(
        "/lists/bulk",
        data={"csrf_token": token, "entity": "contact", "action": "add_tag", "tag": "x"},
        follow_redirects=True,
    )
    assert "Tick the records first" in text_of(nothing)


def test_bulk_refusals_come_back_as_messages(app: Flask, owner: Browser) -> None:
    a = contacts(app, owner.tf, [{"first_name": "A"}])[0]
    token = csrf_token_from(text_of(owner.get("/contacts")))
    refused = owner.post(
        "/lists/bulk",
        data={
            "csrf_token": token,
            "entity": "contact",
            "action": "add_tag",
            "tag": "a,b",
            "ids": [str(a)],
        },
        follow_redirects=True,
    )
    assert refused.status_code == 200
    assert "Give one tag." in text_of(refused)
    assert _tags(app, owner) == {a: []}


def test_the_progress_page_of_a_bulk_edit(app: Flask, owner: Browser, factory: Any) -> None:
    with tenant_session(app, owner.tf) as session:
        job = BulkEdit(
            entity="contact",
            action="add_tag",
            params={"tag": "x"},
            selection={"filters": {}},
            status="running",
            total=40_000,
            processed=10_000,
            created_by_id=owner.tf.owner_id,
        )
        session.add(job)
        session.commit()
        job_id = job.id
    page = owner.get(f"/lists/bulk/{job_id}")
    assert page.status_code == 200
    html = text_of(page)
    assert 'value="25"' in html and 'http-equiv="refresh"' in html
    status = owner.get(f"/lists/bulk/{job_id}/status")
    assert status.get_json()["percent"] == 25
    _, rep_email, _ = factory.member(owner.tf, role="sales_rep")
    rep = sign_in_as(app, owner.tf, rep_email)
    assert rep.get(f"/lists/bulk/{job_id}").status_code == 404
    assert rep.get(f"/lists/bulk/{job_id}/status").status_code == 404


def test_a_large_bulk_edit_goes_to_its_progress_page(
    app: Flask, owner: Browser, monkeypatch: Any
) -> None:
    from app.lists import bulk

    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    contacts(app, owner.tf, [{"first_name": f"P{n}"} for n in range(3)])
    token = csrf_token_from(text_of(owner.get("/contacts")))
    started = owner.post(
        "/lists/bulk",
        data={
            "csrf_token": token,
            "entity": "contact",
            "action": "add_tag",
            "tag": "many",
            "all_matching": "y",
            "filters": "",
            "confirmed": "1",
            "back": "/contacts",
        },
    )
    assert started.status_code == 302
    target = urlsplit(started.headers["Location"])
    assert re.fullmatch(r"/lists/bulk/\d+", target.path), target
    # No broker in tests: the worker's task ran in the request, so the page shows the end.
    html = text_of(owner.get(f"{target.path}?{target.query}"))
    assert "3 records tagged." in html and 'http-equiv="refresh"' not in html
    assert 'href="/contacts"' in html
