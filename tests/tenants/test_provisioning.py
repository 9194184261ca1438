"""Provisioning: one transaction from registry row to a ready workspace, or nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import DataError

from app.access.builtin import BUILTIN_ROLES
from app.access.models import Role
from app.audit.models import PlatformAuditEntry
from app.database import db
from app.identity.models import Membership
from app.identity.services import get_or_create_user
from app.pipelines.models import Pipeline, Stage
from tenants.binding import bind_connection
from tenants.context import TenantRef
from tenants.migrations import TENANT, head_revision
from tenants.models import MigrationState, Tenant, TenantStatus
from tenants.naming import schema_name_for, to_base36
from tenants.provisioning import (
    InvalidSlug,
    ProvisionedTenant,
    ProvisioningError,
    SlugTaken,
    provision_tenant,
)
from tests.conftest import PASSWORD, unique_slug


@pytest.fixture
def engine(app_ctx: Flask) -> Engine:
    return db.engine


def make_user(label: str = "owner") -> int:
    email = f"{label}-{uuid.uuid4().hex[:8]}@provisioning.example"
    user = get_or_create_user(db.session, email=email, password=PASSWORD)
    db.session.commit()
    return user.id


@contextmanager
def tenant_connection(engine: Engine, ref: TenantRef) -> Iterator[Connection]:
    """A read transaction bound to ``ref``'s schema (rolled back afterwards)."""
    with engine.connect() as conn, conn.begin() as trans:
        bind_connection(conn, ref)
        yield conn
        trans.rollback()


def tenant_schemas(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'")
            ).scalars()
        )


def leftovers(engine: Engine, *, slug: str, tenant_id: int | None = None) -> dict[str, Any]:
    """Everything a failed provisioning could have left behind for ``slug`` / ``tenant_id``."""
    with engine.connect() as conn:
        found: dict[str, Any] = {
            "tenant_by_slug": conn.execute(select(Tenant.id).where(Tenant.slug == slug)).all(),
            "audit_by_slug": conn.execute(
                select(PlatformAuditEntry.id).where(
                    PlatformAuditEntry.action == "tenant.created",
                    PlatformAuditEntry.details["slug"].astext == slug,
                )
            ).all(),
        }
        if tenant_id is not None:
            found["tenant_by_id"] = conn.execute(
                select(Tenant.id).where(Tenant.id == tenant_id)
            ).all()
            found["memberships"] = conn.execute(
                select(Membership.id).where(Membership.tenant_id == tenant_id)
            ).all()
            found["audit_by_id"] = conn.execute(
                select(PlatformAuditEntry.id).where(PlatformAuditEntry.tenant_id == tenant_id)
            ).all()
            found["schema"] = conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname = :name"),
                {"name": schema_name_for(tenant_id)},
            ).all()
    return {key: rows for key, rows in found.items() if rows}


def test_provisioning_makes_a_ready_workspace(engine: Engine) -> None:
    owner_id = make_user()
    slug = unique_slug("prov")
    made = provision_tenant(
        engine,
        slug=slug,
        name="  Provisioned Ltd ",
        owner_user_id=owner_id,
        plan="starter",
        actor="test-suite",
    )

    assert isinstance(made, ProvisionedTenant)
    assert (made.slug, made.name) == (slug, "Provisioned Ltd")
    # The schema name comes from the immutable id, never from the slug.
    assert made.schema_name == schema_name_for(made.id) == "t_" + to_base36(made.id)
    assert slug not in made.schema_name
    assert made.elapsed_ms > 0

    tenant = db.session.get(Tenant, made.id)
    assert tenant is not None
    assert tenant.slug == slug
    assert tenant.status == TenantStatus.ACTIVE
    assert tenant.plan == "starter"
    assert tenant.schema_name == made.schema_name
    assert tenant.schema_version == head_revision(TENANT)
    assert tenant.migration_state == MigrationState.OK

    memberships = db.session.scalars(
        select(Membership).where(Membership.tenant_id == made.id)
    ).all()
    assert [(m.user_id, m.role, m.is_active) for m in memberships] == [(owner_id, "owner", True)]

    audit = db.session.scalars(
        select(PlatformAuditEntry).where(PlatformAuditEntry.tenant_id == made.id)
    ).all()
    assert [(a.actor, a.action) for a in audit] == [("test-suite", "tenant.created")]
    assert audit[0].details == {"slug": slug, "plan": "starter"}

    with tenant_connection(engine, made.ref) as conn:
        roles = {r.key: r for r in conn.execute(select(Role)).all()}
        assert set(roles) == set(BUILTIN_ROLES) and len(roles) == 5
        assert all(r.is_builtin for r in roles.values())
        assert roles["owner"].permissions == BUILTIN_ROLES["owner"]["permissions"]

        pipelines = conn.execute(select(Pipeline)).all()
        assert [p.is_default for p in pipelines] == [True]
        stages = conn.execute(
            select(Stage).where(Stage.pipeline_id == pipelines[0].id).order_by(Stage.position)
        ).all()
        assert [s.position for s in stages] == list(range(len(stages)))
        kinds = [s.kind for s in stages]
        assert kinds.count("won") == 1
        assert kinds.count("lost") >= 1
        assert kinds[0] == "open"
        won = next(s for s in stages if s.kind == "won")
        assert won.probability == 100
        assert all(s.probability == 0 for s in stages if s.kind == "lost")

        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            head_revision(TENANT)
        ]
        # The workspace starts empty apart from its defaults.
        assert conn.execute(text("SELECT count(*) FROM contacts")).scalar_one() == 0


