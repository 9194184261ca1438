"""Notifications: what :func:`notify` accepts, the list (API and page) newest first with
keyset pages, marking read, the bell's count, and overdue tasks notifying in the app."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from app.activities import tasks as reminder_tasks
from app.notifications import services
from app.notifications.models import Notification
from tenants.context import tenant_context
from tests.activities.conftest import seed
from tests.api.conftest import Api, assert_error, tenant_session
from tests.api.test_openapi import check_response
from tests.conftest import Factory, TenantFixture, login
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text

START = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def workspace(factory: Factory) -> TenantFixture:
    return factory.tenant("ntf", name="Notify Co", plan="enterprise")


def add_notifications(
    app: Flask, tf: TenantFixture, user_id: int, count: int, **fields: Any
) -> list[int]:
    """``count`` notifications for a member through :func:`notify`, one a minute from
    START (pairs share a time, so that ties go by id); their ids, oldest first."""
    with tenant_session(app, tf) as session:
        made = [
            services.notify(
                session,
                user_id=user_id,
                kind=fields.get("kind", "mention"),
                title=f"Notice {n}",
                url=fields.get("url", f"/contacts/{n + 1}"),
                data={"excerpt": f"excerpt {n}"},
            )
            for n in range(count)
        ]
        session.flush()
        for n, notification in enumerate(made):
            notification.created_at = START + dt.timedelta(minutes=n // 2)
        session.commit()
        return [n.id for n in made]


def stored(app: Flask, tf: TenantFixture, notification_id: int) -> Notification:
    with tenant_session(app, tf) as session:
        found = session.get(Notification, notification_id)
        assert found is not None
        session.expunge(found)
        return found


def test_notify_takes_paths_on_the_workspace_host_only(
    app: Flask, workspace: TenantFixture
) -> None:
    with tenant_session(app, workspace) as session:
        for url in (
            "https://evil.example/x",
            "//evil.example/x",
            "/\\evil.example",
            "contacts/1",
            "/a b",
            "/a\nb",
            "/" + "x" * 500,
        ):
            with pytest.raises(ValueError, match="path on the workspace host"):
                services.notify(session, user_id=1, kind="mention", title="t", url=url)
        for bad in ({"kind": "Mention!"}, {"kind": ""}, {"user_id": 0}, {"title": " \x00\n "}):
            arguments: dict[str, Any] = {"user_id": 1, "kind": "mention", "title": "t", **bad}
            with pytest.raises(ValueError):
                services.notify(session, url=None, **arguments)
        long = services.notify(
            session, user_id=1, kind="task_overdue", title="a\tb\n" + "x" * 400, url="/tasks"
        )
        assert long.title.startswith("a b x") and len(long.title) == 300
        assert long.title.endswith("…")
        session.rollback()
    with app.test_request_context(), tenant_context(workspace.tenant.ref):
        path = services.workspace_path("activities.activity_edit", activity_id=7, _anchor="x")
    assert path == "/activities/7/edit#x"


def test_the_api_lists_newest_first_pages_and_marks_read(
    app: Flask, client: FlaskClient, workspace: TenantFixture, factory: Factory
) -> None:
    api = Api(client, workspace)
    spec = client.get("/api/v1/openapi.json", base_url=workspace.base_url).get_json()
    other_id, _, other_token = factory.member(workspace, role="admin")
    ids = add_notifications(app, workspace, workspace.owner_id, 55)
    theirs = add_notifications(app, workspace, other_id, 2)
    seen: list[int] = []
    cursor = None
    while True:
        query = {"limit": "20", **({"cursor": cursor} if cursor else {})}
        response = api.get("/notifications", query_string=query)
        check_response(spec, "/api/v1/notifications", "get", response)
        body = response.get_json()
        seen += [n["id"] for n in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    first = api.get("/notifications", query_string={"limit": "1"}).get_json()["items"][0]
    assert first["title"] == "Notice 54" and first["url"] == "/contacts/55"
    assert first["data"] == {"excerpt": "excerpt 54"} and first["read"] is False

    read = api.post(f"/notifications/{ids[0]}/read")
    check_response(spec, "/api/v1/notifications/{notification_id}/read", "post", read)
    assert read.get_json()["read"] is True
    read_at = read.get_json()["read_at"]
    assert api.post(f"/notifications/{ids[0]}/read").get_json()["read_at"] == read_at
    unread = api.get("/notifications", query_string={"unread": "true", "limit": "200"})
    assert [n["id"] for n in unread.get_json()["items"]] == ids[:0:-1]
    # Someone else's notification is not found, and theirs stay unread.
    assert_error(api.post(f"/notifications/{theirs[0]}/read"), 404, "not_found")
    assert_error(api.post("/notifications/0/read"), 404, "not_found")
    everything = api.post("/notifications/read-all")
    check_response(spec, "/api/v1/notifications/read-all", "post", everything)
    assert everything.get_json() == {"marked": 54}
    assert api.post("/notifications/read-all").get_json() == {"marked": 0}
    assert api.get("/notifications", query_string={"unread": "1"}).get_json()["items"] == []
    other = Api(client, workspace, other_token).get("/notifications", query_string={"unread": "1"})
    assert [n["id"] for n in other.get_json()["items"]] == theirs[::-1]
    for bad in ({"unread": "maybe"}, {"cursor": "x"}, {"limit": "500"}, {"page": "2"}):
        assert_error(api.get("/notifications", query_string=bad), 400, "validation_error")


def _bell(html: str) -> str | None:
    """The unread count the navigation shows, if any."""
    match = re.search(r'class="navlink nav-bell".*?</a>', html, re.S)
    assert match, "no bell in the navigation"
    count = re.search(r"data-unread-count>.*?</span>([^<]+)</span>", match.group(0), re.S)
    return count.group(1).strip() if count else None


def test_the_bell_counts_unread_notifications(
    app: Flask, client: FlaskClient, workspace: TenantFixture
) -> None:
    assert login(client, workspace).status_code == 302
    owner = Browser(client, workspace)
    assert _bell(text_of(owner.get("/contacts"))) is None
    ids = add_notifications(app, workspace, workspace.owner_id, 3)
    assert _bell(text_of(owner.get("/contacts"))) == "3"
    with tenant_session(app, workspace) as session:
        session.execute(update(Notification).where(Notification.id == ids[0]).values(read_at=START))
        session.commit()
    assert _bell(text_of(owner.get("/tasks"))) == "2"
    add_notifications(app, workspace, workspace.owner_id, 120)
    assert _bell(text_of(owner.get("/contacts"))) == "99+"
    with app.app_context(), tenant_context(workspace.tenant.ref):
        from app.access.policy import actor_for
        from app.database import db

        assert services.unread_count(db.session, actor_for(workspace.owner_id, "owner")) == 100
        db.session.remove()


def test_the_notifications_page(
    app: Flask, client: FlaskClient, workspace: TenantFixture, factory: Factory
) -> None:
    assert login(client, workspace).status_code == 302
    owner = Browser(client, workspace)
    contact = seed(app, workspace, "contact", first_name="Grace")
    empty = text_of(owner.get("/notifications"))
    assert "No notifications yet" in visible_text(empty)
    ids = add_notifications(app, workspace, workspace.owner_id, 35, url=f"/contacts/{contact}")
    _, other_email, _ = factory.member(workspace, role="admin")
    page = text_of(owner.get("/notifications"))
    titles = re.findall(r"<bdi>(Notice \d+)</bdi>", page)
    assert titles == [f"Notice {n}" for n in range(34, 4, -1)]
    older = re.search(r'rel="next" href="([^"]+)"', page)
    assert older
    rest = text_of(owner.get(older.group(1).replace("&amp;", "&")))
    assert re.findall(r"<bdi>(Notice \d+)</bdi>", rest) == [f"Notice {n}" for n in range(4, -1, -1)]
    assert 'rel="next"' not in rest

    # Mark one read (back to the list), open another (to where it points, read).
    marked = owner.submit(
        "/notifications", {"next": "/notifications"}, action=f"/notifications/{ids[-1]}/read"
    )
    assert marked.status_code == 302 and marked.headers["Location"] == "/notifications"
    assert stored(app, workspace, ids[-1]).read_at is not None
    opened = owner.submit("/notifications", {}, action=f"/notifications/{ids[-2]}/open")
    assert opened.status_code == 302 and opened.headers["Location"] == f"/contacts/{contact}"
    assert stored(app, workspace, ids[-2]).read_at is not None
    unread_page = text_of(owner.get("/notifications?unread=1"))
    assert "Notice 34" not in unread_page and "Notice 33" not in unread_page
    assert "Notice 32" in unread_page

    # A link that is not a path here (written around notify) leads back to the list.
    with tenant_session(app, workspace) as session:
        session.execute(
            update(Notification).where(Notification.id == ids[0]).values(url="//evil.example/phish")
        )
        session.commit()
    opened = owner.submit(
        "/notifications",
        {"next": "/notifications?unread=1"},
        action=f"/notifications/{ids[0]}/open",
    )
    assert opened.headers["Location"] == "/notifications?unread=1"

    # Another member's notification is not found; read-all marks only one's own.
    other = sign_in_as(app, workspace, other_email)
    assert (
        other.submit("/notifications", {}, action=f"/notifications/{ids[5]}/open").status_code
        == 404
    )
    assert (
        other.submit("/notifications", {}, action=f"/notifications/{ids[5]}/read").status_code
        == 404
    )
    everything = owner.submit("/notifications", {}, action="/notifications/read-all")
    assert everything.status_code == 302
    assert "No unread notifications" in visible_text(text_of(owner.get("/notifications?unread=1")))
    assert owner.post(f"/notifications/{ids[1]}/read").status_code == 400  # no CSRF token


def test_overdue_tasks_notify_assignee_and_owner_in_the_app(
    app: Flask, workspace: TenantFixture, factory: Factory
) -> None:
    rep_id, _, _ = factory.member(workspace, role="sales_rep")
    now = dt.datetime.now(dt.UTC)
    task = seed(
        app,
        workspace,
        "activity",
        subject="Send contract",
        assignee_id=rep_id,
        due_at=now - dt.timedelta(hours=1),
    )
    mine = seed(
        app,
        workspace,
        "activity",
        subject="My own",
        assignee_id=workspace.owner_id,
        due_at=now - dt.timedelta(minutes=5),
    )
    with app.app_context(), tenant_context(workspace.tenant.ref):
        from app.database import db

        counts = reminder_tasks.notify_tenant(db.session, workspace.tenant.ref, now)
        db.session.remove()
    assert counts == {"reminded": 0, "overdue": 2}
    with tenant_session(app, workspace) as session:
        rows = session.query(Notification).order_by(Notification.id).all()
        found = [(n.user_id, n.kind, n.title, n.url, n.data["activity_id"]) for n in rows]
    assert sorted(found) == sorted(
        [
            (rep_id, "task_overdue", "Overdue: Send contract", f"/activities/{task}/edit", task),
            (
                workspace.owner_id,
                "task_overdue",
                f"Overdue task you gave {_name_of(app, rep_id)}: Send contract",
                f"/activities/{task}/edit",
                task,
            ),
            (
                workspace.owner_id,
                "task_overdue",
                "Overdue: My own",
                f"/activities/{mine}/edit",
                mine,
            ),
        ]
    )
    # Notified once: the next run finds nothing new.
    with app.app_context(), tenant_context(workspace.tenant.ref):
        from app.database import db

        assert reminder_tasks.notify_tenant(db.session, workspace.tenant.ref, now) == {
            "reminded": 0,
            "overdue": 0,
        }
        db.session.remove()
    with tenant_session(app, workspace) as session:
        assert session.query(Notification).count() == 3


def _name_of(app: Flask, user_id: int) -> str:
    from app.database import db
    from app.identity.models import User

    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        name = user.name or user.email
        db.session.remove()
        return name
