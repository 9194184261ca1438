"""Fixtures for the team tests: a Free workspace whose owner has a verified email."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.database import db
from app.identity.models import Invitation, Membership
from billing.models import UsageCounter
from tenants.context import tenant_context
from tests.conftest import Factory, TenantFixture, login
from tests.team.support import verify_email
from tests.web.conftest import Browser, text_of

STRONG_PASSWORD = "violet tangerine harbour 42"


@pytest.fixture
def tenant(factory: Factory, app: Flask) -> TenantFixture:
    """A Free workspace (two seats) whose owner verified their email."""
    tf = factory.tenant("team", name="Acme Team")
    verify_email(app, tf.owner_id)
    return tf


@pytest.fixture
def owner(client: FlaskClient, tenant: TenantFixture) -> Browser:
    """The owner, signed in."""
    response = login(client, tenant)
    assert response.status_code == 302, text_of(response)[:2000]
    return Browser(client, tenant)


def new_email(tag: str = "new") -> str:
    """An address nobody uses yet."""
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def seats_counter(app: Flask, tf: TenantFixture) -> int:
    """The tenant's seat counter as recorded."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            return int(
                db.session.scalar(select(UsageCounter.used).where(UsageCounter.resource == "seats"))
                or 0
            )
        finally:
            db.session.remove()


def seats_actual(app: Flask, tf: TenantFixture) -> int:
    """Active memberships plus pending invitations, counted from the rows."""
    with app.app_context():
        try:
            members = db.session.scalar(
                select(func.count())
                .select_from(Membership)
                .where(Membership.tenant_id == tf.tenant.id, Membership.is_active.is_(True))
            )
            pending = db.session.scalar(
                select(func.count())
                .select_from(Invitation)
                .where(
                    Invitation.tenant_id == tf.tenant.id,
                    Invitation.accepted_at.is_(None),
                    Invitation.revoked_at.is_(None),
                )
            )
            return int(members or 0) + int(pending or 0)
        finally:
            db.session.remove()


def invitation_link(smtp_sink: Any, email: str) -> str:
    """The accept link of the newest invitation mailed to ``email``."""
    links = [link for link in smtp_sink.last_to(email).links() if "/invitations/" in link]
    assert links, smtp_sink.last_to(email).text
    return str(links[0])


def path_of(link: str) -> str:
    """The path of an absolute link."""
    return re.sub(r"^https?://[^/]+", "", link)


def field_errors(html: str) -> str:
    """The text of every field error of a page."""
    return " ".join(re.findall(r'class="field-error"[^>]*>(.*?)</div>', html, flags=re.S))