def test_schema_names_follow_ids(engine: Engine) -> None:
    first = provision_tenant(engine, slug=unique_slug("ids"), name="One")
    second = provision_tenant(engine, slug=unique_slug("ids"), name="Two")
    assert second.id > first.id
    assert [first.schema_name, second.schema_name] == [
        schema_name_for(first.id),
        schema_name_for(second.id),
    ]
    assert {first.schema_name, second.schema_name} <= tenant_schemas(engine)


def _raise_python_error(_conn: Connection, _ref: TenantRef) -> None:
    raise RuntimeError("boom after create")


def _raise_sql_error(conn: Connection, _ref: TenantRef) -> None:
    conn.exec_driver_sql("SELECT 1 / 0")


@pytest.mark.parametrize(
    ("after_create", "error"),
    [(_raise_python_error, RuntimeError), (_raise_sql_error, DataError)],
    ids=["python-error", "sql-error"],
)
def test_failure_midway_leaves_nothing_behind(
    engine: Engine,
    after_create: Callable[[Connection, TenantRef], None],
    error: type[Exception],
) -> None:
    owner_id = make_user()
    slug = unique_slug("fail")
    seen: dict[str, Any] = {}

    def failing(conn: Connection, ref: TenantRef) -> None:
        # By now everything has been created in the (still open) transaction.
        seen["ref"] = ref
        seen["schema"] = conn.execute(text("SELECT current_schema()")).scalar_one()
        seen["roles"] = conn.execute(select(func.count()).select_from(Role)).scalar_one()
        seen["memberships"] = conn.execute(
            select(func.count()).select_from(Membership).where(Membership.tenant_id == ref.id)
        ).scalar_one()
        after_create(conn, ref)

    with pytest.raises(error):
        provision_tenant(
            engine, slug=slug, name="Doomed", owner_user_id=owner_id, after_create=failing
        )

    ref: TenantRef = seen["ref"]
    assert seen["schema"] == ref.schema_name == schema_name_for(ref.id)
    assert seen["roles"] == len(BUILTIN_ROLES)
    assert seen["memberships"] == 1
    assert leftovers(engine, slug=slug, tenant_id=ref.id) == {}
    # The slug is free again.
    again = provision_tenant(engine, slug=slug, name="Second try", owner_user_id=owner_id)
    assert again.id != ref.id


def test_duplicate_slug_is_refused_and_creates_nothing(engine: Engine) -> None:
    slug = unique_slug("dup")
    first_owner = make_user("first")
    second_owner = make_user("second")
    first = provision_tenant(engine, slug=slug, name="First", owner_user_id=first_owner)
    schemas_before = tenant_schemas(engine)

    with pytest.raises(SlugTaken, match=slug):
        provision_tenant(engine, slug=slug, name="Second", owner_user_id=second_owner)

    assert tenant_schemas(engine) == schemas_before
    with engine.connect() as conn:
        assert conn.execute(select(Tenant.id).where(Tenant.slug == slug)).scalars().all() == [
            first.id
        ]
        assert (
            conn.execute(
                select(Membership.tenant_id).where(Membership.user_id == second_owner)
            ).all()
            == []
        )
    assert len(leftovers(engine, slug=slug)["audit_by_slug"]) == 1


def test_concurrent_provisioning_of_one_slug_yields_one_workspace(engine: Engine) -> None:
    slug = unique_slug("race")
    schemas_before = tenant_schemas(engine)
    barrier = threading.Barrier(2)

    def attempt(label: str) -> ProvisionedTenant | Exception:
        barrier.wait(timeout=10)
        try:
            return provision_tenant(engine, slug=slug, name=label)
        except ProvisioningError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(attempt, ["A", "B"]))

    made = [o for o in outcomes if isinstance(o, ProvisionedTenant)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(made) == 1, outcomes
    assert len(refused) == 1 and isinstance(refused[0], SlugTaken), outcomes
    assert tenant_schemas(engine) - schemas_before == {made[0].schema_name}


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "a",
        "ab",
        "-acme",
        "acme-",
        "ac--me",
        "Acme",
        "acme_co",
        "acme.co",
        "ac me",
        "acme\n",
        "ácme",
        "a" * 41,
        "www",
        "admin",
        "api",
        "public",
        "login",
        "healthz",
    ],
)
def test_invalid_or_reserved_slugs_are_refused(engine: Engine, slug: str) -> None:
    schemas_before = tenant_schemas(engine)
    with pytest.raises(InvalidSlug):
        provision_tenant(engine, slug=slug, name="Nope")
    assert tenant_schemas(engine) == schemas_before
    assert leftovers(engine, slug=slug) == {}


def test_a_workspace_needs_a_name(engine: Engine) -> None:
    slug = unique_slug("noname")
    with pytest.raises(ProvisioningError):
        provision_tenant(engine, slug=slug, name="   ")
    assert leftovers(engine, slug=slug) == {}
