"""The ``crm`` command line, driven through Flask's CLI runner and as a real process.

The commands run against a database of their own (``crm db status`` speaks for the
whole fleet, so no other test's tenants may be in it). Every failure a user can cause
must be a clear message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update

from app.access.models import Role
from app.audit.models import PlatformAuditEntry
from app.database import db
from app.identity.models import Membership, User
from app.identity.services import find_user_by_email
from app.operators.models import Operator
from tenants.binding import bind_connection
from tenants.migrations import TENANT, head_revision
from tenants.models import MigrationState, Tenant, TenantStatus
from tenants.resolution import ref_of
from tests.conftest import (
    PASSWORD,
    SERVER_NAME,
    csrf_token_from,
    make_app,
    scratch_database,
    unique_slug,
)

CRM = Path(sys.executable).with_name("crm")


@pytest.fixture(scope="module")
def cli_app(server_uri: str, worker_id: str) -> Iterator[Flask]:
    """An app on a database of its own, migrated by ``crm db upgrade``."""
    with scratch_database(server_uri, f"crm_cli_{worker_id}") as url:
        application = make_app(url)
        result = invoke(application, "db", "upgrade")
        assert result.exit_code == 0, result.output
        yield application
        with application.app_context():
            db.engine.dispose()


@pytest.fixture
def client(cli_app: Flask) -> FlaskClient:
    return cli_app.test_client()


def invoke(app: Flask, *args: str) -> Result:
    """Run ``crm <args>`` in-process, as the console script would."""
    return app.test_cli_runner().invoke(args=list(args))


def assert_ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.output
    return result.output


def assert_clean_failure(result: Result, *fragments: str) -> str:
    """A non-zero exit with a message, and no traceback or unhandled exception."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    return result.output


def create_workspace(app: Flask, prefix: str = "cli", **options: str) -> tuple[str, str]:
    """``crm tenants create``; returns (slug, owner email)."""
    slug = unique_slug(prefix)
    email = options.pop("owner_email", f"owner@{slug}.example")
    args = [
        "tenants",
        "create",
        slug,
        "--name",
        options.pop("name", "Cli Co"),
        "--owner-email",
        email,
        "--owner-password",
        PASSWORD,
    ]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", value]
    assert_ok(invoke(app, *args))
    return slug, email


def tenant_by_slug(app: Flask, slug: str) -> Tenant | None:
    with app.app_context():
        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == slug)).first()
        db.session.expunge_all()
        return tenant


def login(client: FlaskClient, slug: str, email: str, password: str = PASSWORD) -> Any:
    base_url = f"http://{slug}.{SERVER_NAME}"
    page = client.get("/login", base_url=base_url)
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(
        "/login",
        base_url=base_url,
        data={"email": email, "password": password, "csrf_token": token},
    )


# ----------------------------------------------------------------------------- db


def test_db_upgrade_is_idempotent_and_status_is_clean_at_head(cli_app: Flask) -> None:
    create_workspace(cli_app, "head")
    out = assert_ok(invoke(cli_app, "db", "upgrade"))
    assert "public: at head" in out and "tenants: all at head" in out
    out = assert_ok(invoke(cli_app, "db", "status"))
    assert "at head" in out and "0 behind, 0 failed" in out
    assert head_revision(TENANT) in out


def test_one_upgrade_at_a_time(cli_app: Flask) -> None:
    """While one upgrade holds the fleet lock, a second fails at once with --no-wait and
    otherwise waits for it (then finds nothing to do)."""
    import threading

    from tenants.fleet import upgrade_lock

    with cli_app.app_context():
        engine = db.engine
    with upgrade_lock(engine):
        result = invoke(cli_app, "db", "upgrade", "--no-wait")
        assert result.exit_code == 1
        assert "Another `crm db upgrade` is running" in assert_clean_failure(result)

        finished = threading.Event()
        outcome: list[Result] = []

        def second_upgrade() -> None:
            outcome.append(invoke(cli_app, "db", "upgrade"))
            finished.set()

        waiter = threading.Thread(target=second_upgrade)
        waiter.start()
        # Still waiting for the lock after a generous pause: it did not run beside us.
        assert not finished.wait(1.5)
    waiter.join(timeout=60)
    assert finished.is_set()
    assert "tenants: all at head" in assert_ok(outcome[0])


