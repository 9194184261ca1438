"""Comments on the card pages: the box in the history panel, editing and deleting,
refusals on the form, escaping of bodies and names, and who sees which controls."""

from __future__ import annotations

import re
from html import unescape

from flask import Flask
from flask.testing import FlaskClient

from tests.comments.conftest import comments_in, notifications_of, rename, seed
from tests.conftest import Factory, TenantFixture, login
from tests.support.smtp import SmtpSink
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text


def _signed_in(client: FlaskClient, tf: TenantFixture) -> Browser:
    assert login(client, tf).status_code == 302
    return Browser(client, tf)


def _comment_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<div class="comment" id="comment-(\d+)"', html)]


def test_write_edit_and_delete_a_comment_on_a_contact_card(
    app: Flask, client: FlaskClient, workspace: TenantFixture, factory: Factory
) -> None:
    owner = _signed_in(client, workspace)
    admin_id, _, _ = factory.member(workspace, role="admin")
    rename(app, admin_id, "Ann Lee")
    contact = seed(app, workspace, "contact", first_name="Grace")
    card = text_of(owner.get(f"/contacts/{contact}"))
    assert f'action="/contacts/{contact}/comments"' in card
    assert f'data-members-url="/api/v1/members?contact_id={contact}"' in card
    assert "/static/mentions.js" in card

    body = f"Call her back, @[Ann Lee](user:{admin_id}).\nShe prefers mornings."
    posted = owner.submit(
        f"/contacts/{contact}", {"body": body}, action=f"/contacts/{contact}/comments"
    )
    assert posted.status_code == 302, text_of(posted)[:2000]
    (stored,) = comments_in(app, workspace)
    location = posted.headers["Location"]
    assert location.startswith(f"/contacts/{contact}?timeline_cursor=")
    assert location.endswith(f"#comment-{stored['id']}")
    page = owner.get(location)
    assert page.status_code == 200
    html = text_of(page)
    assert _comment_ids(html) == [stored["id"]]
    assert f'<span class="mention" data-user-id="{admin_id}">@Ann Lee</span>' in html
    assert "She prefers mornings." in html
    assert "Owner commented" in visible_text(html)
    assert len(notifications_of(app, workspace, admin_id)) == 1

    edit = owner.get(f"/comments/{stored['id']}/edit")
    assert edit.status_code == 200
    assert unescape(text_of(edit)).count(body) == 1
    saved = owner.submit(f"/comments/{stored['id']}/edit", {"body": "Called. Done."})
    assert saved.status_code == 302
    html = text_of(owner.get(f"/contacts/{contact}"))
    assert "Called. Done." in html and "Edited" in visible_text(html)
    assert "She prefers mornings." not in html
    # No longer mentioned: the notification is withdrawn.
    assert notifications_of(app, workspace, admin_id) == []

    confirm = owner.get(f"/comments/{stored['id']}/delete")
    assert confirm.status_code == 200 and "Called. Done." in text_of(confirm)
    gone = owner.submit(
        f"/comments/{stored['id']}/delete", {}, action=f"/comments/{stored['id']}/delete"
    )
    assert gone.status_code == 302 and gone.headers["Location"] == f"/contacts/{contact}"
    assert _comment_ids(text_of(owner.get(f"/contacts/{contact}"))) == []
    assert comments_in(app, workspace) == []
    assert owner.get(f"/comments/{stored['id']}/edit").status_code == 404


def test_refusals_land_on_the_form_with_the_text_kept(
    app: Flask, client: FlaskClient, workspace: TenantFixture, factory: Factory
) -> None:
    owner = _signed_in(client, workspace)
    rep_id, _, _ = factory.member(workspace, role="sales_rep")
    rename(app, rep_id, "Rita Rep")
    contact = seed(app, workspace, "contact")
    body = f"Over to you @[Rita Rep](user:{rep_id})"
    refused = owner.submit(
        f"/contacts/{contact}", {"body": body}, action=f"/contacts/{contact}/comments"
    )
    assert refused.status_code == 400
    html = text_of(refused)
    assert "Rita Rep can not see this contact; mention only people who can." in unescape(html)
    assert body in unescape(html)
    empty = owner.submit(
        f"/contacts/{contact}", {"body": "   "}, action=f"/contacts/{contact}/comments"
    )
    assert empty.status_code == 400 and "Write a comment." in text_of(empty)
    control = owner.submit(
        f"/contacts/{contact}", {"body": "a\x07b"}, action=f"/contacts/{contact}/comments"
    )
    assert control.status_code == 400
    assert "Remove the invisible control characters." in text_of(control)
    assert comments_in(app, workspace) == []
    assert notifications_of(app, workspace, rep_id) == []
    assert owner.get(f"/contacts/{contact}/comments").status_code == 200


