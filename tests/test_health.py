"""Probes: ``/healthz`` (the process is up) and ``/readyz`` (database and schemas ready).

Readiness speaks for the whole fleet, so these tests use a database of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text, update

from app.database import db
from tenants.fleet import upgrade_public
from tenants.migrations import PUBLIC, TENANT, head_revision
from tenants.models import MigrationState, Tenant
from tests.conftest import SERVER_NAME, Factory, TenantFixture, make_app, scratch_database

APEX = f"http://{SERVER_NAME}"


@pytest.fixture(scope="module")
def health_app(server_uri: str, worker_id: str) -> Iterator[Flask]:
    with scratch_database(server_uri, f"crm_health_{worker_id}") as url:
        application = make_app(url)
        with application.app_context():
            upgrade_public(db.engine)
        yield application
        with application.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def tenant(health_app: Flask) -> TenantFixture:
    return Factory(health_app).tenant("ready")


@pytest.fixture
def client(health_app: Flask) -> FlaskClient:
    return health_app.test_client()


def set_tenant(app: Flask, tenant_id: int, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == tenant_id).values(**values))
        db.session.commit()


def assert_unavailable(response: Any) -> dict[str, Any]:
    assert response.status_code == 503
    assert response.is_json
    body: dict[str, Any] = response.get_json()
    assert body["status"] == "unavailable"
    assert body["error"]["code"] == "unavailable" and body["error"]["message"]
    return body


def test_healthz_answers_on_the_apex_host(client: FlaskClient) -> None:
    r = client.get("/healthz", base_url=APEX)
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok"}


def test_probes_are_not_served_on_workspace_hosts(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    assert client.get("/healthz", base_url=tenant.base_url).status_code == 404
    assert client.get("/readyz", base_url=tenant.base_url).status_code == 404


def test_readyz_is_ok_when_every_schema_is_at_head(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    r = client.get("/readyz", base_url=APEX)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert "error" not in body
    assert body["migrations"]["public"] == {
        "current": head_revision(PUBLIC),
        "head": head_revision(PUBLIC),
    }
    tenants = body["migrations"]["tenants"]
    assert tenants["head"] == head_revision(TENANT)
    assert (tenants["at_head"], tenants["behind"], tenants["failed"]) == (1, 0, 0)


def test_readyz_is_unavailable_while_a_tenant_is_behind(
    health_app: Flask, client: FlaskClient, tenant: TenantFixture
) -> None:
    set_tenant(health_app, tenant.tenant.id, schema_version="t0000_older")
    try:
        body = assert_unavailable(client.get("/readyz", base_url=APEX))
        assert body["database"] == "ok"
        assert body["migrations"]["tenants"]["behind"] == 1
    finally:
        set_tenant(health_app, tenant.tenant.id, schema_version=head_revision(TENANT))
    assert client.get("/readyz", base_url=APEX).status_code == 200


def test_readyz_is_unavailable_while_a_tenant_migration_failed(
    health_app: Flask, client: FlaskClient, tenant: TenantFixture
) -> None:
    set_tenant(health_app, tenant.tenant.id, migration_state=MigrationState.FAILED)
    try:
        body = assert_unavailable(client.get("/readyz", base_url=APEX))
        assert body["migrations"]["tenants"]["failed"] == 1
    finally:
        set_tenant(health_app, tenant.tenant.id, migration_state=MigrationState.OK)
    assert client.get("/readyz", base_url=APEX).status_code == 200


def test_readyz_is_unavailable_while_the_public_schema_is_behind(
    health_app: Flask, client: FlaskClient, tenant: TenantFixture
) -> None:
    def set_public(version: str) -> None:
        with health_app.app_context():
            db.session.execute(
                text("UPDATE public.alembic_version SET version_num = :v"), {"v": version}
            )
            db.session.commit()

    set_public("p0000_older")
    try:
        body = assert_unavailable(client.get("/readyz", base_url=APEX))
        assert body["migrations"]["public"]["current"] == "p0000_older"
    finally:
        set_public(head_revision(PUBLIC))
    assert client.get("/readyz", base_url=APEX).status_code == 200


def test_readyz_is_unavailable_when_the_database_is_unreachable() -> None:
    app = make_app("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    client = app.test_client()
    body = assert_unavailable(client.get("/readyz", base_url=APEX))
    assert body["database"] == "unreachable"
    assert "127.0.0.1" not in str(body)  # no connection details leak out
    # Liveness does not depend on the database.
    assert client.get("/healthz", base_url=APEX).status_code == 200


def test_readyz_is_unavailable_before_the_first_migration(server_uri: str, worker_id: str) -> None:
    with scratch_database(server_uri, f"crm_empty_{worker_id}") as url:
        app = make_app(url)
        try:
            body = assert_unavailable(app.test_client().get("/readyz", base_url=APEX))
            assert (body["database"], body["migrations"]) == ("ok", "not applied")
        finally:
            with app.app_context():
                db.engine.dispose()
