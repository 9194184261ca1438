"""Comments through the REST API: writing, editing, deleting, the timelines they show
on, the rules of their text and mentions, who may do what, and the member search."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import Api, assert_error
from tests.api.test_openapi import check_response
from tests.comments.conftest import comments_in, deactivate, notifications_of, rename, seed
from tests.conftest import Factory
from tests.support.smtp import SmtpSink


def _spec(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = api.client.get(
        "/api/v1/openapi.json", base_url=api.tf.base_url
    ).get_json()
    return document


def token(name: str, user_id: int) -> str:
    return f"@[{name}](user:{user_id})"


def _post(api: Api, entity: str, record_id: int, body: Any) -> Any:
    plural = {"contact": "contacts", "company": "companies", "deal": "deals"}[entity]
    return api.post(f"/{plural}/{record_id}/comments", json={"body": body})


def test_write_read_edit_and_delete_a_comment(app: Flask, api: Api) -> None:
    spec = _spec(api)
    contact = seed(app, api.tf, "contact")
    created = _post(api, "contact", contact, "First call went well.\nFollow up in May.")
    assert created.status_code == 201, created.get_json()
    check_response(spec, "/api/v1/contacts/{contact_id}/comments", "post", created)
    comment = created.get_json()
    assert comment["body"] == "First call went well.\nFollow up in May."
    assert comment["author"] == {"id": api.tf.owner_id, "name": "Owner"}
    assert (comment["contact_id"], comment["company_id"], comment["deal_id"]) == (
        contact,
        None,
        None,
    )
    assert comment["mentions"] == [] and comment["edited_at"] is None
    assert created.headers["Location"].endswith(f"/api/v1/comments/{comment['id']}")

    listed = api.get(f"/contacts/{contact}/comments")
    check_response(spec, "/api/v1/contacts/{contact_id}/comments", "get", listed)
    assert [c["id"] for c in listed.get_json()["items"]] == [comment["id"]]
    fetched = api.get(f"/comments/{comment['id']}")
    check_response(spec, "/api/v1/comments/{comment_id}", "get", fetched)
    assert fetched.get_json() == comment

    edited = api.patch(f"/comments/{comment['id']}", json={"body": "Second thoughts."})
    check_response(spec, "/api/v1/comments/{comment_id}", "patch", edited)
    assert edited.get_json()["body"] == "Second thoughts."
    assert edited.get_json()["edited_at"] is not None
    timeline = api.get(f"/contacts/{contact}/timeline").get_json()["items"]
    assert [e["data"]["body"] for e in timeline if e["kind"] == "comment"] == ["Second thoughts."]

    deleted = api.delete(f"/comments/{comment['id']}")
    check_response(spec, "/api/v1/comments/{comment_id}", "delete", deleted)
    assert deleted.status_code == 204
    assert_error(api.get(f"/comments/{comment['id']}"), 404, "not_found")
    assert api.get(f"/contacts/{contact}/comments").get_json()["items"] == []
    timeline = api.get(f"/contacts/{contact}/timeline").get_json()["items"]
    assert [e for e in timeline if e["kind"] == "comment"] == []
    assert comments_in(app, api.tf) == []


def test_a_comment_shows_in_order_on_every_card_it_concerns(app: Flask, api: Api) -> None:
    company = seed(app, api.tf, "company", name="Initech")
    contact = seed(app, api.tf, "contact", company_id=company)
    deal = seed(app, api.tf, "deal", contact_id=contact, company_id=company)
    other = seed(app, api.tf, "contact")
    on_contact = _post(api, "contact", contact, "on the contact").get_json()["id"]
    logged = api.post("/activities", json={"type": "note", "body": "a note", "contact_id": contact})
    assert logged.status_code == 201
    on_deal = _post(api, "deal", deal, "on the deal").get_json()["id"]
    on_company = _post(api, "company", company, "on the company").get_json()["id"]

    def history(path: str) -> list[Any]:
        items = api.get(f"{path}/timeline").get_json()["items"]
        return [
            e["data"]["comment_id"] if e["kind"] == "comment" else e["kind"]
            for e in items
            if e["kind"] in {"comment", "activity"}
        ]

    # Newest first; a comment on a deal is also on its contact's and company's cards.
    assert history(f"/contacts/{contact}") == [on_deal, "activity", on_contact]
    assert history(f"/companies/{company}") == [on_company, on_deal, "activity", on_contact]
    assert history(f"/deals/{deal}") == [on_deal]
    assert history(f"/contacts/{other}") == []
    # Each card's own list holds what was written on it.
    assert [c["id"] for c in api.get(f"/companies/{company}/comments").get_json()["items"]] == [
        on_company
    ]
    assert [c["id"] for c in api.get(f"/deals/{deal}/comments").get_json()["items"]] == [on_deal]
    oldest_first = api.get(f"/contacts/{contact}/comments", query_string={"sort": "created_at"})
    assert [c["id"] for c in oldest_first.get_json()["items"]] == [on_contact]


def test_a_card_s_comments_page_without_gaps(app: Flask, api: Api) -> None:
    contact = seed(app, api.tf, "contact")
    ids = [_post(api, "contact", contact, f"comment {n}").get_json()["id"] for n in range(7)]
    seen: list[int] = []
    cursor = None
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = api.get(f"/contacts/{contact}/comments", query_string=query).get_json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    for bad in ({"cursor": "nope"}, {"limit": "0"}, {"sort": "body"}, {"since": "x"}):
        assert_error(
            api.get(f"/contacts/{contact}/comments", query_string=bad),
            400,
            "validation_error",
            next(iter(bad)),
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Length must be between 1 and 10000."),
        ("   \n  ", "Write a comment."),
        ("x" * 10_001, "Length must be between 1 and 10000."),
        ("bell \x07 here", "Contains characters that are not allowed."),
        ("nul \x00 here", "Contains characters that are not allowed."),
        (42, "Not a valid string."),
        (None, "Field may not be null."),
    ],
)
def test_comment_text_rules(app: Flask, api: Api, body: Any, message: str) -> None:
    contact = seed(app, api.tf, "contact")
    details = assert_error(_post(api, "contact", contact, body), 400, "validation_error", "body")
    assert details["body"] == [message]
    assert comments_in(app, api.tf) == []


def test_long_text_tabs_and_unknown_fields(app: Flask, api: Api) -> None:
    contact = seed(app, api.tf, "contact")
    longest = "y" * 10_000
    assert _post(api, "contact", contact, longest).status_code == 201
    assert _post(api, "contact", contact, "a\ttab\r\nand a line").get_json()["body"] == (
        "a\ttab\nand a line"
    )
    response = api.post(f"/contacts/{contact}/comments", json={"body": "hi", "author_id": 1})
    assert_error(response, 400, "validation_error", "author_id")
    assert_error(
        api.post(f"/contacts/{contact}/comments", data="body=hi"),
        415,
        "unsupported_media_type",
    )
    assert [c["body"] for c in comments_in(app, api.tf)] == [longest, "a\ttab\nand a line"]


def test_mentions_are_checked_and_nothing_is_written_when_refused(
    app: Flask, api: Api, factory: Factory
) -> None:
    tf, other_tf = api.tf, factory.tenant("other")
    contact = seed(app, tf, "contact")
    admin_id, _, _ = factory.member(tf, role="admin")
    gone_id, _, _ = factory.member(tf, role="admin")
    deactivate(app, tf, gone_id)
    rep_id, _, _ = factory.member(tf, role="sales_rep")
    rename(app, rep_id, "Rita Rep")
    stranger_id, _, _ = factory.member(other_tf, role="admin")
    cases = {
        "unknown": (token("Ghost", 987_654_321), "@Ghost is not an active member"),
        "inactive": (token("Gone", gone_id), "@Gone is not an active member"),
        "other workspace": (token("Stranger", stranger_id), "@Stranger is not an active member"),
        "beyond bigint": (token("Huge", 9_999_999_999_999_999_999), "@Huge is not an active"),
        # The contact is the owner's: a sales rep (own scope) can not open it.
        "can not see": (token("Rita", rep_id), "Rita Rep can not see this contact"),
    }
    for what, (mention, message) in cases.items():
        response = _post(api, "contact", contact, f"Hello {mention} and {token('A', admin_id)}")
        details = assert_error(response, 400, "validation_error", "body")
        assert len(details["body"]) == 1 and details["body"][0].startswith(message), what
    too_many = " ".join(token("A", admin_id + n) for n in range(21))
    details = assert_error(_post(api, "contact", contact, too_many), 400, "validation_error")
    assert details["body"] == ["Mention at most 20 people in one comment."]
    assert comments_in(app, tf) == []
    for user_id in (admin_id, gone_id, rep_id, stranger_id):
        assert notifications_of(app, tf, user_id) == []
    # Text that only looks like a mention is text.
    plain = "@Rita, see [this](user:x) and @[](user:1) or @[A](user:0042)"
    assert _post(api, "contact", contact, plain).get_json()["mentions"] == []


def test_mentioned_members_are_notified_and_mailed_once(
    app: Flask, api: Api, factory: Factory, smtp_sink: SmtpSink
) -> None:
    tf = api.tf
    contact = seed(app, tf, "contact", first_name="Grace", last_name="Hopper")
    admin_id, admin_email, admin_token = factory.member(tf, role="admin")
    rename(app, admin_id, "Ann Lee", locale="fr")
    bystander_id, _, _ = factory.member(tf, role="admin")
    before = len(smtp_sink.to(admin_email))
    # A made-up name in the token becomes the member's real name; mentioning yourself
    # or someone twice notifies nobody twice.
    body = (
        f"{token('CEO', admin_id)} please call back, {token('Ann', admin_id)}. "
        f"{token('Me', tf.owner_id)} will join."
    )
    response = _post(api, "contact", contact, body)
    assert response.status_code == 201, response.get_json()
    comment = response.get_json()
    assert comment["body"] == (
        f"{token('Ann Lee', admin_id)} please call back, {token('Ann Lee', admin_id)}. "
        f"{token('Owner', tf.owner_id)} will join."
    )
    assert comment["mentions"] == [
        {"id": admin_id, "name": "Ann Lee"},
        {"id": tf.owner_id, "name": "Owner"},
    ]
    assert notifications_of(app, tf, tf.owner_id) == []
    assert notifications_of(app, tf, bystander_id) == []
    (notice,) = notifications_of(app, tf, admin_id)
    assert notice.kind == "mention" and notice.read_at is None
    assert notice.title == "Owner mentioned you on Grace Hopper"
    assert notice.url is not None and notice.url.startswith(f"/contacts/{contact}?timeline_cursor=")
    assert notice.url.endswith(f"#comment-{comment['id']}")
    assert notice.data["comment_id"] == comment["id"]
    assert notice.data["excerpt"] == "@Ann Lee please call back, @Ann Lee. @Owner will join."

    (mail,) = smtp_sink.wait_for(admin_email, before + 1)[before:]
    assert mail.subject == "Owner mentioned you on Grace Hopper"
    assert "@Ann Lee please call back" in mail.text
    link = mail.links()[-1]
    assert link.startswith(f"{tf.base_url}/contacts/{contact}?timeline_cursor=")
    assert link.endswith(f"#comment-{comment['id']}")
    assert link in mail.html_links()
    listed = Api(api.client, tf, token=admin_token).get("/notifications")
    assert [n["id"] for n in listed.get_json()["items"]] == [notice.id]


def test_editing_notifies_new_mentions_and_withdraws_removed_ones(
    app: Flask, api: Api, factory: Factory, smtp_sink: SmtpSink
) -> None:
    tf = api.tf
    first_id, _, _ = factory.member(tf, role="admin")
    second_id, second_email, _ = factory.member(tf, role="manager")
    # A manager sees their own records only (until teams exist): give them the deal.
    deal = seed(app, tf, "deal", title="Shared deal", owner_id=second_id)
    comment = _post(api, "deal", deal, f"ping {token('x', first_id)}").get_json()
    assert len(notifications_of(app, tf, first_id)) == 1
    before = len(smtp_sink.to(second_email))
    edited = api.patch(
        f"/comments/{comment['id']}",
        json={"body": f"ping {token('x', first_id)} and {token('y', second_id)}"},
    )
    assert edited.status_code == 200, edited.get_json()
    (kept,) = notifications_of(app, tf, first_id)
    assert kept.data["excerpt"].endswith("and @" + edited.get_json()["mentions"][1]["name"])
    (new,) = notifications_of(app, tf, second_id)
    assert new.title == "Owner mentioned you on Shared deal"
    smtp_sink.wait_for(second_email, before + 1)
    # The same text again changes nothing; dropping a mention withdraws its notice.
    assert api.patch(f"/comments/{comment['id']}", json={"body": edited.get_json()["body"]})
    api.patch(f"/comments/{comment['id']}", json={"body": f"only {token('y', second_id)}"})
    assert notifications_of(app, tf, first_id) == []
    assert len(notifications_of(app, tf, second_id)) == 1
    api.delete(f"/comments/{comment['id']}")
    assert notifications_of(app, tf, second_id) == []


def test_who_may_write_edit_and_delete(
    app: Flask, client: FlaskClient, api: Api, factory: Factory
) -> None:
    tf = api.tf
    rep_id, _, rep_token = factory.member(tf, role="sales_rep")
    other_rep_id, _, other_token = factory.member(tf, role="sales_rep")
    _, _, admin_token = factory.member(tf, role="admin")
    _, _, viewer_token = factory.member(tf, role="viewer")
    rep, other_rep = Api(client, tf, rep_token), Api(client, tf, other_token)
    admin, viewer = Api(client, tf, admin_token), Api(client, tf, viewer_token)
    mine = seed(app, tf, "contact", owner_id=rep_id)
    theirs = seed(app, tf, "contact", owner_id=other_rep_id)
    # A sales rep writes on their own contact; another rep's contact does not exist for them.
    comment = _post(rep, "contact", mine, "mine").get_json()
    assert_error(_post(rep, "contact", theirs, "not mine"), 404, "not_found")
    assert_error(rep.get(f"/contacts/{theirs}/comments"), 404, "not_found")
    for caller in (other_rep,):
        assert_error(caller.get(f"/comments/{comment['id']}"), 404, "not_found")
        assert_error(
            caller.patch(f"/comments/{comment['id']}", json={"body": "x"}), 404, "not_found"
        )
        assert_error(caller.delete(f"/comments/{comment['id']}"), 404, "not_found")
    # A viewer reads but does not write.
    assert viewer.get(f"/contacts/{mine}/comments").status_code == 200
    assert_error(_post(viewer, "contact", mine, "hello"), 403, "forbidden")
    # Only the author edits; an admin (or the owner) may delete.
    for caller in (admin, api, viewer):
        assert_error(
            caller.patch(f"/comments/{comment['id']}", json={"body": "x"}), 403, "forbidden"
        )
    assert_error(viewer.delete(f"/comments/{comment['id']}"), 403, "forbidden")
    assert rep.patch(f"/comments/{comment['id']}", json={"body": "mine, edited"}).status_code == 200
    assert admin.delete(f"/comments/{comment['id']}").status_code == 204
    assert comments_in(app, tf) == []
    assert_error(api.get("/comments/0"), 404, "not_found")
    assert_error(api.get(f"/comments/{2**63}"), 404, "not_found")


def test_member_search_for_mentions(app: Flask, api: Api, factory: Factory) -> None:
    tf, other_tf = api.tf, factory.tenant("other")
    spec = _spec(api)
    anna_id, _, _ = factory.member(tf, role="admin", email=f"anna@{tf.slug}.example")
    rename(app, anna_id, "Anna Admin")
    rita_id, _, rita_token = factory.member(tf, role="sales_rep")
    rename(app, rita_id, "Rita Annesley")
    gone_id, _, _ = factory.member(tf, role="admin")
    rename(app, gone_id, "Annie Gone")
    deactivate(app, tf, gone_id)
    stranger_id, _, _ = factory.member(other_tf, role="admin")
    rename(app, stranger_id, "Anne Stranger")
    _, _, viewer_token = factory.member(tf, role="viewer")
    contact = seed(app, tf, "contact")

    found = api.get("/members", query_string={"q": "ann", "contact_id": str(contact)})
    check_response(spec, "/api/v1/members", "get", found)
    assert found.get_json() == {
        "items": [
            {"id": anna_id, "name": "Anna Admin", "can_view": True},
            {"id": rita_id, "name": "Rita Annesley", "can_view": False},
        ],
        "next_cursor": None,
    }
    everyone = api.get("/members").get_json()["items"]
    assert {m["id"] for m in everyone} >= {anna_id, rita_id}
    assert not {tf.owner_id, gone_id, stranger_id} & {m["id"] for m in everyone}
    assert all(m["can_view"] is None for m in everyone)
    assert api.get("/members", query_string={"q": "%"}).get_json()["items"] == []
    assert len(api.get("/members", query_string={"limit": "1"}).get_json()["items"]) == 1
    # A rep may search, but names no card they can not see.
    rep = Api(api.client, tf, rita_token)
    assert rep.get("/members", query_string={"q": "anna"}).status_code == 200
    assert_error(rep.get("/members", query_string={"contact_id": str(contact)}), 404, "not_found")
    assert_error(Api(api.client, tf, viewer_token).get("/members"), 403, "forbidden")
    two = {"contact_id": str(contact), "deal_id": "1"}
    assert_error(api.get("/members", query_string=two), 400, "validation_error", "deal_id")
    assert_error(api.get("/members", query_string={"limit": "21"}), 400, "validation_error")
