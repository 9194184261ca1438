"""Workspace sign-in: throttling per address and per client, remember-me cookies and
session rotation."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from app.config import from_env
from app.database import db
from app.identity.models import LoginThrottle, User
from app.identity.passwords import hash_password
from app.identity.throttle import account_key, ip_key
from tests.account.conftest import attempt, fresh_ip, throttle_row, user_by_email
from tests.conftest import PASSWORD, Factory, TenantFixture, csrf_token_from
from tests.web.conftest import text_of, visible_text

LOCKED = "sign-in is locked"


def test_an_account_locks_after_five_failures_with_a_clear_429(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    ip = fresh_ip()
    for n in range(4):
        response = attempt(client, tenant, tenant.owner_email, f"wrong {n}", ip=ip)
        assert response.status_code == 200
        assert "Wrong email or password." in text_of(response)
    fifth = attempt(client, tenant, tenant.owner_email, "wrong 5", ip=ip)
    assert fifth.status_code == 429
    # While locked even the right password is not checked, from any client.
    right = attempt(client, tenant, tenant.owner_email, PASSWORD, ip=fresh_ip())
    assert right.status_code == 429
    assert right.mimetype == "text/html"
    text = visible_text(text_of(right))
    assert LOCKED in text
    assert "Try again in 15 minutes." in text
    assert "Wrong email or password." not in text
    assert 840 <= int(right.headers["Retry-After"]) <= 900
    # The form keeps the address that was typed.
    assert f'value="{tenant.owner_email}"' in text_of(right)


def test_the_account_lock_is_global_across_workspaces(factory: Factory, app: Flask) -> None:
    a = factory.tenant("lock-a")
    b = factory.tenant("lock-b")
    email = f"both-{a.slug}@example.com"
    factory.member(a, email=email)
    factory.member(b, email=email)
    client = app.test_client()
    for n in range(5):
        attempt(client, a, email, f"wrong {n}", ip=fresh_ip())
    assert attempt(client, b, email, PASSWORD, ip=fresh_ip()).status_code == 429


def test_unknown_addresses_are_locked_alike(client: FlaskClient, tenant: TenantFixture) -> None:
    unknown = f"nobody-{tenant.slug}@example.com"
    ip = fresh_ip()
    answers = [attempt(client, tenant, unknown, "guess", ip=ip) for _ in range(5)]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
    assert "Wrong email or password." in text_of(answers[0])
    locked = attempt(client, tenant, unknown, "guess", ip=fresh_ip())
    assert locked.status_code == 429
    assert LOCKED in visible_text(text_of(locked))


def test_a_client_address_locks_after_thirty_failures(
    client: FlaskClient, tenant: TenantFixture, app: Flask
) -> None:
    ip = fresh_ip()
    statuses = [
        attempt(client, tenant, f"n{n}-{tenant.slug}@example.com", "x", ip=ip).status_code
        for n in range(30)
    ]
    assert statuses[:29] == [200] * 29
    assert statuses[29] == 429
    # The owner from that address is refused; from another address they get in.
    assert attempt(client, tenant, tenant.owner_email, PASSWORD, ip=ip).status_code == 429
    assert attempt(client, tenant, tenant.owner_email, PASSWORD, ip=fresh_ip()).status_code == 302
    row = throttle_row(app, ip_key(ip))
    assert row is not None and row.failures == 30 and row.locked_until is not None


def test_success_resets_the_account_counter(
    client: FlaskClient, tenant: TenantFixture, app: Flask
) -> None:
    key = account_key(tenant.owner_email)
    for n in range(4):
        attempt(client, tenant, tenant.owner_email, f"wrong {n}", ip=fresh_ip())
    row = throttle_row(app, key)
    assert row is not None and row.failures == 4
    assert attempt(client, tenant, tenant.owner_email, PASSWORD, ip=fresh_ip()).status_code == 302
    assert throttle_row(app, key) is None
    other = app.test_client()
    assert attempt(other, tenant, tenant.owner_email, "wrong", ip=fresh_ip()).status_code == 200


def test_an_expired_lock_starts_a_new_count(
    client: FlaskClient, tenant: TenantFixture, app: Flask
) -> None:
    for n in range(5):
        attempt(client, tenant, tenant.owner_email, f"wrong {n}", ip=fresh_ip())
    key = account_key(tenant.owner_email)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with app.app_context():
        db.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(locked_until=past, window_started_at=past - dt.timedelta(minutes=5))
        )
        db.session.commit()
    # One more failure after the lock ran out is failure 1 of a new window, not a relock.
    assert attempt(client, tenant, tenant.owner_email, "wrong", ip=fresh_ip()).status_code == 200
    row = throttle_row(app, key)
    assert row is not None and row.failures == 1
    assert attempt(client, tenant, tenant.owner_email, PASSWORD, ip=fresh_ip()).status_code == 302


def test_remember_me_cookie_is_http_only_lax_and_lasts_thirty_days(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    response = attempt(client, tenant, tenant.owner_email, PASSWORD, ip=fresh_ip(), remember=True)
    assert response.status_code == 302
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert len(cookies) == 1
    cookie = cookies[0]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Domain=" not in cookie  # host-only: never sent to another workspace
    stored = client.get_cookie("remember_token", domain=tenant.host)
    assert stored is not None and stored.expires is not None
    days = (stored.expires - dt.datetime.now(dt.UTC)).days
    assert 29 <= days <= 30


def test_cookies_are_secure_in_production() -> None:
    config = from_env({"CRM_ENV": "production"})
    assert config["REMEMBER_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert from_env({})["REMEMBER_COOKIE_SECURE"] is False


def test_sign_in_starts_a_new_session_and_old_csrf_tokens_die(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    page = client.get("/login", base_url=tenant.base_url)
    before_token = csrf_token_from(text_of(page))
    before = client.get_cookie("session", domain=tenant.host)
    assert before is not None
    response = client.post(
        "/login",
        base_url=tenant.base_url,
        data={"email": tenant.owner_email, "password": PASSWORD, "csrf_token": before_token},
    )
    assert response.status_code == 302
    after = client.get_cookie("session", domain=tenant.host)
    assert after is not None and after.value != before.value
    planted = client.post(
        "/contacts/new",
        base_url=tenant.base_url,
        data={"first_name": "Planted", "csrf_token": before_token},
    )
    assert planted.status_code == 400
    fresh = csrf_token_from(text_of(client.get("/contacts/new", base_url=tenant.base_url)))
    assert fresh != before_token


def test_a_weaker_hash_is_upgraded_at_sign_in(
    client: FlaskClient, tenant: TenantFixture, app: Flask
) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORD)
    with app.app_context():
        db.session.execute(
            update(User).where(User.email == tenant.owner_email).values(password_hash=weak)
        )
        db.session.commit()
    assert attempt(client, tenant, tenant.owner_email, PASSWORD, ip=fresh_ip()).status_code == 302
    stored = user_by_email(app, tenant.owner_email).password_hash
    assert stored is not None and stored != weak
    assert stored.split("$")[3] == hash_password("x").split("$")[3]  # today's parameters


def test_forwarded_addresses_count_only_behind_trusted_proxies(
    database_url: str, tenant: TenantFixture
) -> None:
    """With one trusted proxy the client address is the last X-Forwarded-For hop; with
    none, the header is ignored (a client could write anything in it)."""
    from tests.conftest import make_app

    forwarded = fresh_ip()
    proxy = fresh_ip()
    for trusted, counted in ((0, proxy), (1, forwarded)):
        application = make_app(database_url, TRUSTED_PROXIES=trusted)
        client = application.test_client()
        page = client.get("/login", base_url=tenant.base_url)
        client.post(
            "/login",
            base_url=tenant.base_url,
            data={
                "email": tenant.owner_email,
                "password": "wrong",
                "csrf_token": csrf_token_from(text_of(page)),
            },
            headers={"X-Forwarded-For": f"198.51.100.1, {forwarded}"},
            environ_overrides={"REMOTE_ADDR": proxy},
        )
        row = throttle_row(application, ip_key(counted))
        assert row is not None and row.failures == 1, (trusted, counted)
        with application.app_context():
            db.engine.dispose()
    assert throttle_row(application, ip_key("198.51.100.1")) is None
