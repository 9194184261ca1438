"""Bulk edits of 100,000 contacts: add a tag, remove it, assign an owner, delete.

Each edit runs the worker's path (``app.lists.bulk.run_bulk_edit``: chunks of 1,000,
one committed transaction each, with an audit entry and a timeline event per record),
over contacts inserted straight into a fresh workspace, and is timed from start to
"done". The figure: each edit takes seconds, not minutes.

Target: every edit of 100,000 contacts <= 60 s.

    .venv/bin/python bench/bulk_edit.py [--contacts 100000] [--embedded]
"""

from __future__ import annotations

import time
from typing import Any

from harness import argument_parser, bench_app, machine_notes, report, scratch_database

TARGET_S = 60.0


def main() -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts to edit")
    args = parser.parse_args()
    with scratch_database(args) as scratch:
        app = bench_app(scratch.url)
        figures = measure(app, args.contacts)
        timings = {action: round(seconds, 1) for action, seconds in figures.items()}
        lines = [
            f"{action} of {args.contacts:,} contacts: {seconds:.1f} s "
            f"({args.contacts / seconds:,.0f} records/s)"
            for action, seconds in figures.items()
        ]
        lines.append(f"target: each <= {TARGET_S:.0f} s")
        report(
            "bulk_edit",
            lines,
            {
                "contacts": args.contacts,
                "seconds": timings,
                "machine": machine_notes(scratch.libpq_uri),
            },
            all(seconds <= TARGET_S for seconds in figures.values()),
        )


def measure(app: Any, count: int) -> dict[str, float]:
    """Seconds per edit, in order: add_tag, remove_tag, assign_owner, delete."""
    from sqlalchemy import text

    from app.database import db
    from app.identity.services import add_member, get_or_create_user
    from app.lists import bulk
    from tenants.context import tenant_context
    from tenants.models import Tenant
    from tenants.provisioning import provision_tenant

    with app.app_context():
        owner = get_or_create_user(
            db.session, email="owner@bulk.example", password="x" * 16, name="Owner"
        )
        db.session.commit()
        provisioned = provision_tenant(
            db.engine, slug="bulk", name="Bulk", owner_user_id=owner.id, plan="enterprise"
        )
        tenant = db.session.get(Tenant, provisioned.id)
        assert tenant is not None
        other = add_member(
            db.session,
            tenant=tenant,
            email="rep@bulk.example",
            password="x" * 16,
            role="sales_rep",
            actor="bench",
        )
        db.session.commit()
        owner_id, other_id = owner.id, other.user_id
        db.session.remove()
    timings: dict[str, float] = {}
    with app.app_context(), tenant_context(provisioned.ref):
        session = db.session
        session.execute(
            text(
                "INSERT INTO contacts (first_name, last_name, email, owner_id) "
                "SELECT 'First' || g, 'Last' || (g % 5000), 'p' || g || '@mail.example', :owner "
                "FROM generate_series(1, :n) AS g"
            ),
            {"owner": owner_id, "n": count},
        )
        session.execute(
            text("UPDATE usage_counters SET used = :n WHERE resource = 'contacts'"), {"n": count}
        )
        session.commit()
        session.execute(text("ANALYZE contacts"))
        session.commit()
        for action, params in (
            ("add_tag", {"tag": "webinar"}),
            ("remove_tag", {"tag": "webinar"}),
            ("assign_owner", {"owner_id": other_id}),
            ("delete", {}),
        ):
            job = bulk.BulkEdit(
                entity="contact",
                action=action,
                params=params,
                selection={"filters": {}},
                total=count,
                created_by_id=owner_id,
            )
            session.add(job)
            session.commit()
            started = time.perf_counter()
            bulk.run_bulk_edit(session, job.id)
            timings[action] = time.perf_counter() - started
            session.refresh(job)
            if (job.status, job.changed) != ("done", count):
                raise RuntimeError(f"{action}: {job.status}, {job.changed} changed, {job.error}")
        session.remove()
    return timings


if __name__ == "__main__":
    main()
