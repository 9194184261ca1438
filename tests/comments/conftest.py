"""Fixtures of the comment tests: the API, page and browser helpers of tests/api and
tests/web, record seeding from tests/activities, and readers of what was stored."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.comments.models import Comment
from app.database import db
from app.identity.models import Membership, User
from app.notifications.models import Notification
from tests.activities.conftest import seed
from tests.api.conftest import Api, tenant_session
from tests.conftest import Factory, TenantFixture
from tests.web.conftest import chromium, live_server, owner, tenant

__all__ = [
    "Api",
    "api",
    "chromium",
    "comments_in",
    "deactivate",
    "live_server",
    "notifications_of",
    "owner",
    "rename",
    "seed",
    "tenant",
    "workspace",
]


@pytest.fixture
def workspace(factory: Factory) -> TenantFixture:
    """A workspace with room for many members (no seat cap)."""
    return factory.tenant("cmt", name="Comment Co", plan="enterprise")


@pytest.fixture
def api(client: FlaskClient, workspace: TenantFixture) -> Api:
    """The owner of :func:`workspace`, calling with a bearer token on its host."""
    return Api(client, workspace)


def comments_in(app: Flask, tf: TenantFixture) -> list[dict[str, Any]]:
    """Every stored comment of ``tf`` (id, body, mentions), oldest first."""
    with tenant_session(app, tf) as session:
        rows = session.scalars(select(Comment).order_by(Comment.id))
        return [{"id": c.id, "body": c.body, "mentions": list(c.mentions)} for c in rows]


def notifications_of(app: Flask, tf: TenantFixture, user_id: int) -> list[Notification]:
    """The stored notifications of a member (detached), newest first."""
    with tenant_session(app, tf) as session:
        rows = list(
            session.scalars(
                select(Notification)
                .where(Notification.user_id == user_id)
                .order_by(Notification.id.desc())
            )
        )
        for row in rows:
            session.expunge(row)
        return rows


def deactivate(app: Flask, tf: TenantFixture, user_id: int) -> None:
    """Mark a membership inactive (as deactivating a member does)."""
    with app.app_context():
        db.session.execute(
            update(Membership)
            .where(Membership.user_id == user_id, Membership.tenant_id == tf.tenant.id)
            .values(is_active=False)
        )
        db.session.commit()
        db.session.remove()


def rename(app: Flask, user_id: int, name: str, locale: str | None = None) -> None:
    """Give a member a display name (and a language)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        user.name = name
        user.locale = locale
        db.session.commit()
        db.session.remove()