def test_db_status_fails_while_a_tenant_is_behind_or_failed(cli_app: Flask) -> None:
    slug, _ = create_workspace(cli_app, "lag")
    tenant = tenant_by_slug(cli_app, slug)
    assert tenant is not None

    def set_state(**values: Any) -> None:
        with cli_app.app_context():
            db.session.execute(update(Tenant).where(Tenant.id == tenant.id).values(**values))
            db.session.commit()

    try:
        set_state(schema_version="t0000_older")
        result = invoke(cli_app, "db", "status")
        assert result.exit_code == 2, result.output
        assert "1 behind" in assert_clean_failure(result, "crm db upgrade")

        # The upgrade finds the schema already at head and records it: resumable.
        out = assert_ok(invoke(cli_app, "db", "upgrade"))
        assert "1 migrated, 0 failed" in out
        assert_ok(invoke(cli_app, "db", "status"))

        set_state(migration_state=MigrationState.FAILED, migration_error="boom")
        result = invoke(cli_app, "db", "status")
        assert result.exit_code == 2
        assert "1 failed" in assert_clean_failure(result)
        assert_ok(invoke(cli_app, "db", "upgrade"))
        out = assert_ok(invoke(cli_app, "db", "status"))
        assert "0 behind, 0 failed" in out
    finally:
        set_state(
            schema_version=head_revision(TENANT),
            migration_state=MigrationState.OK,
            migration_error=None,
        )


def test_db_commands_report_an_unreachable_database_clearly() -> None:
    app = make_app("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    for args in (["db", "status"], ["db", "upgrade"], ["tenants", "list"]):
        assert_clean_failure(invoke(app, *args), "Database error")


# ------------------------------------------------------------------------ tenants


def test_tenants_create_makes_a_workspace_the_owner_can_use(
    cli_app: Flask, client: FlaskClient
) -> None:
    slug, email = create_workspace(cli_app, "acme", name="Acme Windows", plan="starter")
    tenant = tenant_by_slug(cli_app, slug)
    assert tenant is not None
    assert (tenant.name, tenant.plan, tenant.status) == (
        "Acme Windows",
        "starter",
        TenantStatus.ACTIVE,
    )
    with cli_app.app_context():
        owner = find_user_by_email(db.session, email)
        assert owner is not None
        roles = db.session.scalars(
            select(Membership.role).where(Membership.tenant_id == tenant.id)
        ).all()
        assert roles == ["owner"]

    r = login(client, slug, email)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert client.get("/contacts", base_url=f"http://{slug}.{SERVER_NAME}").status_code == 200

    out = assert_ok(invoke(cli_app, "tenants", "list"))
    line = next(row for row in out.splitlines() if f" {slug} " in row)
    assert "active" in line and "starter" in line and tenant.schema_name in line


def test_an_existing_identity_keeps_its_password_when_it_owns_another_workspace(
    cli_app: Flask, client: FlaskClient
) -> None:
    _, email = create_workspace(cli_app, "first")
    slug = unique_slug("second")
    out = assert_ok(
        invoke(
            cli_app,
            "tenants",
            "create",
            slug,
            "--name",
            "Second",
            "--owner-email",
            email,
            "--owner-password",
            "another password entirely",
        )
    )
    assert "password is unchanged" in out
    assert login(client, slug, email).status_code == 302


@pytest.mark.parametrize(
    ("slug", "options", "message"),
    [
        ("Bad Slug", {}, "Invalid workspace address"),
        ("admin", {}, "Invalid workspace address"),
        ("ab", {}, "Invalid workspace address"),
        (None, {"--owner-password": "short"}, "at least"),
        (None, {"--owner-email": "not-an-email"}, "valid email"),
        (None, {"--name": "   "}, "needs a name"),
        (None, {"--plan": "platinum"}, "Invalid value for '--plan'"),
    ],
    ids=["spaces", "reserved", "too-short", "short-password", "bad-email", "blank-name", "plan"],
)
def test_tenants_create_refuses_bad_input_and_creates_nothing(
    cli_app: Flask, slug: str | None, options: dict[str, str], message: str
) -> None:
    slug = slug or unique_slug("bad")
    email = options.get("--owner-email", f"owner-{uuid.uuid4().hex[:8]}@bad.example")
    args = {"--name": "Bad Co", "--owner-email": email, "--owner-password": PASSWORD, **options}
    flat = [part for pair in args.items() for part in pair]
    assert_clean_failure(invoke(cli_app, "tenants", "create", slug, *flat), message)
    assert tenant_by_slug(cli_app, slug) is None
    with cli_app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(User)
                .where(func.lower(User.email) == email.lower())
            )
            == 0
        )


