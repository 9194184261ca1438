"""Import 100,000 contacts from a CSV and from an XLSX file into a workspace that
already holds data, and time it end to end.

The workspace is seeded by ``crm_seed.seed_workspace`` (``--existing-scale`` of the
issue's 1M-contact workspace; 0.02 = 20,000 contacts with their companies, deals and
activities by default, ``--existing-scale 1`` for the full one). Each file has
realistic rows: names, emails, phones, companies, titles, birthdays, tags and notes,
with about 2% duplicate emails inside the file and about 1% invalid rows (bad emails,
phones or dates). Each file is imported as a person would: ``upload`` (read and check
the whole file, guess the mapping, keep the file) then ``start`` (reserve the plan's
allowance, run the task: validation, duplicates by email against the workspace and the
file, COPY of contacts, timeline events and report rows, 5,000 rows per transaction).
Celery runs in-process, so the figure is the task's own time, with no queueing.

Before the imports, the same number of contacts and timeline events is inserted by one
``INSERT ... SELECT generate_series`` statement: PostgreSQL's own time for the rows and
their index maintenance, with no Python per row. Each import is also given as a
multiple of that floor, a figure that says more than seconds on a shared machine.

    .venv/bin/python bench/import_rows.py                      # 100,000 rows, 20k existing
    .venv/bin/python bench/import_rows.py --rows 20000 --existing-scale 0.01
    .venv/bin/python bench/import_rows.py --existing-scale 1   # on the 1M-contact workspace

Target: <= 10 s for 100,000 rows (10,000 rows/s), for each of CSV and XLSX.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from crm_seed import FIRST_NAMES, LAST_NAMES, Sizes, seed_workspace
from harness import argument_parser, bench_app, machine_notes, report, scratch_database

TARGET_SECONDS_PER_100K = 10.0
COMPANIES = ["Initech", "Globex", "Umbrella", "Hooli", "Vandelay", "Acme", "Stark", "Wayne"]
TITLES = ["CEO", "CTO", "Buyer", "Engineer", "Head of Sales", "Office manager", None]
TAGS = ["VIP", "Lead", "Partner", "Newsletter", "Event 2026"]
HEADER = ["First name", "Last name", "Email", "Phone", "Company", "Job title", "Birthday",
          "Tags", "Notes"]  # fmt: skip


def make_rows(count: int, domain: str, seed: int) -> list[list[Any]]:
    """``count`` rows of people at ``domain``: ~2% repeat an earlier email, ~1% invalid."""
    rng = random.Random(seed)
    rows: list[list[Any]] = []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{i}@{domain}".lower()
        roll = rng.random()
        if roll < 0.02 and rows:
            email = rows[rng.randrange(len(rows))][2].upper()  # a duplicate, other case
        phone = f"+49 30 {rng.randrange(1000000, 9999999)}"
        birthday: Any = (
            f"{rng.randrange(1950, 2004)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        )
        if 0.02 <= roll < 0.0133 + 0.02:
            bad = rng.randrange(3)
            if bad == 0:
                email = f"{first}.{last}.at.{domain}"
            elif bad == 1:
                phone = "call me maybe"
            else:
                birthday = "31/02/1990"
        tags = ", ".join(rng.sample(TAGS, rng.randrange(0, 3)))
        notes = "Met at the fair; wants a demo." if rng.random() < 0.1 else ""
        rows.append([first, last, email, phone, rng.choice(COMPANIES), rng.choice(TITLES) or "",
                     birthday, tags, notes])  # fmt: skip
    return rows


def write_csv(path: Path, rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(rows)


def write_xlsx(path: Path, rows: list[list[Any]]) -> None:
    from tests.imports.workbooks import write_xlsx as write_workbook

    with path.open("wb") as out:
        write_workbook(out, {"Contacts": [HEADER, *rows]})


FLOOR_SQL = """
WITH created AS (
    INSERT INTO contacts (first_name, last_name, email, phone, company_name, title, birthday,
                          tags, owner_id, created_by_id)
    SELECT 'First' || i, 'Last' || i, 'floor' || i || '@floor.example', '+49 30 ' || (1000000 + i),
           'Initech', 'CEO', date '1990-01-01' + (i % 9000), ARRAY['VIP']::varchar[], :owner, :owner
    FROM generate_series(1, :n) AS i
    RETURNING id
)
INSERT INTO timeline_events (kind, entity, entity_id, actor_id, contact_id, data)
SELECT 'created', 'contact', id, :owner, id, '{"name": "x"}'::jsonb FROM created
"""


def raw_floor(app: Any, seeded: Any, rows: int) -> float:
    """Seconds PostgreSQL alone takes to insert ``rows`` contacts with their timeline
    events in one statement (no Python per row): the floor any import sits on, on this
    machine at this moment."""
    from sqlalchemy import text

    from app.database import db
    from tenants.context import TenantRef, tenant_context

    ref = TenantRef(id=seeded.tenant_id, slug=seeded.slug, schema_name=seeded.schema)
    with app.app_context(), tenant_context(ref):
        try:
            began = time.perf_counter()
            db.session.execute(text(FLOOR_SQL), {"owner": seeded.owner_id, "n": rows})
            db.session.commit()
            return time.perf_counter() - began
        finally:
            db.session.remove()


def import_file(app: Any, seeded: Any, path: Path) -> dict[str, Any]:
    """Upload and run one file as the workspace's owner; the timings and the counts."""
    from app.access.policy import actor_for
    from app.database import db
    from app.imports import services
    from tenants.context import TenantRef, tenant_context

    ref = TenantRef(id=seeded.tenant_id, slug=seeded.slug, schema_name=seeded.schema)
    actor = actor_for(seeded.owner_id, "owner")
    with app.app_context(), tenant_context(ref):
        try:
            began = time.perf_counter()
            cpu = time.process_time()
            with path.open("rb") as stream:
                job = services.upload(
                    db.session, actor, entity="contact", stream=stream, file_name=path.name
                )
            uploaded = time.perf_counter()
            settings = services.check_settings(db.session, job, policy="skip", match_on=["email"])
            job = services.start(db.session, actor, job, settings)
            done = time.perf_counter()
            cpu = time.process_time() - cpu
            return {
                "status": job.status,
                "rows": job.total_rows,
                "created": job.created_count,
                "updated": job.updated_count,
                "skipped": job.skipped_count,
                "failed": job.failed_count,
                "upload_s": round(uploaded - began, 2),
                "run_s": round(done - uploaded, 2),
                "total_s": round(done - began, 2),
                "rows_per_s": round(job.total_rows / (done - began)),
                # This process's CPU (reading, validating, formatting): the rest of the
                # wall time is PostgreSQL, or waiting for a CPU on a busy machine.
                "python_cpu_s": round(cpu, 2),
                "file_mb": round(path.stat().st_size / 1e6, 1),
            }
        finally:
            db.session.remove()


