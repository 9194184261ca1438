"""The ``crm`` command line (a Flask CLI group).

``crm run`` starts the development server on the embedded PostgreSQL when no
DATABASE_URL is set, migrating and seeding a demo workspace on first run.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.database import db
from billing.plans import DEFAULT_PLAN, PLAN_KEYS


def _create_app() -> Flask:
    from app import create_app

    return create_app()


def main() -> None:
    """Console script entry point."""
    from app.config import ConfigError

    cli = FlaskGroup(create_app=_create_app, add_default_commands=False, add_version_option=False)
    cli.help = "CRM platform commands."
    cli.add_command(run_command)
    try:
        cli(prog_name="crm")
    except ConfigError as exc:
        click.secho(f"Configuration error: {exc}", fg="red", err=True)
        sys.exit(2)


def _fail(message: str) -> NoReturn:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


class _CommandGroup(click.Group):
    """A command group whose commands answer a database failure (server down, wrong
    address, refused login) with one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            _fail(f"Database error: {reason}")


# --------------------------------------------------------------------------- db


@click.group("db", cls=_CommandGroup, help="Schema migrations: public, then every tenant.")
def db_group() -> None:
    """Migration commands."""


@db_group.command("upgrade")
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 32), default=None, help="Tenants migrated at once."
)
@click.option("--lock-timeout-ms", type=click.IntRange(100, 600_000), default=None)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Fail at once when another upgrade is running instead of waiting for it.",
)
@with_appcontext
def db_upgrade(jobs: int | None, lock_timeout_ms: int | None, no_wait: bool) -> None:
    """Migrate the public schema, then every tenant schema not yet at head.

    One upgrade runs at a time across the fleet; a second one waits for the first (or,
    with --no-wait, fails) and then finds nothing left to do.
    """
    from tenants.fleet import UpgradeInProgress, upgrade_lock

    try:
        with upgrade_lock(db.engine, wait=not no_wait):
            _upgrade_everything(jobs, lock_timeout_ms)
    except UpgradeInProgress:
        _fail("Another `crm db upgrade` is running; wait for it or run this again later.")


def _upgrade_everything(jobs: int | None, lock_timeout_ms: int | None) -> None:
    from tenants.fleet import pending_tenants, upgrade_public, upgrade_tenants

    engine = db.engine
    upgrade_public(engine)
    click.echo("public: at head")
    todo = pending_tenants(engine)
    if not todo:
        click.echo("tenants: all at head")
        return
    failures: list[Any] = []
    with click.progressbar(
        length=len(todo), label=f"tenants ({len(todo)})", show_pos=True, file=sys.stderr
    ) as bar:

        def on_result(result: Any) -> None:
            if not result.ok:
                failures.append(result)
            bar.update(1)

        upgrade_tenants(
            engine,
            jobs=jobs or current_app.config["MIGRATION_PARALLELISM"],
            lock_timeout_ms=lock_timeout_ms or current_app.config["MIGRATION_LOCK_TIMEOUT_MS"],
            on_result=on_result,
            tenants=todo,
        )
    click.echo(f"tenants: {len(todo) - len(failures)} migrated, {len(failures)} failed")
    for failure in failures[:20]:
        click.secho(f"  {failure.slug}: {failure.error}", fg="red", err=True)
    if failures:
        _fail("Some tenants failed; fix the cause and run `crm db upgrade` again to resume.")


@db_group.command("status")
@with_appcontext
def db_status() -> None:
    """Public revision and how many tenants are at head, behind or failed.

    Exits 0 when everything is at head, 2 when something is behind or failed.
    """
    from tenants.fleet import fleet_status

    try:
        status = fleet_status(db.engine)
    except ProgrammingError:
        _fail("The database is not migrated yet: run `crm db upgrade`.")
    public_state = "at head" if status.public_version == status.public_head else "BEHIND"
    click.echo(f"public:  {status.public_version} ({public_state}; head {status.public_head})")
    click.echo(
        f"tenants: {status.at_head} at head, {status.behind} behind, {status.failed} failed"
        f" (head {status.tenant_head})"
    )
    if status.provisioning:
        click.echo(f"         {status.provisioning} provisioning")
    if not status.ok:
        click.secho("Not at head: run `crm db upgrade`.", fg="yellow", err=True)
        sys.exit(2)


# ---------------------------------------------------------------------- tenants

SLUG_RULES = "use 3-40 lower-case letters, digits and single inner hyphens, not a reserved name"


@click.group("tenants", cls=_CommandGroup, help="Create and manage workspaces.")
def tenants_group() -> None:
    """Tenant commands."""