def test_tenants_create_refuses_a_taken_slug(cli_app: Flask) -> None:
    slug, _ = create_workspace(cli_app, "taken")
    email = f"late-{uuid.uuid4().hex[:8]}@taken.example"
    result = invoke(
        cli_app,
        "tenants",
        "create",
        slug,
        "--name",
        "Late",
        "--owner-email",
        email,
        "--owner-password",
        PASSWORD,
    )
    assert_clean_failure(result, "is taken")
    with cli_app.app_context():
        assert find_user_by_email(db.session, email) is None
        assert (
            db.session.scalar(select(func.count()).select_from(Tenant).where(Tenant.slug == slug))
            == 1
        )


def test_tenants_suspend_and_resume(cli_app: Flask, client: FlaskClient) -> None:
    slug, email = create_workspace(cli_app, "pause")
    token = assert_ok(invoke(cli_app, "tokens", "create", "--tenant", slug, "--email", email))
    auth = {"Authorization": f"Bearer {token.strip()}"}
    base_url = f"http://{slug}.{SERVER_NAME}"

    out = assert_ok(invoke(cli_app, "tenants", "suspend", slug, "--reason", "unpaid"))
    assert f"{slug}: suspended" in out
    tenant = tenant_by_slug(cli_app, slug)
    assert tenant is not None and tenant.status == TenantStatus.SUSPENDED
    r = client.get("/api/v1/me", base_url=base_url, headers=auth)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "tenant_suspended"

    assert_ok(invoke(cli_app, "tenants", "resume", slug))
    tenant = tenant_by_slug(cli_app, slug)
    assert tenant is not None and tenant.status == TenantStatus.ACTIVE
    assert client.get("/api/v1/me", base_url=base_url, headers=auth).status_code == 200

    with cli_app.app_context():
        actions = db.session.execute(
            select(PlatformAuditEntry.action, PlatformAuditEntry.actor, PlatformAuditEntry.reason)
            .where(PlatformAuditEntry.tenant_id == tenant.id)
            .where(PlatformAuditEntry.action.in_(["tenant.suspended", "tenant.resumed"]))
            .order_by(PlatformAuditEntry.id)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("tenant.suspended", "cli", "unpaid"),
        ("tenant.resumed", "cli", ""),
    ]


@pytest.mark.parametrize("command", ["suspend", "resume"])
def test_tenants_status_commands_refuse_unknown_workspaces(cli_app: Flask, command: str) -> None:
    assert_clean_failure(invoke(cli_app, "tenants", command, "no-such-workspace"), "No workspace")


# -------------------------------------------------------------------------- users


def test_users_add_creates_a_member_who_can_sign_in(cli_app: Flask, client: FlaskClient) -> None:
    slug, _ = create_workspace(cli_app, "team")
    email = f"Manager-{uuid.uuid4().hex[:6]}@team.example"
    out = assert_ok(
        invoke(
            cli_app,
            "users",
            "add",
            slug,
            "--email",
            email,
            "--password",
            PASSWORD,
            "--role",
            "manager",
        )
    )
    assert f"added to {slug} as manager" in out
    tenant = tenant_by_slug(cli_app, slug)
    assert tenant is not None
    with cli_app.app_context():
        user = find_user_by_email(db.session, email)
        assert user is not None and user.email == email.lower()
        role = db.session.scalar(
            select(Membership.role).where(
                Membership.tenant_id == tenant.id, Membership.user_id == user.id
            )
        )
    assert role == "manager"
    assert login(client, slug, email.lower()).status_code == 302