def main() -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file")
    parser.add_argument(
        "--existing-scale",
        type=float,
        default=0.02,
        help="the workspace's data, as a fraction of the 1M-contact seed (default 0.02)",
    )
    args = parser.parse_args()
    with scratch_database(args) as scratch, tempfile.TemporaryDirectory() as tmp:
        app = bench_app(scratch.url)
        seeded = seed_workspace(app, Sizes().scaled(args.existing_scale))
        floor = raw_floor(app, seeded, args.rows)
        results: dict[str, dict[str, Any]] = {}
        for kind, writer in (("csv", write_csv), ("xlsx", write_xlsx)):
            path = Path(tmp) / f"contacts.{kind}"
            writer(path, make_rows(args.rows, f"{kind}.example", seed=7))
            results[kind] = import_file(app, seeded, path)
        target = TARGET_SECONDS_PER_100K * args.rows / 100_000
        passed = all(r["status"] == "done" and r["total_s"] <= target for r in results.values())
        lines = [
            f"workspace: {seeded.sizes.contacts:,} seeded contacts",
            f"floor: PostgreSQL alone inserts {args.rows:,} contacts and their timeline "
            f"events in {floor:.2f} s ({args.rows / floor:,.0f} rows/s), one statement",
            *(
                f"{kind.upper()}: {r['rows']:,} rows ({r['file_mb']} MB) in {r['total_s']} s "
                f"= {r['rows_per_s']:,} rows/s (upload+check {r['upload_s']} s, run "
                f"{r['run_s']} s; Python CPU {r['python_cpu_s']} s); created {r['created']:,}, "
                f"skipped {r['skipped']:,}, "
                f"failed {r['failed']:,}; {r['total_s'] / floor:.1f} x the floor"
                for kind, r in results.items()
            ),
            f"target: <= {target:.1f} s per file",
            f"load average when done: {machine_notes(scratch.libpq_uri)['loadavg_1m']}",
        ]
        report(
            "import_rows",
            lines,
            {
                "rows": args.rows,
                "existing_contacts": seeded.sizes.contacts,
                "floor_s": round(floor, 2),
                **{kind: r for kind, r in results.items()},
                "machine": machine_notes(scratch.libpq_uri),
            },
            passed,
        )
    raise SystemExit(0 if passed else 1)


if __name__ == "__main__":
    main()
