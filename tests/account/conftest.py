"""Helpers for the account tests: sign-in attempts from chosen client addresses,
two-factor enrolment through the pages, and direct looks at the stored rows."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.database import db
from app.identity.models import LoginThrottle, User
from tests.conftest import PASSWORD, Factory, TenantFixture, csrf_token_from
from tests.web.conftest import Browser, text_of

_ADDRESSES = itertools.count(1)
LOCAL = "127.0.0.1"
STRONG_PASSWORD = "violet tractor pelican 42"


def fresh_ip() -> str:
    """A client address no other test of this process uses (the whole suite runs from
    127.0.0.1, whose per-address counter must stay low)."""
    n = next(_ADDRESSES) + (uuid.uuid4().int % 1000) * 1000
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def attempt(
    client: FlaskClient,
    tf: TenantFixture,
    email: str,
    password: str,
    *,
    ip: str,
    remember: bool = False,
) -> Any:
    """Post the workspace sign-in form from ``ip``."""
    page = client.get("/login", base_url=tf.base_url, environ_overrides={"REMOTE_ADDR": ip})
    data = {"email": email, "password": password, "csrf_token": csrf_token_from(text_of(page))}
    if remember:
        data["remember"] = "y"
    return client.post(
        "/login", base_url=tf.base_url, data=data, environ_overrides={"REMOTE_ADDR": ip}
    )


def user_by_email(app: Flask, email: str) -> User:
    """The stored user (detached, attributes loaded)."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email.lower())).one()
        db.session.expunge(user)
        db.session.remove()
        return user


def throttle_row(app: Flask, key: str) -> LoginThrottle | None:
    with app.app_context():
        row = db.session.get(LoginThrottle, key)
        if row is not None:
            db.session.expunge(row)
        db.session.remove()
        return row


def sign_in(app: Flask, tf: TenantFixture, email: str, password: str = PASSWORD) -> Browser:
    """A new client signed in (password only) as ``email``, from the address its later
    requests come from (sessions are bound to it)."""
    client = app.test_client()
    response = attempt(client, tf, email, password, ip=LOCAL)
    assert response.status_code == 302, text_of(response)[:2000]
    return Browser(client, tf)


def enrol_two_factor(browser: Browser) -> tuple[pyotp.TOTP, list[str]]:
    """Turn two-factor on through the pages; returns the app's TOTP and the recovery
    codes shown once."""
    page = browser.get("/settings/security")
    start = browser.post(
        "/settings/security/two-factor/setup", data={"csrf_token": csrf_token_from(text_of(page))}
    )
    assert start.status_code == 302
    page = browser.get("/settings/security")
    html = text_of(page)
    assert "<svg" in html
    assert page.headers["Cache-Control"] == "no-store"
    match = re.search(r'<code class="secret" dir="ltr">([A-Z2-7]+)</code>', html)
    assert match, html
    totp = pyotp.TOTP(match.group(1))
    done = browser.post(
        "/settings/security/two-factor/confirm",
        data={"code": totp.now(), "csrf_token": csrf_token_from(html)},
    )
    assert done.status_code == 200, text_of(done)[:2000]
    assert done.headers["Cache-Control"] == "no-store"
    codes = recovery_codes_in(text_of(done))
    assert len(codes) == 10
    return totp, codes


def recovery_codes_in(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html)


def code_at(totp: pyotp.TOTP, steps_ahead: int) -> str:
    """The code of the step ``steps_ahead`` from now (the server accepts one step of
    drift, so a test need not wait 30 s for a fresh code)."""
    return totp.at(time.time() + 30 * steps_ahead)


@pytest.fixture
def tenant(factory: Factory) -> TenantFixture:
    """One fresh workspace."""
    return factory.tenant("acct", name="Account Co")


@pytest.fixture
def owner(app: Flask, tenant: TenantFixture) -> Browser:
    """The workspace owner, signed in (from an address of their own)."""
    return sign_in(app, tenant, tenant.owner_email)
