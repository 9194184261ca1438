"""Time a plan-limit check and counter update adds to a create (target: p50 <= 1 ms).

One tenant on Pro (a contacts cap, so the conditional ``WHERE used + 1 <= cap`` is in
the statement), on PostgreSQL. Each create is one transaction in a fresh session, as a
request has: insert a contact and commit. Every other create also calls
``billing.limits.reserve(session, "contacts")`` first: one conditional
``UPDATE ... RETURNING`` that takes the cap from the plan this process read before and
checks in a subquery that the plan's inputs are unchanged (the plan is read again only
when they changed). Both kinds interleave in one run, so load on the machine hits them
alike; the figure is p50(with) - p50(without).

On a busy machine each round trip costs a scheduling delay that has nothing to do with
the statement, so the script also reports the server-side cost: the same statement run
in a PL/pgSQL loop (timed with ``clock_timestamp()``, rolled back), per check, and how
many statements one reservation sent.
"""

from __future__ import annotations

import time
from typing import Any

from harness import (
    PASSWORD,
    Progress,
    argument_parser,
    bench_app,
    machine_notes,
    median,
    percentile,
    report,
    scratch_database,
)

TARGET_ADDED_P50_MS = 1.0


def _server_side_us(session: Any, tenant_id: int, iterations: int) -> float:
    """Microseconds per reservation statement (the conditional ``UPDATE`` with its plan
    fingerprint check, exactly as ``billing.limits.reserve`` sends it), measured inside
    PostgreSQL (no network, no client scheduling); rolled back."""
    from sqlalchemy import text

    from billing import limits

    plan = limits.tenant_plan(session, tenant_id)
    compiled = limits._TAKE[(True, True)].compile(dialect=session.get_bind().dialect)
    literals = {
        "for_resource": "'contacts'",
        "n": "1",
        "cap": str(int(plan.limits["contacts"] or 0)),
        "tenant_id": str(int(tenant_id)),
        "fingerprint": f"'{plan.fingerprint}'",
    }
    statement = (compiled.string % literals).replace(
        "RETURNING usage_counters.used", "RETURNING usage_counters.used INTO r"
    )
    session.execute(text("CREATE TEMP TABLE bench_timing (us double precision)"))
    session.execute(
        text(
            f"""
            DO $$
            DECLARE t0 timestamptz := clock_timestamp(); r bigint;
            BEGIN
              FOR n IN 1..{int(iterations)} LOOP
                {statement};
                IF r IS NULL THEN RAISE EXCEPTION 'the reservation did not apply'; END IF;
              END LOOP;
              INSERT INTO bench_timing
                VALUES (extract(epoch FROM clock_timestamp() - t0) * 1e6 / {int(iterations)});
            END $$
            """
        )
    )
    us = float(session.scalar(text("SELECT us FROM bench_timing")))
    session.rollback()
    return us


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=2000, help="creates of each kind")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from app.contacts.models import Contact
    from app.database import db
    from app.identity.services import get_or_create_user
    from billing import limits
    from billing.models import UsageCounter
    from tenants.context import tenant_context
    from tenants.provisioning import provision_tenant

    with scratch_database(args) as scratch:
        app = bench_app(scratch.url)
        with app.app_context():
            owner = get_or_create_user(
                db.session, email="owner@limits-bench.example", password=PASSWORD, name="O"
            )
            db.session.commit()
            tenant = provision_tenant(
                db.engine, slug="limits-bench", name="Limits", owner_user_id=owner.id, plan="pro"
            )
            db.session.remove()
            notes = machine_notes(scratch.libpq_uri)

            def create(n: int, *, reserve: bool) -> float:
                t0 = time.perf_counter()
                session = db.session
                if reserve:
                    limits.reserve(session, "contacts")
                session.add(Contact(first_name=f"B{n}", owner_id=owner.id))
                session.commit()
                elapsed = (time.perf_counter() - t0) * 1000
                db.session.remove()
                return elapsed

            from sqlalchemy import event

            sent: list[str] = []

            def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                if not statement.startswith("SET LOCAL"):
                    sent.append(statement)

            with_check: list[float] = []
            without: list[float] = []
            progress = Progress("creates", 2 * args.creates)
            with tenant_context(tenant.ref):
                for n in range(50):  # warm up: pool, statement caches
                    create(n, reserve=n % 2 == 0)
                for n in range(args.creates):
                    with_check.append(create(2 * n, reserve=True))
                    without.append(create(2 * n + 1, reserve=False))
                    progress.update(2 * n + 2)
                event.listen(db.engine, "before_cursor_execute", count)
                limits.reserve(db.session, "contacts")
                event.remove(db.engine, "before_cursor_execute", count)
                per_reserve = len(sent)
                db.session.rollback()
                server_us = _server_side_us(db.session, tenant.id, args.creates)
                db.session.remove()
                counter = db.session.scalar(
                    select(UsageCounter.used).where(UsageCounter.resource == "contacts")
                )
                rows = db.session.scalar(select(func.count()).select_from(Contact))
                db.session.remove()
            db.engine.dispose()

    p50_with, p50_without = median(with_check), median(without)
    added = p50_with - p50_without
    passed = added <= TARGET_ADDED_P50_MS
    lines = [
        f"create with reserve ({len(with_check)}): p50 {p50_with:.3f} ms, "
        f"p95 {percentile(with_check, 95):.3f} ms",
        f"create without ({len(without)}): p50 {p50_without:.3f} ms, "
        f"p95 {percentile(without, 95):.3f} ms",
        f"added by the limit check and counter update: p50 {added:.3f} ms "
        f"(target <= {TARGET_ADDED_P50_MS} ms)",
        f"server-side cost of the reservation statement: {server_us:.1f} us per check",
        f"statements per reservation (besides the transaction's search_path): {per_reserve}",
        f"counter {counter} for {rows} rows (only the checked creates count; "
        f"{25 + args.creates} expected)",
        f"machine: {notes}",
    ]
    report(
        "limit_check",
        lines,
        {
            "creates_each": args.creates,
            "p50_with_ms": round(p50_with, 3),
            "p50_without_ms": round(p50_without, 3),
            "added_p50_ms": round(added, 3),
            "server_side_us_per_check": round(server_us, 1),
            "statements_per_reservation": per_reserve,
            "counter": counter,
            "rows": rows,
            **notes,
        },
        passed,
    )
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
