"""Tenant context across Celery: the tenant id travels in the message headers.

Eagerly (no broker, the embedded default) and through a real ``celery worker`` on
Redis: a tenant task runs bound to the tenant named by its message, never to whatever
the executing context had bound, and a message without the header fails before the
task body reads anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, update

from app.contacts.tasks import count_contacts
from app.database import db
from app.tasks import celery_app
from tenants.celery import HEADER
from tenants.context import NoTenantBound, current_tenant, tenant_context
from tenants.models import Tenant, TenantStatus
from tests.conftest import TenantFixture
from tests.support.worker import real_worker

RESULT_SECONDS = 60


def add_contacts(client: FlaskClient, tf: TenantFixture, count: int) -> None:
    for i in range(count):
        r = client.post(
            "/api/v1/contacts",
            base_url=tf.base_url,
            headers=tf.auth(),
            json={"first_name": f"Person {i}", "email": f"p{i}@{tf.slug}.example"},
        )
        assert r.status_code == 201, r.get_json()


@pytest.fixture
def tenants_with_contacts(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture]
) -> tuple[TenantFixture, TenantFixture]:
    a, b = two_tenants
    add_contacts(client, a, 3)
    add_contacts(client, b, 1)
    return a, b


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs while the test does."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


# -------------------------------------------------------------------------- eager


def test_eager_task_counts_the_bound_tenants_contacts(
    app: Flask, tenants_with_contacts: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = tenants_with_contacts
    with app.app_context():
        assert celery_app.conf.task_always_eager
        with tenant_context(a.tenant.ref):
            assert count_contacts.delay().get() == {"tenant_id": a.tenant.id, "contacts": 3}
            # The sender's binding is intact afterwards.
            assert current_tenant() == a.tenant.ref
        with tenant_context(b.tenant.ref):
            result = count_contacts.apply_async()
            assert result.get() == {"tenant_id": b.tenant.id, "contacts": 1}
        assert current_tenant() is None


def test_sending_a_tenant_task_with_no_tenant_bound_raises(
    app: Flask, statements: list[str]
) -> None:
    with app.app_context():
        assert current_tenant() is None
        with pytest.raises(NoTenantBound):
            count_contacts.delay()
        with pytest.raises(NoTenantBound):
            count_contacts.apply_async()
        with pytest.raises(NoTenantBound):
            count_contacts.s().delay()
    assert statements == []


def test_a_message_without_the_header_raises_before_touching_data(
    app: Flask, tenants_with_contacts: tuple[TenantFixture, TenantFixture], statements: list[str]
) -> None:
    a, _ = tenants_with_contacts
    with app.app_context(), tenant_context(a.tenant.ref):
        # Task.apply runs a message as the worker would, without the sending side that
        # adds the header. The sender's ambient binding must not stand in for it.
        with pytest.raises(NoTenantBound, match=HEADER):
            count_contacts.apply()
        assert current_tenant() == a.tenant.ref
        assert statements == []
        # The same task sent properly does reach the database (the listener sees it).
        assert count_contacts.delay().get()["contacts"] == 3
    assert any("contacts" in statement for statement in statements)


@pytest.mark.parametrize(
    "value", ["not-a-number", "", "987654321"], ids=["junk", "empty", "unknown"]
)
def test_a_header_naming_no_live_tenant_raises(
    app: Flask, tenants_with_contacts: tuple[TenantFixture, TenantFixture], value: str
) -> None:
    a, _ = tenants_with_contacts
    with app.app_context(), tenant_context(a.tenant.ref), pytest.raises(NoTenantBound):
        count_contacts.apply(headers={HEADER: value})


def test_a_deleted_tenant_gets_no_tasks_run(
    app: Flask, tenants_with_contacts: tuple[TenantFixture, TenantFixture]
) -> None:
    a, _ = tenants_with_contacts
    with app.app_context():
        db.session.execute(
            update(Tenant).where(Tenant.id == a.tenant.id).values(status=TenantStatus.DELETED)
        )
        db.session.commit()
        try:
            with tenant_context(a.tenant.ref), pytest.raises(NoTenantBound):
                count_contacts.delay()
        finally:
            db.session.execute(
                update(Tenant).where(Tenant.id == a.tenant.id).values(status=TenantStatus.ACTIVE)
            )
            db.session.commit()


def test_the_header_not_the_ambient_binding_decides_the_tenant(
    app: Flask, tenants_with_contacts: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = tenants_with_contacts
    with app.app_context(), tenant_context(a.tenant.ref):
        result = count_contacts.apply(headers={HEADER: b.tenant.id})
        assert result.get() == {"tenant_id": b.tenant.id, "contacts": 1}
        assert current_tenant() == a.tenant.ref


# -------------------------------------------------------------------- real worker


@pytest.mark.redis
def test_a_real_worker_binds_each_message_to_its_own_tenant(
    app: Flask,
    database_url: str,
    redis_url: str,
    tenants_with_contacts: tuple[TenantFixture, TenantFixture],
    tmp_path: Path,
) -> None:
    a, b = tenants_with_contacts
    results: list[Any] = []
    # A queue of our own: parallel test runs on one Redis never take each other's tasks.
    with real_worker(app, database_url, redis_url, tmp_path) as run:
        sender, queue, worker = run.sender, run.queue, run.worker
        try:
            with sender.app_context():
                assert not celery_app.conf.task_always_eager
                with tenant_context(a.tenant.ref):
                    sent_a = count_contacts.delay()
                with tenant_context(b.tenant.ref):
                    sent_b = count_contacts.delay()
                # A message with no tenant header, as any other producer could send it.
                headerless = celery_app.send_task(count_contacts.name, queue=queue)
                # Any producer's message works when it names a live tenant...
                raw_b = celery_app.send_task(
                    count_contacts.name, queue=queue, headers={HEADER: b.tenant.id}
                )
                # ...and fails when the tenant it names is not one.
                unknown = celery_app.send_task(
                    count_contacts.name, queue=queue, headers={HEADER: 987654321}
                )
                results = [sent_a, sent_b, headerless, raw_b, unknown]

                assert sent_a.get(timeout=RESULT_SECONDS) == {
                    "tenant_id": a.tenant.id,
                    "contacts": 3,
                }
                assert sent_b.get(timeout=RESULT_SECONDS) == {
                    "tenant_id": b.tenant.id,
                    "contacts": 1,
                }
                assert raw_b.get(timeout=RESULT_SECONDS) == {
                    "tenant_id": b.tenant.id,
                    "contacts": 1,
                }
                for refused in (headerless, unknown):
                    refused.get(timeout=RESULT_SECONDS, propagate=False)
                    assert refused.state == "FAILURE"
                    assert isinstance(refused.result, NoTenantBound), repr(refused.result)
                    # Raised by the header check, before the task body could read anything.
                    assert HEADER in str(refused.result)
        finally:
            with sender.app_context():
                for result in results:
                    result.forget()
    assert celery_app.conf.task_always_eager
    assert worker.returncode is not None