@tenants_group.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--owner-email", required=True)
@click.option("--owner-password", required=True)
@click.option(
    "--plan",
    default=DEFAULT_PLAN,
    show_default=True,
    type=click.Choice(PLAN_KEYS, case_sensitive=False),
)
@with_appcontext
def tenants_create(slug: str, name: str, owner_email: str, owner_password: str, plan: str) -> None:
    """Provision a workspace with its owner."""
    from app.identity.models import Membership
    from app.identity.services import IdentityError, find_user_by_email, get_or_create_user
    from tenants.naming import is_valid_slug
    from tenants.provisioning import ProvisioningError, provision_tenant, slug_available

    # Everything that can be checked is checked before anything is written.
    if not is_valid_slug(slug):
        _fail(f"Invalid workspace address {slug!r}: {SLUG_RULES}.")
    if not name.strip():
        _fail("A workspace needs a name (--name).")
    with db.engine.connect() as conn:
        if not slug_available(conn, slug):
            _fail(f"The workspace address {slug!r} is taken.")
    try:
        existing = find_user_by_email(db.session, owner_email)
        owner = get_or_create_user(db.session, email=owner_email, password=owner_password)
        db.session.commit()
    except IdentityError as exc:
        db.session.rollback()
        _fail(str(exc))
    try:
        tenant = provision_tenant(
            db.engine,
            slug=slug,
            name=name,
            owner_user_id=owner.id,
            plan=plan.lower(),
            actor="cli",
        )
    except ProvisioningError as exc:
        # Provisioning runs in a transaction of its own; do not leave behind an owner
        # identity made for a workspace that does not exist.
        if existing is None:
            has_seat = db.session.scalar(
                select(Membership.id).where(Membership.user_id == owner.id).limit(1)
            )
            if has_seat is None:
                db.session.delete(owner)
                db.session.commit()
        _fail(str(exc))
    if existing is not None:
        click.echo(f"{existing.email} already has an account; their password is unchanged.")
    click.echo(
        f"created {tenant.slug} (id {tenant.id}, schema {tenant.schema_name}) "
        f"in {tenant.elapsed_ms:.0f} ms: {workspace_url(tenant.slug)}"
    )


@tenants_group.command("list")
@with_appcontext
def tenants_list() -> None:
    """Every workspace with its status and plan."""
    from tenants.models import Tenant

    rows = db.session.scalars(select(Tenant).order_by(Tenant.id)).all()
    click.echo(f"{'ID':>6}  {'SLUG':<24} {'STATUS':<12} {'PLAN':<10} {'SCHEMA':<12} NAME")
    for t in rows:
        click.echo(
            f"{t.id:>6}  {t.slug:<24} {t.status.value:<12} {t.plan:<10} "
            f"{t.schema_name or '-':<12} {t.name}"
        )
    click.echo(f"{len(rows)} tenant(s)")


def _set_status(slug: str, status: str, reason: str) -> None:
    from tenants.services import TenantNotFound, set_tenant_status

    try:
        set_tenant_status(db.session, slug=slug, status=status, actor="cli", reason=reason)
    except TenantNotFound as exc:
        db.session.rollback()
        _fail(str(exc))
    click.echo(f"{slug}: {status}")


@tenants_group.command("suspend")
@click.argument("slug")
@click.option("--reason", default="", help="Recorded in the platform audit log.")
@with_appcontext
def tenants_suspend(slug: str, reason: str) -> None:
    """Suspend a workspace (nothing is deleted)."""
    _set_status(slug, "suspended", reason)


@tenants_group.command("resume")
@click.argument("slug")
@click.option("--reason", default="")
@with_appcontext
def tenants_resume(slug: str, reason: str) -> None:
    """Resume a suspended workspace."""
    _set_status(slug, "active", reason)


def _live_tenant(slug: str) -> Any:
    """The active or suspended workspace ``slug``, or a clear failure."""
    from tenants.models import LIVE_STATUSES
    from tenants.services import TenantNotFound, get_tenant_by_slug

    try:
        tenant = get_tenant_by_slug(db.session, slug)
    except TenantNotFound as exc:
        _fail(str(exc))
    if tenant.status not in LIVE_STATUSES:
        _fail(f"Workspace {slug!r} is {tenant.status.value}.")
    return tenant


def _role_keys(tenant: Any) -> list[str]:
    """The roles defined in ``tenant``'s workspace (built-in and custom)."""
    from app.access.models import Role
    from tenants.binding import bind_connection
    from tenants.resolution import ref_of

    with db.engine.connect() as conn, conn.begin():
        bind_connection(conn, ref_of(tenant))
        return list(conn.execute(select(Role.key).order_by(Role.id)).scalars())


# ------------------------------------------------------------ users, tokens, ops


