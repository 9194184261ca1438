"""Provisioning time, and whether it stays flat as the fleet grows.

Provisions N tenants (default 2,000) one after another with
``tenants.provisioning.provision_tenant``, each with its own owner (made beforehand with
``app.identity.services.get_or_create_user``). Reports the median and p95 of
``ProvisionedTenant.elapsed_ms`` and of the wall time around the call for the first and
the last window of tenants (1-100 and 1,901-2,000 by default), and their ratio.

Targets: median <= 100 ms, and median(last window) <= 1.3 x median(first window).

    .venv/bin/python bench/provisioning.py [--tenants 2000] [--embedded]
"""

from __future__ import annotations

import sys
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

TARGET_MEDIAN_MS = 100.0
TARGET_GROWTH = 1.3


def make_owners(count: int) -> list[int]:
    """Create ``count`` owner identities through the identity service; their ids."""
    from app.database import db
    from app.identity.services import get_or_create_user

    ids: list[int] = []
    progress = Progress("owners", count)
    for i in range(1, count + 1):
        user = get_or_create_user(
            db.session, email=f"owner-{i}@bench.example", password=PASSWORD, name=f"Owner {i}"
        )
        ids.append(user.id)
        if i % 250 == 0 or i == count:
            db.session.commit()
            progress.update(i)
    db.session.remove()
    return ids


def catalog_size(engine: Any) -> dict[str, int]:
    """Rows in the catalogs that grow with every tenant, and the database size."""
    from sqlalchemy import text

    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM pg_class) AS pg_class,"
                " (SELECT count(*) FROM pg_attribute) AS pg_attribute,"
                " (SELECT count(*) FROM pg_namespace) AS pg_namespace,"
                " pg_database_size(current_database()) AS bytes"
            )
        ).one()
    return dict(row._mapping)


def slope_per_1000(values: list[float], start: int) -> float:
    """Least-squares slope of ``values`` against the tenant number, in ms per 1,000."""
    xs = range(start, start + len(values))
    mean_x, mean_y = sum(xs) / len(values), sum(values) / len(values)
    num = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values, strict=True))
    den = sum((x - mean_x) ** 2 for x in xs)
    return 1000 * num / den if den else 0.0


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "median": round(median(values), 2),
        "p95": round(percentile(values, 95), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=2000, help="tenants to provision")
    parser.add_argument("--window", type=int, default=100, help="size of the compared windows")
    parser.add_argument(
        "--retire-after",
        type=int,
        default=None,
        help="override tenants.provisioning.RETIRE_CONNECTION_AFTER (0: never retire the"
        " pooled connection, to see the growth it prevents)",
    )
    args = parser.parse_args()
    if args.tenants < 2 * args.window or args.window < 1:
        parser.error("--tenants must be at least twice --window")

    from app.database import db
    from tenants import provisioning
    from tenants.provisioning import provision_tenant

    if args.retire_after is not None:
        provisioning.RETIRE_CONNECTION_AFTER = args.retire_after or sys.maxsize
    retire_after = provisioning.RETIRE_CONNECTION_AFTER

    with scratch_database(args) as scratch:
        app = bench_app(scratch.url)
        with app.app_context():
            engine = db.engine
            owners = make_owners(args.tenants)
            before = catalog_size(engine)
            elapsed: list[float] = []
            wall: list[float] = []
            progress = Progress("provisioning", args.tenants)
            started = time.perf_counter()
            for i, owner_id in enumerate(owners, start=1):
                t0 = time.perf_counter()
                tenant = provision_tenant(
                    engine,
                    slug=f"bench-{i:05d}",
                    name=f"Bench Company {i}",
                    owner_user_id=owner_id,
                    actor="bench",
                )
                wall.append((time.perf_counter() - t0) * 1000)
                elapsed.append(tenant.elapsed_ms)
                progress.update(i, f"last {tenant.elapsed_ms:.1f} ms")
            total_s = time.perf_counter() - started
            after = catalog_size(engine)
            notes = machine_notes(scratch.libpq_uri)
            engine.dispose()

    w, n = args.window, args.tenants
    first_elapsed, last_elapsed = elapsed[:w], elapsed[-w:]
    first_wall, last_wall = wall[:w], wall[-w:]
    first, last = summarise(first_elapsed), summarise(last_elapsed)
    ratio = last["median"] / first["median"]
    wall_ratio = median(last_wall) / median(first_wall)
    overall_median = median(elapsed)
    # Medians per block of `window` tenants: the shape of any growth.
    blocks = [round(median(elapsed[i : i + w]), 1) for i in range(0, n, w)]
    # Least-squares slope after the first fifth: growth with the catalog, without the
    # start of a run (see README: a filesystem effect can slow the first tenants).
    skip = n // 5
    slope = slope_per_1000(elapsed[skip:], start=skip + 1)

    passed = (
        first["median"] <= TARGET_MEDIAN_MS
        and last["median"] <= TARGET_MEDIAN_MS
        and ratio <= TARGET_GROWTH
    )
    lines = [
        f"tenants provisioned: {n} in {total_s:.1f} s ({n / total_s:.1f}/s)",
        f"elapsed_ms  tenants 1-{w}: median {first['median']:.1f}  p95 {first['p95']:.1f}"
        f"  (min {first['min']:.1f}, max {first['max']:.1f})",
        f"elapsed_ms  tenants {n - w + 1}-{n}: median {last['median']:.1f}"
        f"  p95 {last['p95']:.1f}  (min {last['min']:.1f}, max {last['max']:.1f})",
        f"wall ms     tenants 1-{w}: median {median(first_wall):.1f}"
        f"  p95 {percentile(first_wall, 95):.1f};  tenants {n - w + 1}-{n}:"
        f" median {median(last_wall):.1f}  p95 {percentile(last_wall, 95):.1f}",
        f"ratio of medians (last/first): {ratio:.2f} (wall: {wall_ratio:.2f})"
        f"  target <= {TARGET_GROWTH}",
        f"median over all tenants: {overall_median:.1f} ms  target <= {TARGET_MEDIAN_MS:.0f}",
        f"median per {w} tenants: {' '.join(str(b) for b in blocks)}",
        f"trend over tenants {skip + 1}-{n}: {slope:+.1f} ms per 1,000 tenants (least squares)",
        f"catalog: pg_class {before['pg_class']} -> {after['pg_class']},"
        f" pg_attribute {before['pg_attribute']} -> {after['pg_attribute']},"
        f" database {before['bytes'] / 2**20:.0f} -> {after['bytes'] / 2**20:.0f} MiB",
        "pooled connection retired after: "
        + ("never" if retire_after == sys.maxsize else f"{retire_after} tenants"),
        f"machine: {notes}",
    ]
    figures = {
        "tenants": n,
        "retire_connection_after": None if retire_after == sys.maxsize else retire_after,
        "window": w,
        "first_elapsed_ms": first,
        "last_elapsed_ms": last,
        "first_wall_ms": summarise(first_wall),
        "last_wall_ms": summarise(last_wall),
        "median_ratio": round(ratio, 3),
        "wall_median_ratio": round(wall_ratio, 3),
        "median_all_ms": round(overall_median, 2),
        "block_medians_ms": blocks,
        "trend_ms_per_1000": round(slope, 2),
        "total_s": round(total_s, 2),
        "catalog_before": before,
        "catalog_after": after,
        "targets": {"median_ms": TARGET_MEDIAN_MS, "growth": TARGET_GROWTH},
        "machine": notes,
    }
    report("provisioning", lines, figures, passed)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
