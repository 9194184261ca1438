"""Helpers for the page tests: signing in as any member, forms and fast contact seeding."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.contacts.models import Contact
from app.database import db
from tenants.context import tenant_context
from tests.conftest import (
    Factory,
    TenantFixture,
    csrf_token_from,
    login,
    mail_settings,
    make_app,
)
from tests.support.browser import LiveServer, launch_chromium, serve
from tests.support.smtp import SmtpSink


class Browser:
    """A signed-in (or anonymous) visitor of one workspace, speaking HTML forms."""

    def __init__(self, client: FlaskClient, tf: TenantFixture) -> None:
        self.client = client
        self.tf = tf

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, base_url=self.tf.base_url, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(path, base_url=self.tf.base_url, **kwargs)

    def submit(
        self, form_path: str, data: dict[str, str], action: str | None = None, **kwargs: Any
    ) -> Any:
        """Load ``form_path``, take its CSRF token and post ``data`` to ``action`` (or back)."""
        page = self.get(form_path)
        assert page.status_code == 200, page.status_code
        token = csrf_token_from(page.get_data(as_text=True))
        return self.post(action or form_path, data={**data, "csrf_token": token}, **kwargs)

    def create_contact(self, **fields: str) -> int:
        """Create a contact through the form; returns its id."""
        response = self.submit("/contacts/new", fields)
        assert response.status_code == 302, text_of(response)[:2000]
        match = re.search(r"/contacts/(\d+)$", response.headers["Location"])
        assert match, response.headers["Location"]
        return int(match.group(1))


def text_of(response: Any) -> str:
    """The response body as text."""
    return str(response.get_data(as_text=True))


def visible_text(html: str) -> str:
    """Rough text content of a page (tags removed, entities decoded)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def contact_ids(html: str) -> list[int]:
    """Ids of the contacts linked from a list page, in order."""
    return [int(m) for m in re.findall(r'class="row-link" href="/contacts/(\d+)"', html)]


def next_link(html: str) -> str | None:
    """The "next page" link of a list page, if any."""
    match = re.search(r'rel="next" href="([^"]+)"', html)
    return unescape(match.group(1)) if match else None


def seed_contacts(app: Flask, tf: TenantFixture, rows: list[dict[str, Any]]) -> list[int]:
    """Insert contacts in one transaction (so that ``created_at`` ties, as in an import)."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            contacts = [Contact(**{"owner_id": tf.owner_id, **row}) for row in rows]
            db.session.add_all(contacts)
            db.session.commit()
            return [c.id for c in contacts]
        finally:
            db.session.remove()


def contact_count(app: Flask, tf: TenantFixture) -> int:
    """How many contacts the tenant has."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            return db.session.query(Contact).count()
        finally:
            db.session.remove()


@pytest.fixture
def tenant(factory: Factory) -> TenantFixture:
    """One fresh workspace."""
    return factory.tenant("web", name="Acme Web")


@pytest.fixture
def owner(client: FlaskClient, tenant: TenantFixture) -> Browser:
    """The workspace owner, signed in."""
    response = login(client, tenant)
    assert response.status_code == 302, text_of(response)[:2000]
    return Browser(client, tenant)


def sign_in_as(app: Flask, tf: TenantFixture, email: str) -> Browser:
    """A separate client signed in as ``email`` on ``tf``."""
    client = app.test_client()
    response = login(client, tf, email=email)
    assert response.status_code == 302, text_of(response)[:2000]
    return Browser(client, tf)


@pytest.fixture(scope="module")
def live_server(app: Flask, database_url: str, smtp_sink: SmtpSink) -> Iterator[LiveServer]:
    """The app over real HTTP for browser tests (an app that knows its port); its mail
    goes to the real SMTP sink."""
    with serve(
        lambda server_name: make_app(
            database_url, SERVER_NAME=server_name, **mail_settings(smtp_sink)
        )
    ) as server:
        yield server


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's, never a downloaded one)."""
    with launch_chromium() as browser:
        yield browser
