"""Helpers for the REST API tests: a small client wrapper and fast contact seeding."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.contacts.models import Contact
from app.database import db
from tenants.context import tenant_context
from tests.conftest import SERVER_NAME, TenantFixture

APEX_URL = f"http://{SERVER_NAME}"
PREFIX = "/api/v1"


class Api:
    """Calls ``/api/v1`` as one caller: a bearer token (default: the tenant owner's) on
    the tenant host, or on ``base_url`` when given."""

    def __init__(
        self,
        client: FlaskClient,
        tf: TenantFixture,
        token: str | None = None,
        base_url: str | None = None,
    ) -> None:
        self.client = client
        self.tf = tf
        self.token = token or tf.token
        self.base_url = base_url or tf.base_url

    def _call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        merged = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.client.open(
            PREFIX + path, method=method, base_url=self.base_url, headers=merged, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self._call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._call("DELETE", path, **kwargs)

    def create(self, **fields: Any) -> dict[str, Any]:
        """Create a contact and return its JSON (asserting 201)."""
        response = self.post("/contacts", json=fields)
        assert response.status_code == 201, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is the contract's error envelope with ``status`` and ``code``."""
    assert response.status_code == status, (
        response.status_code,
        response.get_data(as_text=True)[:500],
    )
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    if field is not None:
        assert field in error["details"], error
        assert isinstance(error["details"][field], list) and error["details"][field], error
    details: dict[str, Any] = error["details"]
    return details


@contextmanager
def tenant_session(app: Flask, tf: TenantFixture) -> Iterator[Session]:
    """A fresh session bound to ``tf``'s schema (new app context, new session)."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            yield db.session
        finally:
            db.session.remove()


def seed_contacts(app: Flask, tf: TenantFixture, rows: list[dict[str, Any]]) -> list[int]:
    """Insert contacts straight into the tenant schema in one transaction (so that
    ``created_at`` ties, as in a bulk import) and return their ids in insertion order."""
    with tenant_session(app, tf) as session:
        contacts = [Contact(**{"owner_id": tf.owner_id, **row}) for row in rows]
        session.add_all(contacts)
        session.commit()
        return [c.id for c in contacts]


def set_timestamps(app: Flask, tf: TenantFixture, stamps: dict[int, dt.datetime]) -> None:
    """Give contacts chosen ``updated_at`` values (sorting tests need spread and ties)."""
    with tenant_session(app, tf) as session:
        for contact_id, stamp in stamps.items():
            session.execute(
                Contact.__table__.update().where(Contact.id == contact_id).values(updated_at=stamp)
            )
        session.commit()


@pytest.fixture
def api(client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture]) -> Api:
    """The owner of tenant A, calling with a bearer token on A's host."""
    return Api(client, two_tenants[0])
