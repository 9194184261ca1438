"""The plans' API rate limits, counted per tenant in a real Redis (``REDIS_URL``; the
tests that need it are skipped without it), failing open when Redis is down, and off
when no Redis is configured."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from app.api.openapi import build_spec
from billing import rate_limit
from billing.rate_limit import RateLimiter, redis_url_of
from tests.api.conftest import Api, assert_error
from tests.api.test_openapi import check_response
from tests.billing.conftest import contact_count, set_plan
from tests.conftest import Factory, TenantFixture, login, make_app

HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A key namespace of this test's own (tenant ids repeat across test processes,
    each with its own database); its keys are deleted afterwards."""
    prefix = f"test-rl-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def limited_app(app: Flask, database_url: str, redis_url: str, key_prefix: str) -> Flask:
    """The application with rate limits counted in the test Redis (``app`` has migrated
    the database)."""
    return make_app(database_url, RATE_LIMIT_REDIS_URL=redis_url, RATE_LIMIT_KEY_PREFIX=key_prefix)


@pytest.fixture
def limited_client(limited_app: Flask) -> FlaskClient:
    return limited_app.test_client()


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_answers_carry_the_plans_limit_counting_down(
    limited_client: FlaskClient, factory: Factory
) -> None:
    tf = factory.tenant("rl")  # Free: 60 requests per minute
    api = Api(limited_client, tf)
    seen = []
    for _ in range(3):
        response = api.get("/me")
        assert response.status_code == 200
        seen.append(response.headers)
    assert [h["RateLimit-Limit"] for h in seen] == ["60", "60", "60"]
    assert [h["RateLimit-Remaining"] for h in seen] == ["59", "58", "57"]
    assert all(h["RateLimit-Policy"] == "60;w=60" for h in seen)
    assert all(1 <= int(h["RateLimit-Reset"]) <= 60 for h in seen)
    assert "Retry-After" not in seen[-1]
    # Errors count and carry the headers too.
    missing = api.get("/contacts/987654321")
    assert_error(missing, 404, "not_found")
    assert missing.headers["RateLimit-Remaining"] == "56"


def test_past_the_limit_the_api_answers_429_until_the_window_ends(
    app: Flask, limited_app: Flask, limited_client: FlaskClient, factory: Factory, redis_url: str
) -> None:
    tf = factory.tenant("rl")
    set_plan(app, tf, limit_overrides={"api_requests_per_minute": 5})
    other = factory.tenant("rl-other")
    api = Api(limited_client, tf)
    for n in range(5):
        response = api.get("/me")
        assert response.status_code == 200, n
    assert response.headers["RateLimit-Remaining"] == "0"

    refused = api.post("/contacts", json={"first_name": "Over"})
    details = assert_error(refused, 429, "rate_limited")
    assert details["limit"] == 5
    assert details["window_seconds"] == 60
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert details["retry_after"] == retry_after
    assert refused.headers["RateLimit-Limit"] == "5"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == str(retry_after)
    with limited_app.app_context():
        check_response(build_spec(), "/api/v1/contacts", "post", refused)  # as documented
    assert api.get("/contacts").status_code == 429  # reads are refused alike
    assert contact_count(app, tf) == 0  # the refused create did nothing

    # Another workspace has its own count (its own key).
    other_answer = Api(limited_client, other).get("/me")
    assert other_answer.status_code == 200
    assert other_answer.headers["RateLimit-Remaining"] == "59"

    # The counters are keyed by tenant, and expire with their window.
    store = redis.Redis.from_url(redis_url)
    limiter = rate_limit.limiter_for(limited_app.config)
    assert limiter is not None
    assert int(store.get(limiter.key(tf.tenant.id)) or 0) == 7
    assert int(store.get(limiter.key(other.tenant.id)) or 0) == 1
    assert 0 < store.pttl(limiter.key(tf.tenant.id)) <= 60_000
    store.close()

    # When the window starts over, requests are served again.
    store = redis.Redis.from_url(redis_url)
    store.delete(limiter.key(tf.tenant.id))
    store.close()
    assert api.get("/me").status_code == 200