@click.group("users", cls=_CommandGroup, help="Workspace members.")
def users_group() -> None:
    """User commands."""


@users_group.command("add")
@click.argument("slug")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", default="sales_rep", show_default=True)
@with_appcontext
def users_add(slug: str, email: str, password: str, role: str) -> None:
    """Add a member to a workspace (scripted onboarding)."""
    from app.identity.services import IdentityError, add_member
    from billing.limits import PlanLimitExceeded

    tenant = _live_tenant(slug)
    roles = _role_keys(tenant)
    if role not in roles:
        _fail(f"Unknown role {role!r} in {slug}; use one of: {', '.join(roles)}.")
    try:
        add_member(
            db.session, tenant=tenant, email=email, password=password, role=role, actor="cli"
        )
        db.session.commit()
    except IdentityError as exc:
        db.session.rollback()
        _fail(str(exc))
    except PlanLimitExceeded as exc:
        db.session.rollback()
        _fail(
            f"{slug} has all {exc.max} seats of its {exc.plan_name} plan in use; "
            "nobody was added. Upgrade the plan or remove a member first."
        )
    click.echo(f"{email.strip().lower()} added to {slug} as {role}")


@click.group("tokens", cls=_CommandGroup, help="API tokens.")
def tokens_group() -> None:
    """Token commands."""


@tokens_group.command("create")
@click.option("--tenant", "slug", required=True)
@click.option("--email", required=True)
@click.option("--name", default="cli", show_default=True)
@with_appcontext
def tokens_create(slug: str, email: str, name: str) -> None:
    """Print a new API token (shown once; only its hash is stored)."""
    from app.identity.services import IdentityError, create_api_token, find_user_by_email

    tenant = _live_tenant(slug)
    try:
        user = find_user_by_email(db.session, email)
        if user is None:
            raise IdentityError(f"No user with email {email}.")
        issued = create_api_token(db.session, tenant=tenant, user=user, name=name, actor="cli")
        db.session.commit()
    except IdentityError as exc:
        db.session.rollback()
        _fail(str(exc))
    click.echo(issued.secret)


@tokens_group.command("list")
@click.option("--tenant", "slug", required=True)
@with_appcontext
def tokens_list(slug: str) -> None:
    """A workspace's tokens: prefix, owner, name, created, last used, revoked."""
    from app.identity.services import tenant_api_tokens

    tenant = _live_tenant(slug)
    rows = tenant_api_tokens(db.session, tenant.id)

    def when(value: Any) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "-"

    click.echo(
        f"{'PREFIX':<14} {'USER':<32} {'NAME':<16} {'CREATED':<17} {'LAST USED':<17} REVOKED"
    )
    for token, user in rows:
        click.echo(
            f"{token.prefix:<14} {user.email:<32} {token.name:<16} {when(token.created_at):<17} "
            f"{when(token.last_used_at):<17} {when(token.revoked_at)}"
        )
    click.echo(f"{len(rows)} token(s)")


@tokens_group.command("revoke")
@click.argument("prefix")
@click.option("--tenant", "slug", required=True)
@with_appcontext
def tokens_revoke(prefix: str, slug: str) -> None:
    """Revoke a token by the prefix `crm tokens list` shows; it stops working at once."""
    from app.identity.services import IdentityError, revoke_api_tokens_by_prefix

    tenant = _live_tenant(slug)
    try:
        count = revoke_api_tokens_by_prefix(
            db.session, tenant_id=tenant.id, prefix=prefix, actor="cli"
        )
        db.session.commit()
    except IdentityError as exc:
        db.session.rollback()
        _fail(str(exc))
    if count == 0:
        _fail(f"No live token {prefix} in {slug}.")
    click.echo(f"revoked {count} token(s) {prefix} in {slug}")


@click.group("operators", cls=_CommandGroup, help="Platform operator accounts.")
def operators_group() -> None:
    """Operator commands."""


@operators_group.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@with_appcontext
def operators_create(email: str, password: str) -> None:
    """Create a platform operator."""
    from app.operators.services import OperatorError, create_operator

    try:
        operator = create_operator(db.session, email=email, password=password, actor="cli")
        db.session.commit()
    except OperatorError as exc:
        db.session.rollback()
        _fail(str(exc))
    click.echo(f"operator {operator.email} created")


# ---------------------------------------------------------------------- billing


@click.group("billing", cls=_CommandGroup, help="Plans, limits and usage.")
def billing_group() -> None:
    """Billing commands."""


