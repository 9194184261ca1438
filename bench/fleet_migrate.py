"""Fleet migrations: one new tenant migration over 1,000 tenants, `crm db status`, and
resuming an interrupted run.

1. Provisions N tenants (default 1,000).
2. Copies ``migrations/`` to a temporary directory and adds one additive tenant revision
   (``contacts.bench_flag``) on top of the current tenant head; the code is pointed at
   the copy (``tenants.migrations.MIGRATIONS_DIR`` in this process, ``CRM_MIGRATIONS_DIR``
   for the CLI). The repository's ``migrations/`` is never touched.
3. Runs the real ``crm db upgrade --jobs 4`` as a subprocess and times it
   (target <= 30 s for 1,000 tenants).
4. Times ``tenants.fleet.fleet_status`` (the one query) and the real ``crm db status``
   process (which includes Python start-up and ``create_app()``), target <= 1 s.
5. Resumability: adds a second additive revision (``contacts.bench_note``), migrates
   only the first half of the fleet (``upgrade_tenants(tenants=...)``, as if the run had
   been stopped there), checks that status and ``pending_tenants`` see exactly the other
   half, then reruns ``crm db upgrade`` and checks that it migrated only those.

    .venv/bin/python bench/fleet_migrate.py [--tenants 1000] [--jobs 4] [--embedded]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import (
    ROOT,
    SECRET_KEY,
    SERVER_NAME,
    Progress,
    argument_parser,
    bench_app,
    machine_notes,
    median,
    percentile,
    report,
    scratch_database,
)

TARGET_UPGRADE_S = 30.0
TARGET_STATUS_S = 1.0
CRM = str(Path(sys.executable).parent / "crm")

REVISION_TEMPLATE = '''"""bench: add contacts.{column}

Revision ID: {revision}
Revises: {down_revision}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("{column}", {column_type}, nullable=True))


def downgrade() -> None:
    op.drop_column("contacts", "{column}")
