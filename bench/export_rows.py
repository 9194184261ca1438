"""Export worker memory: exporting every contact of the 1,000,000-contact workspace.

For each format (CSV, then XLSX), an export job of all contacts is created for the
workspace owner (``app.exports.services.start_export``, not dispatched), then a separate
process runs it through the real task code: a worker-like process builds the app, binds
the tenant and sends ``exports.run`` (with no broker it runs in that process, through the
same ``TenantTask`` as in a worker: header, prerun binding, the task body). This process
samples the child's RSS (psutil) every 100 ms from just before the task starts until it
exits.

Target: RSS growth (peak - RSS when the task starts) <= 50 MB for 1,000,000 rows.

    .venv/bin/python bench/export_rows.py --reuse postgresql://.../crm_bench_x  # seeded DB
    .venv/bin/python bench/export_rows.py --scale 0.1     # seeds its own (crm_seed.py)
    .venv/bin/python bench/export_rows.py --reuse URL --formats csv
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from harness import (
    SECRET_KEY,
    SERVER_NAME,
    argument_parser,
    bench_app,
    machine_notes,
    report,
    scratch_database,
)

TARGET_GROWTH_MB = 50.0
SAMPLE_SECONDS = 0.1
MB = 1024 * 1024
# The child settles this long after saying it is about to start, so that the baseline
# sample is taken with everything imported and connected.
SETTLE_SECONDS = 0.5


def prepare(app: Any, fmt: str) -> tuple[int, int, int]:
    """Bring the seeded workspace's schema to head (a kept database may predate newer
    tables) and queue an export of every contact; (tenant id, export id, contacts)."""
    from sqlalchemy import func, select

    from app.access.policy import actor_for
    from app.contacts.models import Contact
    from app.database import db
    from app.exports.services import select_records, start_export
    from app.identity.models import Membership, User
    from tenants.context import tenant_context
    from tenants.fleet import upgrade_tenants
    from tenants.models import Tenant
    from tenants.resolution import ref_of

    with app.app_context():
        upgrade_tenants(db.engine, jobs=1)
        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == "bigco")).one()
        ref = ref_of(tenant)
        owner_id = db.session.scalars(
            select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant.id, Membership.role == "owner")
        ).one()
        db.session.remove()
        with tenant_context(ref):
            actor = actor_for(owner_id, "owner")
            contacts = int(db.session.scalar(select(func.count()).select_from(Contact)) or 0)
            selection = select_records(db.session, actor, entity="contact", filters={})
            job = start_export(db.session, actor, selection, fmt, dispatch=False)
            export_id = job.id
            db.session.remove()
        return ref.id, export_id, contacts


def child(url: str, tenant_id: int, export_id: int, storage: str) -> None:
    """The worker-like process: build the app, bind the tenant, run the task."""
    from app import create_app
    from app.database import db
    from app.exports.tasks import run_export_task
    from tenants.context import tenant_context
    from tenants.models import Tenant
    from tenants.resolution import ref_of

    app = create_app(
        {
            "DATABASE_URL": url,
            "SERVER_NAME": SERVER_NAME,
            "SECRET_KEY": SECRET_KEY,
            "CELERY_BROKER_URL": None,
            "SEED_DEMO": False,
            "EXPORT_STORAGE_DIR": storage,
        }
    )
    with app.app_context():
        tenant = db.session.get(Tenant, tenant_id)
        assert tenant is not None
        ref = ref_of(tenant)
        db.session.remove()
        # Warm what any worker has warm: a pooled connection, the compiled mappers.
        with tenant_context(ref):
            db.session.execute(db.text("SELECT 1"))
            db.session.remove()
        print("START", flush=True)
        time.sleep(SETTLE_SECONDS)
        started = time.perf_counter()
        with tenant_context(ref):
            result = run_export_task.delay(export_id).get()
        elapsed = time.perf_counter() - started
    print("DONE " + json.dumps({"result": result, "seconds": elapsed}), flush=True)


def measure(url: str, tenant_id: int, export_id: int, storage: Path) -> dict[str, Any]:
    """Run the child and sample its RSS; returns the figures of one export."""
    command = [
        sys.executable, __file__, "--child", url, str(tenant_id), str(export_id), str(storage),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    proc = psutil.Process(process.pid)
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith("START"):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while not started.is_set():
        if process.poll() is not None:
            raise RuntimeError(f"child exited early: {lines}")
        time.sleep(0.05)
    time.sleep(SETTLE_SECONDS / 2)
    start_rss = proc.memory_info().rss
    samples = [start_rss]
    while process.poll() is None:
        try:
            samples.append(proc.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(SAMPLE_SECONDS)
    reader.join(timeout=10)
    done = [line for line in lines if line.startswith("DONE ")]
    if process.returncode != 0 or not done:
        raise RuntimeError(f"child failed ({process.returncode}): {lines}")
    outcome = json.loads(done[0][5:])
    files = [p for p in storage.rglob("*") if p.is_file() and not p.name.endswith(".part")]
    rows = int(outcome["result"]["rows"])
    seconds = float(outcome["seconds"])
    return {
        "status": outcome["result"]["status"],
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds) if seconds else None,
        "rss_start_mb": round(start_rss / MB, 1),
        "rss_peak_mb": round(max(samples) / MB, 1),
        "rss_growth_mb": round((max(samples) - start_rss) / MB, 1),
        "samples": len(samples),
        "file_mb": round(sum(p.stat().st_size for p in files) / MB, 1),
    }


def run(url: str, db_uri: str, formats: list[str], scale: float | None) -> None:
    app = bench_app(url)
    figures: dict[str, Any] = {}
    lines: list[str] = []
    passed = True
    for fmt in formats:
        with tempfile.TemporaryDirectory(prefix="crm-export-") as tmp:
            storage = Path(tmp)
            tenant_id, export_id, contacts = prepare(app, fmt)
            print(f"exporting {contacts} contacts as {fmt} ...", file=sys.stderr, flush=True)
            result = measure(url, tenant_id, export_id, storage)
        ok = result["status"] == "done" and result["rows"] == contacts
        ok = ok and result["rss_growth_mb"] <= TARGET_GROWTH_MB
        passed = passed and ok
        figures[fmt] = result
        lines.append(
            f"{fmt}: {result['rows']} rows in {result['seconds']} s "
            f"({result['rows_per_s']} rows/s), file {result['file_mb']} MB; RSS start "
            f"{result['rss_start_mb']} MB, peak {result['rss_peak_mb']} MB, growth "
            f"{result['rss_growth_mb']} MB (target <= {TARGET_GROWTH_MB:.0f} MB)"
            + ("" if ok else "  <- FAIL")
        )
    figures["machine"] = machine_notes(db_uri)
    figures["machine"]["scale"] = scale
    report("export_rows", lines, figures, passed)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, url, tenant_id, export_id, storage = sys.argv
        child(url, int(tenant_id), int(export_id), storage)
        return
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes")
    parser.add_argument(
        "--reuse", metavar="URL", help="a database seeded earlier (crm_seed.py --keep)"
    )
    parser.add_argument("--formats", default="csv,xlsx", help="comma-separated: csv,xlsx")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    if args.reuse:
        from app.embedded import to_sqlalchemy_url

        run(to_sqlalchemy_url(args.reuse), args.reuse, formats, None)
        return
    from crm_seed import Sizes, seed_workspace

    with scratch_database(args) as scratch:
        seed_workspace(bench_app(scratch.url), Sizes().scaled(args.scale))
        run(scratch.url, scratch.libpq_uri, formats, args.scale)


if __name__ == "__main__":
    main()