def test_users_add_accepts_the_workspace_custom_roles(cli_app: Flask) -> None:
    slug, _ = create_workspace(cli_app, "custom")
    tenant = tenant_by_slug(cli_app, slug)
    assert tenant is not None
    with cli_app.app_context(), db.engine.begin() as conn:
        bind_connection(conn, ref_of(tenant))
        conn.execute(
            Role.__table__.insert().values(
                key="field_agent", name="Field agent", permissions={}, field_rules={}
            )
        )
    email = f"agent-{uuid.uuid4().hex[:6]}@custom.example"
    assert_ok(
        invoke(
            cli_app,
            "users",
            "add",
            slug,
            "--email",
            email,
            "--password",
            PASSWORD,
            "--role",
            "field_agent",
        )
    )
    # Another workspace does not have that role.
    other, _ = create_workspace(cli_app, "plain")
    assert_clean_failure(
        invoke(
            cli_app,
            "users",
            "add",
            other,
            "--email",
            f"x-{email}",
            "--password",
            PASSWORD,
            "--role",
            "field_agent",
        ),
        "Unknown role",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"--role": "overlord"}, "Unknown role 'overlord'"),
        ({"--password": "short"}, "at least"),
        ({"--email": "nobody"}, "valid email"),
    ],
    ids=["bad-role", "short-password", "bad-email"],
)
def test_users_add_refuses_bad_input_and_creates_nothing(
    cli_app: Flask, options: dict[str, str], message: str
) -> None:
    slug, _ = create_workspace(cli_app, "strict")
    email = options.get("--email", f"new-{uuid.uuid4().hex[:6]}@strict.example")
    args = {"--email": email, "--password": PASSWORD, "--role": "sales_rep", **options}
    flat = [part for pair in args.items() for part in pair]
    output = assert_clean_failure(invoke(cli_app, "users", "add", slug, *flat), message)
    if "--role" in options:
        assert "owner, admin, manager, sales_rep, viewer" in output
    tenant = tenant_by_slug(cli_app, slug)
    assert tenant is not None
    with cli_app.app_context():
        assert find_user_by_email(db.session, email) is None
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Membership)
                .where(Membership.tenant_id == tenant.id)
            )
            == 1
        )


def test_users_add_refuses_an_unknown_workspace_and_a_second_seat(cli_app: Flask) -> None:
    assert_clean_failure(
        invoke(
            cli_app,
            "users",
            "add",
            "no-such-workspace",
            "--email",
            "a@b.example",
            "--password",
            PASSWORD,
        ),
        "No workspace",
    )
    slug, owner = create_workspace(cli_app, "seat")
    assert_clean_failure(
        invoke(cli_app, "users", "add", slug, "--email", owner, "--password", PASSWORD),
        "already a member",
    )


# ------------------------------------------------------------------------- tokens


def test_tokens_create_prints_a_token_that_works(cli_app: Flask, client: FlaskClient) -> None:
    slug, email = create_workspace(cli_app, "tok")
    result = invoke(cli_app, "tokens", "create", "--tenant", slug, "--email", email.upper())
    token = assert_ok(result).strip()
    assert len(token.splitlines()) == 1 and token.startswith("crm_")
    auth = {"Authorization": f"Bearer {token}"}

    r = client.get("/api/v1/me", base_url=f"http://{slug}.{SERVER_NAME}", headers=auth)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["email"], body["role"], body["tenant"]["slug"]) == (email, "owner", slug)
    # A token names its own workspace, so it works on the apex host too.
    r = client.get("/api/v1/me", base_url=f"http://{SERVER_NAME}", headers=auth)
    assert r.status_code == 200 and r.get_json()["tenant"]["slug"] == slug
    # Only its hash is stored.
    with cli_app.app_context():
        stored = db.session.scalar(
            text("SELECT count(*) FROM public.api_tokens WHERE token_hash = :t"), {"t": token}
        )
    assert stored == 0


