"""Security headers on every kind of response, and templates that need no inline
script or style (the policy would block them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from app.web.security import content_security_policy
from tests.conftest import SERVER_NAME, TenantFixture, make_app
from tests.web.conftest import Browser

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


def assert_secure_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers["Content-Security-Policy"]
    for part in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'self'",
        f"form-action 'self' http://*.{SERVER_NAME}",
    ):
        assert part in csp, part
    assert "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] in {"strict-origin-when-cross-origin", "no-referrer"}
    assert "camera=()" in headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in headers  # plain http here


def test_headers_on_apex_workspace_api_and_errors(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    client = app.test_client()
    responses = [
        client.get("/", base_url=f"http://{SERVER_NAME}"),
        client.get("/login", base_url=f"http://{SERVER_NAME}"),
        client.get("/no-such-page", base_url=f"http://{SERVER_NAME}"),
        client.get("/login", base_url=tenant.base_url),
        owner.get("/contacts"),
        owner.get("/settings/security"),
        client.get("/api/v1/me", base_url=tenant.base_url, headers=tenant.auth()),
        client.get("/api/v1/me", base_url=tenant.base_url),  # 401
        client.get("/api/v1/docs", base_url=tenant.base_url),
    ]
    assert [r.status_code for r in responses][-3:] == [200, 401, 200]
    for response in responses:
        assert_secure_headers(response)


def test_hsts_only_over_https(database_url: str) -> None:
    https = make_app(database_url, PREFERRED_URL_SCHEME="https")
    response = https.test_client().get("/", base_url=f"https://{SERVER_NAME}")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert (
        f"form-action 'self' https://*.{SERVER_NAME}" in response.headers["Content-Security-Policy"]
    )


def test_a_view_keeps_its_own_policy(app: Flask) -> None:
    from flask import Response

    from app.web.security import _add_headers

    with app.test_request_context("/"):
        own = Response("x", headers={"Content-Security-Policy": "sandbox"})
        assert _add_headers(own).headers["Content-Security-Policy"] == "sandbox"


def test_policy_names_workspace_hosts_for_forms() -> None:
    policy = content_security_policy("https", "crm.example")
    assert "form-action 'self' https://*.crm.example" in policy
    assert "script-src 'self' https://crm.example" in policy


@pytest.mark.parametrize(
    "template",
    sorted(p for p in TEMPLATES.rglob("*.html") if "mail" not in p.relative_to(TEMPLATES).parts),
    ids=lambda p: str(p.relative_to(TEMPLATES)),
)
def test_pages_have_no_inline_script_or_style(template: Path) -> None:
    html = template.read_text(encoding="utf-8")
    assert not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"<style\b", html)
    assert not re.search(r"\son[a-z]+\s*=", html)  # event handler attributes
    assert "javascript:" not in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