def test_bodies_and_names_render_inert(
    app: Flask, client: FlaskClient, workspace: TenantFixture, factory: Factory, smtp_sink: SmtpSink
) -> None:
    owner = _signed_in(client, workspace)
    admin_id, admin_email, _ = factory.member(workspace, role="admin")
    rename(app, admin_id, '<script>alert("name")</script>')
    contact = seed(app, workspace, "contact", first_name="<i>Eve</i>", last_name="<b>x</b>")
    before = len(smtp_sink.to(admin_email))
    body = f'<img src=x onerror=alert(1)> "quoted" & @[whoever](user:{admin_id}) </bdi><script>'
    posted = owner.submit(
        f"/contacts/{contact}", {"body": body}, action=f"/contacts/{contact}/comments"
    )
    assert posted.status_code == 302
    (stored,) = comments_in(app, workspace)
    for path in (f"/contacts/{contact}", f"/comments/{stored['id']}/delete"):
        html = text_of(owner.get(path))
        assert "<img src=x" not in html and "<script>alert" not in html, path
        assert "</bdi><script>" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, path
        assert "@&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;</span>" in html, path
    admin = sign_in_as(app, workspace, admin_email)
    listing = text_of(admin.get("/notifications"))
    assert "<script>alert" not in listing and "<i>Eve</i>" not in listing
    assert "&lt;i&gt;Eve&lt;/i&gt;" in listing
    assert "&lt;img src=x" in listing
    mail = smtp_sink.wait_for(admin_email, before + 1)[-1]
    assert "<img src=x" not in mail.html and "<script>alert" not in mail.html
    assert "&lt;img src=x" in mail.html
    assert '<img src=x onerror=alert(1)> "quoted" &' in mail.text


def test_related_cards_show_the_comment_and_link_where_it_was_written(
    app: Flask, client: FlaskClient, workspace: TenantFixture, factory: Factory
) -> None:
    owner = _signed_in(client, workspace)
    rep_id, rep_email, _ = factory.member(workspace, role="sales_rep")
    company = seed(app, workspace, "company", name="Initech", owner_id=rep_id)
    deal = seed(app, workspace, "deal", title="Big deal", company_id=company)
    posted = owner.submit(
        f"/deals/{deal}", {"body": "Pricing agreed."}, action=f"/deals/{deal}/comments"
    )
    assert posted.status_code == 302, text_of(posted)[:2000]
    (stored,) = comments_in(app, workspace)
    html = text_of(owner.get(f"/companies/{company}"))
    assert _comment_ids(html) == [stored["id"]]
    assert "On the deal Big deal" in visible_text(html)
    assert f'href="/deals/{deal}?timeline_cursor=' in html
    assert f"/comments/{stored['id']}/edit" in html
    # The rep owns the company but not the deal: the comment shows on the company card
    # (the card grants it), without a link to the deal or any control.
    rep = sign_in_as(app, workspace, rep_email)
    html = text_of(rep.get(f"/companies/{company}"))
    assert _comment_ids(html) == [stored["id"]] and "Pricing agreed." in html
    assert "On the deal" not in visible_text(html) and f"/deals/{deal}" not in html
    assert f"/comments/{stored['id']}/" not in html
    assert rep.get(f"/comments/{stored['id']}/edit").status_code == 404


def test_who_sees_the_box_and_the_controls(
    app: Flask, client: FlaskClient, workspace: TenantFixture, factory: Factory
) -> None:
    owner = _signed_in(client, workspace)
    _, viewer_email, _ = factory.member(workspace, role="viewer")
    rep_id, rep_email, _ = factory.member(workspace, role="sales_rep")
    _, admin_email, _ = factory.member(workspace, role="admin")
    contact = seed(app, workspace, "contact")
    reps = seed(app, workspace, "contact", owner_id=rep_id)
    owner.submit(f"/contacts/{contact}", {"body": "hello"}, action=f"/contacts/{contact}/comments")
    (stored,) = comments_in(app, workspace)
    edit, delete = f"/comments/{stored['id']}/edit", f"/comments/{stored['id']}/delete"

    viewer = sign_in_as(app, workspace, viewer_email)
    html = text_of(viewer.get(f"/contacts/{contact}"))
    assert "hello" in html and f'action="/contacts/{contact}/comments"' not in html
    assert edit not in html and delete not in html
    assert viewer.get(f"/contacts/{contact}/comments").status_code == 403
    assert viewer.get(edit).status_code == 403

    admin = sign_in_as(app, workspace, admin_email)
    html = text_of(admin.get(f"/contacts/{contact}"))
    assert edit not in html and delete in html
    assert admin.get(edit).status_code == 403

    rep = sign_in_as(app, workspace, rep_email)
    assert rep.get(f"/contacts/{contact}/comments").status_code == 404
    assert rep.get(delete).status_code == 404
    page = rep.submit(f"/contacts/{reps}", {"body": "mine"}, action=f"/contacts/{reps}/comments")
    assert page.status_code == 302
    refused = rep.submit(
        f"/contacts/{reps}", {"body": "not mine"}, action=f"/contacts/{contact}/comments"
    )
    assert refused.status_code == 404
    assert [c["body"] for c in comments_in(app, workspace)] == ["hello", "mine"]