def test_tokens_list_and_revoke(cli_app: Flask, client: FlaskClient) -> None:
    slug, email = create_workspace(cli_app, "tokrev")
    token = assert_ok(invoke(cli_app, "tokens", "create", "--tenant", slug, "--email", email))
    token = token.strip()
    auth = {"Authorization": f"Bearer {token}"}
    base = f"http://{slug}.{SERVER_NAME}"
    assert client.get("/api/v1/me", base_url=base, headers=auth).status_code == 200

    listing = assert_ok(invoke(cli_app, "tokens", "list", "--tenant", slug))
    assert token[:12] in listing and email in listing and token not in listing

    assert_clean_failure(
        invoke(cli_app, "tokens", "revoke", "crm_", "--tenant", slug), "at least 8"
    )
    assert_clean_failure(
        invoke(cli_app, "tokens", "revoke", token[:12], "--tenant", "no-such-workspace"),
        "No workspace",
    )
    assert "revoked 1" in assert_ok(
        invoke(cli_app, "tokens", "revoke", token[:12], "--tenant", slug)
    )
    assert client.get("/api/v1/me", base_url=base, headers=auth).status_code == 401
    # Revoking again finds nothing live.
    assert_clean_failure(
        invoke(cli_app, "tokens", "revoke", token[:12], "--tenant", slug), "No live token"
    )


def test_tokens_create_refuses_strangers(cli_app: Flask) -> None:
    slug, _ = create_workspace(cli_app, "tokno")
    _, other_owner = create_workspace(cli_app, "tokother")
    assert_clean_failure(
        invoke(cli_app, "tokens", "create", "--tenant", slug, "--email", "ghost@none.example"),
        "No user",
    )
    assert_clean_failure(
        invoke(cli_app, "tokens", "create", "--tenant", slug, "--email", other_owner),
        "not a member",
    )
    assert_clean_failure(
        invoke(
            cli_app, "tokens", "create", "--tenant", "no-such-workspace", "--email", other_owner
        ),
        "No workspace",
    )


# ---------------------------------------------------------------------- operators


def test_operators_create_and_refuse_duplicates(cli_app: Flask) -> None:
    email = f"Ops-{uuid.uuid4().hex[:6]}@example.com"
    out = assert_ok(
        invoke(cli_app, "operators", "create", "--email", email, "--password", PASSWORD)
    )
    assert f"operator {email.lower()} created" in out
    assert_clean_failure(
        invoke(cli_app, "operators", "create", "--email", email.lower(), "--password", PASSWORD),
        "already exists",
    )
    with cli_app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Operator).where(Operator.email == email.lower())
        )
    assert count == 1
    assert_clean_failure(
        invoke(cli_app, "operators", "create", "--email", "x@example.com", "--password", "short"),
        "at least",
    )
    assert_clean_failure(
        invoke(cli_app, "operators", "create", "--email", "nope", "--password", PASSWORD),
        "valid email",
    )


# ----------------------------------------------------------------- real process


def run_crm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CRM), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_console_script_runs_the_real_commands(
    server_uri: str, worker_id: str, tmp_path: Path
) -> None:
    assert CRM.exists(), f"console script missing: {CRM} (pip install -e .)"
    with scratch_database(server_uri, f"crm_proc_{worker_id}") as url:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CRM_", "CELERY_", "STRIPE_", "FLASK_"))
            and key not in {"REDIS_URL", "SECRET_KEY", "DATABASE_URL", "SERVER_NAME"}
        }
        env.update(DATABASE_URL=url, SERVER_NAME=SERVER_NAME, CRM_INSTANCE_PATH=str(tmp_path))

        helped = run_crm(env, "--help")
        assert helped.returncode == 0, helped.stderr
        for group in ("db", "tenants", "users", "tokens", "operators", "run"):
            assert group in helped.stdout

        before = run_crm(env, "db", "status")
        assert before.returncode == 1 and "not migrated yet" in before.stderr
        assert "Traceback" not in before.stderr

        upgraded = run_crm(env, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        assert "public: at head" in upgraded.stdout

        slug = unique_slug("proc")
        created = run_crm(
            env,
            "tenants",
            "create",
            slug,
            "--name",
            "Process Co",
            "--owner-email",
            f"owner@{slug}.example",
            "--owner-password",
            PASSWORD,
        )
        assert created.returncode == 0, created.stderr
        assert f"http://{slug}.{SERVER_NAME}/" in created.stdout

        status = run_crm(env, "db", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "1 at head, 0 behind, 0 failed" in status.stdout

        refused = run_crm({**env, "CRM_ENV": "production"}, "db", "status")
        assert refused.returncode == 2
        assert "Configuration error" in refused.stderr and "SECRET_KEY" in refused.stderr
        assert "Traceback" not in refused.stderr
