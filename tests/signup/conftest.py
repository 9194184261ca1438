"""Helpers for the signup tests: a browser on the apex host with its own client address,
the form filled in with good values, and counts of what exists."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from app.database import db
from app.identity.models import User
from app.signup.models import Signup
from tenants.models import Tenant
from tests.conftest import SERVER_NAME, csrf_token_from

APEX = f"http://{SERVER_NAME}"
STRONG_PASSWORD = "violet tangerine harbour 42"
_ADDRESSES = itertools.count(1)


def fresh_ip() -> str:
    """A client address no other test uses (the per-address limits start at zero)."""
    n = next(_ADDRESSES) + uuid.uuid4().int % 60000
    return f"10.{(n >> 16) % 256}.{(n >> 8) % 256}.{n % 256}"


@dataclass
class Counts:
    """What exists for one slug and one email."""

    tenants: int
    users: int
    signups: int
    schemas: int


def counts(app: Flask, slug: str, email: str) -> Counts:
    with app.app_context():
        try:
            tenants = db.session.scalar(select(func.count()).where(Tenant.slug == slug))
            users = db.session.scalar(
                select(func.count()).where(func.lower(User.email) == email.lower())
            )
            signups = db.session.scalar(
                select(func.count()).where(func.lower(Signup.slug) == slug.lower())
            )
            schemas = db.session.scalar(
                text(
                    "SELECT count(*) FROM public.tenants t JOIN pg_namespace n"
                    " ON n.nspname = t.schema_name WHERE t.slug = :slug"
                ),
                {"slug": slug},
            )
            return Counts(tenants or 0, users or 0, signups or 0, schemas or 0)
        finally:
            db.session.remove()


class Visitor:
    """A browser on the apex host, with its own client address."""

    def __init__(self, app: Flask, ip: str | None = None) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.ip = ip or fresh_ip()

    def get(self, path: str, base_url: str = APEX, **kwargs: Any) -> Any:
        return self.client.get(
            path, base_url=base_url, environ_base={"REMOTE_ADDR": self.ip}, **kwargs
        )

    def post(self, path: str, base_url: str = APEX, **kwargs: Any) -> Any:
        return self.client.post(
            path, base_url=base_url, environ_base={"REMOTE_ADDR": self.ip}, **kwargs
        )

    def form_page(self, path: str = "/signup") -> tuple[str, str]:
        """The form's CSRF token and form id."""
        page = self.get(path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        match = re.search(r'id="form_id" name="form_id" type="hidden" value="([^"]+)"', html)
        assert match, "no form id"
        return csrf_token_from(html), match.group(1)

    def sign_up(self, form_id: str | None = None, csrf: str | None = None, **values: str) -> Any:
        """Post the signup form (good values unless overridden)."""
        if csrf is None or form_id is None:
            page_csrf, page_form_id = self.form_page()
            csrf = csrf or page_csrf
            form_id = form_id or page_form_id
        data = good_values()
        data.update(values)
        data.update(csrf_token=csrf, form_id=form_id)
        return self.post("/signup", data=data)

    def follow_to_workspace(self, response: Any) -> Any:
        """From the POST's answer, through the progress page and the handoff, to the
        workspace; returns the answer of the welcome page."""
        assert response.status_code == 303, response.get_data(as_text=True)[:2000]
        progress = self.get(urlsplit(response.location).path)
        assert progress.status_code == 302, progress.get_data(as_text=True)[:2000]
        return self.open_absolute(progress.location)

    def open_absolute(self, url: str) -> Any:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.get(path, base_url=f"{parts.scheme}://{parts.netloc}")


_SLUGS = itertools.count(1)


def good_values(**overrides: str) -> dict[str, str]:
    slug = f"su-{uuid.uuid4().hex[:10]}"
    values = {
        "company_name": "Northwind Traders",
        "slug": slug,
        "owner_name": "Nora Owner",
        "email": f"nora@{slug}.example",
        "password": STRONG_PASSWORD,
        "plan": "free",
        "website": "",
    }
    values.update(overrides)
    return values


@pytest.fixture
def visitor(app: Flask) -> Iterator[Visitor]:
    yield Visitor(app)


def field_errors(html: str, field: str) -> list[str]:
    """The error messages shown next to ``field``."""
    match = re.search(rf'<div class="field-error" id="{field}-error">(.*?)</div>', html, re.S)
    if not match:
        return []
    return [unescape(m) for m in re.findall(r"<p>(.*?)</p>", match.group(1), re.S)]
