"""Shared fixtures: a real PostgreSQL per test process, an app, tenants and members.

The server is ``TEST_DATABASE_URL`` when set, else the embedded PostgreSQL (started once
and shared by every xdist worker). Each test process gets its own database, migrated
once; tests make tenants with unique slugs, so they never step on each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg import sql

from app import create_app
from app.database import db
from app.embedded import sqlalchemy_url, start_embedded
from app.identity.models import User
from app.identity.services import add_member, create_api_token, get_or_create_user
from tenants.fleet import upgrade_public
from tenants.models import Tenant
from tenants.provisioning import ProvisionedTenant, provision_tenant
from tests.support.smtp import SmtpSink

ROOT = Path(__file__).resolve().parent.parent
SERVER_NAME = "crm.test"
PASSWORD = "correct horse battery"


def _server_uri() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql+psycopg://", "postgresql://")
    return start_embedded(ROOT / "instance" / "test-pgdata")


@pytest.fixture(scope="session")
def server_uri() -> str:
    """libpq URI of the test server's maintenance database."""
    return _server_uri()


@contextmanager
def scratch_database(server_uri: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the test server (dropped afterwards); yields its
    SQLAlchemy URL. For tests that need fleet-wide state of their own."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield sqlalchemy_url(server_uri, name)
    finally:
        with psycopg.connect(server_uri, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def database_url(server_uri: str, worker_id: str) -> Iterator[str]:
    """A fresh database for this test process, migrated to head."""
    with scratch_database(server_uri, f"crm_test_{worker_id}") as url:
        yield url


# Apps made by make_app during the running test: their engines' pooled connections are
# closed when it ends. Left to the garbage collector, an app's pool would be collected at
# some arbitrary later point, and psycopg's "deleted while still open" warning would fail
# whichever unrelated test happened to be running then.
_apps_made: list[Flask] = []


@pytest.fixture(autouse=True)
def _close_apps_made_by_the_test() -> Iterator[None]:
    before = len(_apps_made)
    yield
    while len(_apps_made) > before:
        made = _apps_made.pop()
        with made.app_context():
            db.engine.dispose()


def make_app(database_url: str, **overrides: Any) -> Flask:
    """An app wired to the test database (eager Celery unless a broker is given); its
    connections are closed at the end of the test that made it."""
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SERVER_NAME": SERVER_NAME,
        "SECRET_KEY": "test-secret-" + "x" * 32,
        "CELERY_BROKER_URL": None,
        "ARGON2_FAST": True,
        "WTF_CSRF_ENABLED": True,
        "SEED_DEMO": False,
    }
    config.update(overrides)
    made = create_app(config)
    _apps_made.append(made)
    return made


@pytest.fixture
def redis_url() -> str:
    """The Redis of tests that need a real Celery worker; they are skipped without it."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis (REDIS_URL) for a real Celery worker")
    return url


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback that every test app sends its mail to."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def mail_settings(sink: SmtpSink) -> dict[str, Any]:
    """App settings that send mail to ``sink``."""
    return {"MAIL_SMTP_HOST": sink.host, "MAIL_SMTP_PORT": sink.port}


@pytest.fixture(scope="session")
def app(database_url: str, smtp_sink: SmtpSink) -> Iterator[Flask]:
    """The application, with the public schema migrated; its mail goes to ``smtp_sink``."""
    application = make_app(database_url, **mail_settings(smtp_sink))
    with application.app_context():
        upgrade_public(db.engine)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    """An app context, with a clean session afterwards."""
    with app.app_context():
        yield app
        db.session.remove()


@dataclass
class TenantFixture:
    """A provisioned tenant with its owner and a token for the owner."""

    tenant: ProvisionedTenant
    owner_email: str
    owner_id: int
    token: str

    @property
    def slug(self) -> str:
        return self.tenant.slug

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.{SERVER_NAME}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


def unique_slug(prefix: str = "t") -> str:
    """A slug no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Factory:
    """Makes tenants, members and tokens in one line each."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def tenant(self, prefix: str = "t", name: str = "Test Co", plan: str = "free") -> TenantFixture:
        with self.app.app_context():
            slug = unique_slug(prefix)
            email = f"owner@{slug}.example"
            owner = get_or_create_user(db.session, email=email, password=PASSWORD, name="Owner")
            db.session.commit()
            provisioned = provision_tenant(
                db.engine, slug=slug, name=name, owner_user_id=owner.id, plan=plan
            )
            tenant = db.session.get(Tenant, provisioned.id)
            assert tenant is not None
            issued = create_api_token(
                db.session, tenant=tenant, user=owner, name="test", actor="test"
            )
            db.session.commit()
            result = TenantFixture(provisioned, email, owner.id, issued.secret)
            db.session.remove()
            return result

    def member(
        self, tf: TenantFixture, role: str = "sales_rep", email: str | None = None
    ) -> tuple[int, str, str]:
        """Add a member; returns (user id, email, API token)."""
        with self.app.app_context():
            tenant = db.session.get(Tenant, tf.tenant.id)
            assert tenant is not None
            email = email or f"{role}-{uuid.uuid4().hex[:6]}@{tf.slug}.example"
            membership = add_member(
                db.session, tenant=tenant, email=email, password=PASSWORD, role=role, actor="test"
            )
            user = db.session.get(User, membership.user_id)
            assert user is not None
            issued = create_api_token(db.session, tenant=tenant, user=user, actor="test")
            db.session.commit()
            result = (membership.user_id, email, issued.secret)
            db.session.remove()
            return result


@pytest.fixture
def factory(app: Flask) -> Factory:
    """The one-line factory for tenants, members and tokens."""
    return Factory(app)


@pytest.fixture
def two_tenants(factory: Factory) -> tuple[TenantFixture, TenantFixture]:
    """Tenants A and B, each with an owner, a token and a few contacts."""
    a = factory.tenant("alpha", name="Alpha Ltd")
    b = factory.tenant("beta", name="Beta GmbH")
    return a, b


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (cookies kept per host, like a browser)."""
    return app.test_client()


def csrf_token_from(html: str) -> str:
    """The CSRF token of the first form (or meta tag) in a page."""
    import re

    match = (
        re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        or re.search(r'name="csrf-token" content="([^"]+)"', html)
        or re.search(r'name="csrf_token" value="([^"]+)"', html)
    )
    assert match, "no CSRF token in page"
    return match.group(1)


def login(
    client: FlaskClient, tf: TenantFixture, email: str | None = None, password: str = PASSWORD
) -> Any:
    """Sign in through the real login form on the tenant's host."""
    page = client.get("/login", base_url=tf.base_url)
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(
        "/login",
        base_url=tf.base_url,
        data={"email": email or tf.owner_email, "password": password, "csrf_token": token},
    )