'''


def add_revision(migrations_dir: Path, revision: str, column: str, column_type: str) -> str:
    """Write an additive tenant revision on top of the current head; point the code at
    ``migrations_dir``; return the new head."""
    from tenants import migrations

    migrations.MIGRATIONS_DIR = migrations_dir
    migrations.script_directory.cache_clear()
    down = migrations.head_revision(migrations.TENANT)
    path = migrations_dir / "tenant" / "versions" / f"{revision}.py"
    path.write_text(
        REVISION_TEMPLATE.format(
            revision=revision, down_revision=down, column=column, column_type=column_type
        )
    )
    migrations.script_directory.cache_clear()
    head = migrations.head_revision(migrations.TENANT)
    assert head == revision, (head, revision)
    return head


def provision_fleet(engine: Any, count: int) -> None:
    from tenants.provisioning import provision_tenant

    progress = Progress("provisioning", count)
    for i in range(1, count + 1):
        provision_tenant(engine, slug=f"fleet-{i:05d}", name=f"Fleet Company {i}", actor="bench")
        progress.update(i)


def cli_env(database_uri: str, migrations_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_uri,
        CRM_MIGRATIONS_DIR=str(migrations_dir),
        SERVER_NAME=SERVER_NAME,
        SECRET_KEY=SECRET_KEY,
        CRM_ENV="development",
        CRM_SEED_DEMO="0",
    )
    env.pop("FLASK_APP", None)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float) -> tuple[float, str, int]:
    """Run ``crm <args>``; its wall time, combined output and exit code."""
    started = time.perf_counter()
    proc = subprocess.run(
        [CRM, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - started
    return elapsed, (proc.stdout + proc.stderr).strip(), proc.returncode


def python_startup(env: dict[str, str]) -> tuple[float, float]:
    """Seconds for a bare interpreter and for ``create_app()`` in a fresh process (what
    every `crm` command pays before its own work)."""
    times = []
    for code in ("pass", "from app import create_app; create_app()"):
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                cwd=ROOT,
                check=True,
                timeout=60,
                capture_output=True,
            )
            runs.append(time.perf_counter() - started)
        times.append(median(runs))
    return times[0], times[1]


def time_status_query(
    engine: Any, fleet_status: Callable[[Any], Any], runs: int
) -> tuple[list[float], list[float]]:
    """Milliseconds per ``fleet_status`` call (warm pool) and per round trip of the SQL it
    sends (cursor execute to result, from SQLAlchemy's cursor events)."""
    from sqlalchemy import event

    calls: list[float] = []
    trips: list[float] = []
    sent: list[float] = []

    def before(*_args: Any) -> None:
        sent.append(time.perf_counter())

    def after(*_args: Any) -> None:
        trips.append((time.perf_counter() - sent.pop()) * 1000)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        for _ in range(runs):
            started = time.perf_counter()
            fleet_status(engine)
            calls.append((time.perf_counter() - started) * 1000)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return calls, trips


def schemas_with_column(engine: Any, column: str) -> int:
    """Tenant schemas whose contacts table has ``column``."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relname = 'contacts' AND n.nspname LIKE 't\\_%' AND a.attname = :col"
                " AND NOT a.attisdropped"
            ),
            {"col": column},
        ).scalar_one()


def last_line(output: str, prefix: str) -> str:
    for line in reversed(output.splitlines()):
        if line.startswith(prefix):
            return line
    return f"(no '{prefix}' line)"


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=4, help="crm db upgrade --jobs")
    parser.add_argument("--status-runs", type=int, default=5, help="crm db status processes")
    args = parser.parse_args()
    if args.tenants < 2:
        parser.error("--tenants must be at least 2")

    from sqlalchemy import select

    from app.database import db
    from tenants.fleet import fleet_status, pending_tenants, upgrade_tenants
    from tenants.models import Tenant

    n = args.tenants
    checks: dict[str, bool] = {}
    with (
        scratch_database(args) as scratch,
        tempfile.TemporaryDirectory(prefix="crm-bench-migrations-") as tmp,
    ):
        app = bench_app(scratch.url)
        with app.app_context():
            engine = db.engine
            t0 = time.perf_counter()
            provision_fleet(engine, n)
            provision_s = time.perf_counter() - t0

            migrations_dir = Path(tmp) / "migrations"
            shutil.copytree(
                ROOT / "migrations",
                migrations_dir,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
            env = cli_env(scratch.libpq_uri, migrations_dir)

            # -- (a) one new migration over the whole fleet, through the real CLI ----------
            head_a = add_revision(migrations_dir, "bench_a0001", "bench_flag", "sa.Boolean()")
            print(
                f"new tenant head {head_a}; running `crm db upgrade --jobs {args.jobs}` ...",
                file=sys.stderr,
                flush=True,
            )
            upgrade_s, upgrade_out, upgrade_rc = run_cli(
                ["db", "upgrade", "--jobs", str(args.jobs)], env, timeout=1800
            )
            status_a = fleet_status(engine)
            checks["upgrade exit 0"] = upgrade_rc == 0
            checks["all tenants at the new head"] = status_a.at_head == n and status_a.ok
            checks["column in every schema"] = schemas_with_column(engine, "bench_flag") == n

            # -- (b) crm db status: the query, and the CLI process --------------------------
            query_runs, round_trips = time_status_query(engine, fleet_status, runs=50)
            sql_ms = median(round_trips)
            cli_runs = []
            status_out, status_rc = "", -1
            for _ in range(max(1, args.status_runs)):
                elapsed, status_out, status_rc = run_cli(["db", "status"], env, timeout=120)
                cli_runs.append(elapsed)
            checks["status exit 0"] = status_rc == 0
            bare_s, app_s = python_startup(env)

            # -- resumability: stop halfway, rerun picks up only the rest ---------------
            head_b = add_revision(migrations_dir, "bench_b0001", "bench_note", "sa.Text()")
            todo = pending_tenants(engine)
            first_half, second_half = todo[: len(todo) // 2], todo[len(todo) // 2 :]
            half, rest = len(first_half), len(second_half)
            first_ids = [t[0] for t in first_half]
            progress = Progress("interrupted run (first half only)", len(first_half))
            done = 0

            def tick(_result: Any) -> None:
                nonlocal done
                done += 1
                progress.update(done)

            started = time.perf_counter()
            partial = upgrade_tenants(engine, jobs=args.jobs, tenants=first_half, on_result=tick)
            partial_s = time.perf_counter() - started
            status_mid = fleet_status(engine)
            still_pending = pending_tenants(engine)
            checks["partial run all ok"] = len(partial) == half and all(r.ok for r in partial)
            checks["status sees the half behind"] = (
                status_mid.at_head == half and status_mid.behind == rest
            )
            checks["pending is exactly the other half"] = still_pending == second_half
            with engine.connect() as conn:
                first_done_at = conn.execute(
                    select(Tenant.id, Tenant.migrated_at).where(Tenant.id.in_(first_ids))
                ).all()
            resume_s, resume_out, resume_rc = run_cli(
                ["db", "upgrade", "--jobs", str(args.jobs)], env, timeout=1800
            )
            status_end = fleet_status(engine)
            with engine.connect() as conn:
                first_after = conn.execute(
                    select(Tenant.id, Tenant.migrated_at).where(Tenant.id.in_(first_ids))
                ).all()
            checks["rerun exit 0"] = resume_rc == 0
            checks["rerun migrated only the rest"] = (
                f"tenants: {rest} migrated, 0 failed" in resume_out
                and sorted(first_done_at) == sorted(first_after)
            )
            checks["all at head after rerun"] = status_end.ok and status_end.at_head == n
            checks["second column in every schema"] = schemas_with_column(engine, "bench_note") == n
            notes = machine_notes(scratch.libpq_uri)
            engine.dispose()

    status_cli_s = median(cli_runs)
    query_ms = median(query_runs)
    verdicts = {
        "upgrade": upgrade_s <= TARGET_UPGRADE_S,
        "status_query": query_ms / 1000 <= TARGET_STATUS_S,
        "status_cli": status_cli_s <= TARGET_STATUS_S,
    }
    passed = all(verdicts.values()) and all(checks.values())

    def mark(name: str) -> str:
        return "[PASS]" if verdicts[name] else "[FAIL]"

    failed_checks = [name for name, ok in checks.items() if not ok]
    lines = [
        f"fleet: {n} tenants provisioned in {provision_s:.1f} s",
        f"(a) `crm db upgrade --jobs {args.jobs}` (1 new revision {head_a}, {n} tenants):"
        f" {upgrade_s:.2f} s  target <= {TARGET_UPGRADE_S:.0f} s {mark('upgrade')}",
        f"    {n / upgrade_s:.1f} tenants/s, {1000 * upgrade_s / n:.1f} ms/tenant"
        f" (wall, incl. process start-up);  CLI said: {last_line(upgrade_out, 'tenants:')}",
        f"(b) fleet_status() query: median {query_ms:.2f} ms, p95"
        f" {percentile(query_runs, 95):.2f} ms (50 calls, pooled connection);"
        f" SQL round trip {sql_ms:.2f} ms {mark('status_query')}",
        f"    `crm db status` process: median {status_cli_s:.2f} s over {len(cli_runs)} runs"
        f" (min {min(cli_runs):.2f}, max {max(cli_runs):.2f})  target <= {TARGET_STATUS_S:.0f} s"
        f" {mark('status_cli')}",
        f"    of which: bare python start {bare_s:.2f} s, import + create_app() {app_s:.2f} s",
        f"    CLI said: {last_line(status_out, 'tenants:')}",
        f"resume ({head_b}): first half {half} tenants in {partial_s:.2f} s"
        f" ({half / partial_s:.1f} tenants/s, in-process runner);"
        f" status then: {status_mid.at_head} at head, {status_mid.behind} behind",
        f"    rerun `crm db upgrade`: {resume_s:.2f} s"
        f" ({rest / resume_s:.1f} tenants/s); CLI said:"
        f" {last_line(resume_out, 'tenants:')}",
        "checks: " + ("all passed" if not failed_checks else "FAILED " + ", ".join(failed_checks)),
        f"machine: {notes}",
    ]
    figures = {
        "tenants": n,
        "jobs": args.jobs,
        "provision_s": round(provision_s, 2),
        "upgrade_cli_s": round(upgrade_s, 3),
        "upgrade_tenants_per_s": round(n / upgrade_s, 2),
        "status_query_ms": {
            "median": round(query_ms, 3),
            "p95": round(percentile(query_runs, 95), 3),
        },
        "status_sql_round_trip_ms": round(sql_ms, 3),
        "status_cli_s": {
            "median": round(status_cli_s, 3),
            "min": round(min(cli_runs), 3),
            "max": round(max(cli_runs), 3),
        },
        "python_start_s": round(bare_s, 3),
        "create_app_process_s": round(app_s, 3),
        "resume": {
            "first_half": half,
            "first_half_s": round(partial_s, 3),
            "rerun_tenants": rest,
            "rerun_cli_s": round(resume_s, 3),
        },
        "checks": checks,
        "verdicts": verdicts,
        "targets": {"upgrade_s": TARGET_UPGRADE_S, "status_s": TARGET_STATUS_S},
        "machine": notes,
    }
    if upgrade_rc != 0 or resume_rc != 0:
        print(upgrade_out[-3000:], resume_out[-3000:], sep="\n", file=sys.stderr)
    report("fleet_migrate", lines, figures, passed)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