@billing_group.command("reconcile")
@with_appcontext
def billing_reconcile() -> None:
    """Recount every live workspace's usage counters from its rows and fix any drift.

    Exits 1 when a workspace could not be reconciled.
    """
    from billing.limits import reconcile_all
    from tenants.fleet import iter_live_tenants

    total = sum(1 for _ in iter_live_tenants(db.engine))
    with click.progressbar(
        length=total, label=f"tenants ({total})", show_pos=True, file=sys.stderr
    ) as bar:
        report = reconcile_all(db.engine, on_tenant=lambda _tenant_id, _drift: bar.update(1))
    click.echo(
        f"tenants: {report.tenants} reconciled, {len(report.drift)} had drift, "
        f"{len(report.failed)} failed"
    )
    for tenant_id, drift in sorted(report.drift.items())[:50]:
        fixed = ", ".join(f"{d.resource} {d.recorded} -> {d.actual}" for d in drift.values())
        click.echo(f"  tenant {tenant_id}: {fixed}")
    for tenant_id, error in sorted(report.failed.items())[:20]:
        click.secho(f"  tenant {tenant_id}: {error}", fg="red", err=True)
    if report.failed:
        _fail("Some tenants could not be reconciled; see the log.")


@billing_group.command("sync-catalog")
@with_appcontext
def billing_sync_catalog() -> None:
    """Create in Stripe the products and prices of the plan catalog that are missing
    (found by lookup key <plan>_<interval>_v<version>) and print what was done."""
    import stripe

    from billing.stripe_gateway import BillingNotConfigured, gateway
    from billing.subscriptions import sync_catalog

    try:
        synced = sync_catalog(gateway())
    except BillingNotConfigured:
        _fail("Billing is manual: set STRIPE_SECRET_KEY to sync the catalog to Stripe.")
    except stripe.StripeError as exc:
        _fail(f"Stripe refused: {exc}")
    for price in synced:
        verb = "created" if price.created else "exists "
        click.echo(f"{verb} {price.lookup_key} {price.price_id}")
    click.echo(f"{sum(p.created for p in synced)} created, {len(synced)} prices in the catalog")


# -------------------------------------------------------------------------- run


def workspace_url(slug: str) -> str:
    """The browser address of a workspace."""
    scheme = current_app.config.get("PREFERRED_URL_SCHEME", "http")
    return f"{scheme}://{slug}.{current_app.config['SERVER_NAME']}/"


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="Defaults to the port of SERVER_NAME.")
@click.option("--no-seed", is_flag=True, help="Do not create the demo workspace.")
@with_appcontext
def run_command(host: str, port: int | None, no_seed: bool) -> None:
    """Development server: migrate, seed a demo workspace on first run, serve."""
    from app.demo import seed_demo
    from tenants.fleet import upgrade_public, upgrade_tenants

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    server_host, _, server_port = app.config["SERVER_NAME"].partition(":")
    if port is None:
        port = int(server_port) if server_port.isdigit() else 5000
    elif server_host in ("localhost", "127.0.0.1") and str(port) != server_port:
        # Workspace hosts must match SERVER_NAME, port included; follow --port locally.
        app.config["SERVER_NAME"] = f"{server_host}:{port}"
    upgrade_public(db.engine)
    upgrade_tenants(db.engine, jobs=1)
    if not no_seed and app.config.get("SEED_DEMO", True):
        created = seed_demo(db.session, db.engine)
        server = app.config["SERVER_NAME"]
        scheme = app.config.get("PREFERRED_URL_SCHEME", "http")
        click.echo("")
        if created:
            click.secho("Demo data created.", fg="green")
        click.echo(f"  Workspace:  {scheme}://demo.{server}/")
        click.echo("  Login:      owner@demo.example / demo-password")
        click.echo(f"  API:        {scheme}://demo.{server}/api/v1/contacts  (docs: /api/v1/docs)")
        click.echo("  Operator:   operator@example.com / operator-password")
        click.echo(f"  Sign up:    {scheme}://{server}/signup")
        if not app.config.get("MAIL_SMTP_HOST"):
            click.echo(
                f"  Mail:       {scheme}://{server}/outbox  (no SMTP set: mail is kept here)"
            )
        click.echo("")
    import signal

    from werkzeug.serving import run_simple

    # A plain SIGTERM would skip atexit, leaving the embedded PostgreSQL running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    click.echo(f"Serving on http://{host}:{port}/ (Ctrl+C to stop)")
    # No reloader: it would start a second process and a second embedded server handle.
    run_simple(
        host,
        port,
        app,
        use_reloader=False,
        use_debugger=os.environ.get("FLASK_DEBUG") == "1",
        threaded=True,
    )


def register_commands(app: Flask) -> None:
    """Attach the command groups to the app's CLI."""
    for group in (
        db_group,
        tenants_group,
        users_group,
        tokens_group,
        operators_group,
        billing_group,
    ):
        app.cli.add_command(group)
