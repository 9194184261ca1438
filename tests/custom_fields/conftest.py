"""Fixtures of the custom field tests: one workspace, its owner's API client and a
helper that defines fields; the page and browser helpers of tests/web are shared."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import Api
from tests.conftest import Factory, TenantFixture
from tests.web.conftest import chromium, live_server, owner, tenant

__all__ = ["chromium", "live_server", "owner", "tenant"]


@pytest.fixture
def ws(factory: Factory) -> TenantFixture:
    """A workspace on the Pro plan (200 custom fields), so that the value tests can
    define one field of every type."""
    return factory.tenant("cf", plan="pro")


@pytest.fixture
def api(client: FlaskClient, ws: TenantFixture) -> Api:
    """The owner of ``ws`` on its API."""
    return Api(client, ws)


def define(api: Api, entity: str, key: str, type_: str, **extra: Any) -> dict[str, Any]:
    """Create a custom field through the API (asserting 201) and return its JSON."""
    body = {"entity": entity, "key": key, "label": key.replace("_", " ").title(), "type": type_}
    response = api.post("/custom-fields", json={**body, **extra})
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created
