"""Helpers of the import tests: uploading through the API, reading what was written,
and the page and browser fixtures of tests/web (shared rather than copied)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.contacts.models import Contact
from app.imports.models import ImportJob
from tests.api.conftest import Api, tenant_session
from tests.conftest import Factory, TenantFixture
from tests.web.conftest import chromium, live_server, owner, tenant

__all__ = ["chromium", "live_server", "owner", "tenant"]

HEADER = "First name,Last name,Email,Phone,Company,Birthday,Tags\n"


@pytest.fixture
def api(client: FlaskClient, factory: Factory) -> Api:
    """The owner of a fresh Pro workspace (50,000 contacts), calling with a token."""
    return Api(client, factory.tenant("imp", name="Import Co", plan="pro"))


def multipart(fields: dict[str, str], content: bytes, name: str) -> tuple[bytes, str]:
    """A multipart body with ``fields`` and the file, built in memory (the test client
    spools big bodies to a temporary file it never closes)."""
    boundary = "crm-test-boundary-7f3a"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(api: Api, content: bytes | str, name: str = "contacts.csv", **form: str) -> Any:
    """POST a file to /imports; returns the response."""
    data = content.encode() if isinstance(content, str) else content
    body, content_type = multipart({"entity": "contact", **form}, data, name)
    return api.post("/imports", data=body, content_type=content_type)


def run(api: Api, content: bytes | str, name: str = "contacts.csv", **start: Any) -> dict[str, Any]:
    """Upload and start (run in-process); returns the job as the API shows it after."""
    response = upload(api, content, name)
    assert response.status_code == 201, response.get_json()
    job = response.get_json()
    started = api.post(f"/imports/{job['id']}/start", json=start)
    assert started.status_code == 202, started.get_json()
    body: dict[str, Any] = api.get(f"/imports/{job['id']}").get_json()
    return body


def contacts(app: Flask, tf: TenantFixture) -> list[Contact]:
    """Every contact of the workspace, by id."""
    with tenant_session(app, tf) as session:
        rows = list(session.scalars(select(Contact).order_by(Contact.id)))
        session.expunge_all()
        return rows


def job_count(app: Flask, tf: TenantFixture) -> int:
    """How many import jobs the workspace has."""
    with tenant_session(app, tf) as session:
        return int(session.scalar(select(func.count()).select_from(ImportJob)) or 0)