def test_session_callers_are_counted_against_the_same_workspace(
    limited_client: FlaskClient, factory: Factory
) -> None:
    tf = factory.tenant("rl")
    api = Api(limited_client, tf)
    assert api.get("/me").headers["RateLimit-Remaining"] == "59"
    login(limited_client, tf)
    by_cookie = limited_client.get("/api/v1/me", base_url=tf.base_url)
    assert by_cookie.status_code == 200
    assert by_cookie.get_json()["auth"] == "session"
    assert by_cookie.headers["RateLimit-Remaining"] == "58"


def test_an_unlimited_plan_is_not_counted(
    app: Flask, limited_client: FlaskClient, factory: Factory
) -> None:
    tf = factory.tenant("rl", plan="enterprise")
    response = Api(limited_client, tf).get("/me")
    assert response.status_code == 200
    assert not any(h in response.headers for h in HEADERS)
    # An operator's per-tenant override gives an Enterprise tenant a limit of its own.
    capped = factory.tenant("rl", plan="enterprise")
    set_plan(app, capped, limit_overrides={"api_requests_per_minute": 5000})
    response = Api(limited_client, capped).get("/me")
    assert response.headers["RateLimit-Limit"] == "5000"
    assert response.headers["RateLimit-Remaining"] == "4999"


def test_unauthenticated_requests_are_not_counted(
    limited_client: FlaskClient, factory: Factory
) -> None:
    tf = factory.tenant("rl")
    anonymous = limited_client.get("/api/v1/me", base_url=tf.base_url)
    assert_error(anonymous, 401, "unauthorized")
    assert "RateLimit-Limit" not in anonymous.headers
    assert Api(limited_client, tf).get("/me").headers["RateLimit-Remaining"] == "59"


def test_an_unreachable_redis_fails_open_and_is_logged_once(
    app: Flask, database_url: str, factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    down = make_app(
        database_url,
        RATE_LIMIT_REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0",
        RATE_LIMIT_KEY_PREFIX=f"test-rl-{uuid.uuid4().hex[:12]}",
    )
    tf = factory.tenant("rl")
    set_plan(app, tf, limit_overrides={"api_requests_per_minute": 1})
    api = Api(down.test_client(), tf)
    with caplog.at_level(logging.WARNING, logger="billing.rate_limit"):
        answers = [api.get("/me") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert not any("RateLimit-Limit" in a.headers for a in answers)
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1


def test_the_limiter_pauses_after_an_error_and_tries_again_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = RateLimiter(f"redis://127.0.0.1:{_closed_port()}/0", timeout_seconds=0.2)
    assert limiter.hit(1, 10) is None
    calls: list[Any] = []
    monkeypatch.setattr(limiter, "_script", lambda **kw: calls.append(kw) or [1, 60_000])
    assert limiter.hit(1, 10) is None  # paused: Redis is not asked
    assert calls == []
    monkeypatch.setattr(limiter, "_paused_until", 0.0)
    state = limiter.hit(1, 10)
    assert state is not None and (state.count, state.remaining, state.reset_seconds) == (1, 9, 60)
    limiter.close()


def test_without_redis_the_limiter_is_off_and_says_so_once(
    client: FlaskClient,
    factory: Factory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rate_limit, "_said_off", False)
    tf: TenantFixture = factory.tenant("rl")
    api = Api(client, tf)
    with caplog.at_level(logging.INFO, logger="billing.rate_limit"):
        answers = [api.get("/me") for _ in range(3)]
    assert all(a.status_code == 200 for a in answers)
    assert not any(h in a.headers for a in answers for h in HEADERS)
    said = [r for r in caplog.records if "rate limits are off" in r.getMessage()]
    assert len(said) == 1


def test_which_redis_the_limiter_uses() -> None:
    broker = "redis://broker:6379/0"
    assert redis_url_of({"CELERY_BROKER_URL": broker}) == broker
    assert redis_url_of({"CELERY_BROKER_URL": broker, "RATE_LIMIT_REDIS_URL": "redis://rl/1"}) == (
        "redis://rl/1"
    )
    assert redis_url_of({"CELERY_BROKER_URL": "amqp://broker//"}) is None
    assert redis_url_of({"CELERY_BROKER_URL": None}) is None
    assert redis_url_of({"CELERY_BROKER_URL": broker, "RATE_LIMIT_ENABLED": False}) is None
    # Tests turn it on themselves: a test app with a broker does not count requests.
    assert redis_url_of({"CELERY_BROKER_URL": broker, "TESTING": True}) is None
