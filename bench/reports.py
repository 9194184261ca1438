"""The funnel reports over 300,000 deals and 3,000,000 stage-history rows.

Provisions one workspace ("reports") in a scratch database and fills its default
pipeline inside PostgreSQL (``INSERT ... SELECT generate_series``): ``--deals`` deals
(default 300,000) created over the last two years by 20 owners, in EUR, USD and JPY,
with sources, loss reasons and competitors; ``--moves`` stage-history rows per deal
(default 10: 3,000,000 rows) from the entry into the funnel to the deal's stage now;
and ``--activities`` activities (default 1,000,000). Then times, in-process:

- each report's queries (``app.reports.output.run``) for the owner (scope "all") over
  the default period (the last 90 days) and over the whole two years, and for a sales
  rep (scope "own") over the default period: p50 and p95 of ``--runs`` runs;
- the whole reports page (``GET /reports``: every report, charts, tables), signed in
  through the login form, and the funnel through the API (bearer token).

Target: the funnel report <= 500 ms (p95, owner, default period); every figure is
printed against it.

    .venv/bin/python bench/reports.py
    .venv/bin/python bench/reports.py --deals 30000 --runs 5      # a quick one
    .venv/bin/python bench/reports.py --keep                       # keep the database
    .venv/bin/python bench/reports.py --reuse postgresql://.../crm_bench_x   # measure it
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

from harness import (
    PASSWORD,
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

TARGET_MS = 500.0
MEMBERS = 20
SLUG = "reports"
OWNER_EMAIL = "owner@reports.example"
SOURCES = ("Web", "Referral", "Event", "Cold call", "Partner", "Ads")
REASONS = (
    "Price too high",
    "Chose a competitor",
    "No budget",
    "No decision / went silent",
    "Bad timing",
    "Missing features",
    "Not a fit",
)
COMPETITORS = ("Acme", "Globex", "Initech", "Umbrella")


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def seed(app: Any, deals: int, moves: int, activities: int) -> None:
    """Provision the workspace and fill it (see the module docstring)."""
    from sqlalchemy import text

    from app.database import db
    from app.identity.services import add_member, get_or_create_user
    from tenants.binding import bind_connection
    from tenants.models import Tenant
    from tenants.provisioning import provision_tenant

    with app.app_context():
        owner = get_or_create_user(db.session, email=OWNER_EMAIL, password=PASSWORD, name="Owner")
        db.session.commit()
        provisioned = provision_tenant(
            db.engine, slug=SLUG, name="Reports", owner_user_id=owner.id, plan="enterprise"
        )
        tenant = db.session.get(Tenant, provisioned.id)
        members = [owner.id]
        for n in range(1, MEMBERS):
            members.append(
                add_member(
                    db.session,
                    tenant=tenant,
                    email=f"rep{n}@reports.example",
                    password=PASSWORD,
                    role="sales_rep",
                    actor="bench",
                ).user_id
            )
        db.session.commit()
        owners = "ARRAY[" + ",".join(str(m) for m in members) + "]::bigint[]"
        progress = Progress("seeding", 4)
        with db.engine.connect() as conn:
            conn.begin()
            bind_connection(conn, provisioned.ref)
            pipeline = conn.execute(text("SELECT id FROM pipelines WHERE is_default")).scalar_one()
            stages = conn.execute(
                text("SELECT id, kind FROM stages WHERE pipeline_id = :p ORDER BY position"),
                {"p": pipeline},
            ).all()
            opened = [s.id for s in stages if s.kind == "open"]
            won = next(s.id for s in stages if s.kind == "won")
            lost = next(s.id for s in stages if s.kind == "lost")
            n_open = len(opened)
            open_ids = "ARRAY[" + ",".join(str(i) for i in opened) + "]::bigint[]"
            # Rows go in in time order, as an application appends them (which is what
            # decides how many pages a period's rows are spread over).
            # Per deal g: created up to two years ago; a cycle of 1-120 days; 40 % open
            # (spread over the open stages), 25 % won, 35 % lost (at a stage reached).
            conn.execute(
                text(
                    f"""
                    INSERT INTO deals (title, amount_minor, currency, pipeline_id, stage_id,
                        probability, expected_close_date, status, stage_entered_at, closed_at,
                        won_amount_minor, lost_reason, lost_to_competitor, source, owner_id,
                        created_at, updated_at)
                    SELECT 'Deal ' || g,
                        CASE WHEN g % 50 = 0 THEN NULL
                             WHEN g % 20 = 1 THEN 1000 + (CAST(g AS bigint) * 7919) % 2000000
                             ELSE 10000 + (CAST(g AS bigint) * 7919) % 5000000 END,
                        CASE WHEN g % 20 = 1 THEN 'JPY' WHEN g % 7 = 0 THEN 'USD' ELSE 'EUR' END,
                        {pipeline},
                        CASE WHEN g % 20 < 8 THEN ({open_ids})[1 + g % {n_open}]
                             WHEN g % 20 < 13 THEN {won} ELSE {lost} END,
                        CASE WHEN g % 10 = 0 THEN (g % 100) END,
                        CASE WHEN g % 20 < 8 AND g % 9 <> 0
                             THEN current_date + ((g % 240) - 60) END,
                        CASE WHEN g % 20 < 8 THEN 'open' WHEN g % 20 < 13 THEN 'won'
                             ELSE 'lost' END,
                        least(c + s, now()), CASE WHEN g % 20 >= 8 THEN least(c + s, now()) END,
                        CASE WHEN g % 20 BETWEEN 8 AND 12
                             THEN 10000 + (CAST(g AS bigint) * 7919) % 5000000 END,
                        CASE WHEN g % 20 >= 13 THEN ({_array(REASONS)})[1 + g % 7] END,
                        CASE WHEN g % 20 >= 13 AND g % 3 = 0
                             THEN ({_array(COMPETITORS)})[1 + g % 4] END,
                        CASE WHEN g % 11 = 0 THEN NULL ELSE ({_array(SOURCES)})[1 + g % 6] END,
                        ({owners})[1 + g % {MEMBERS}],
                        c, c
                    FROM generate_series(1, :deals) AS g,
                        LATERAL (SELECT now() - interval '730 days' * (:deals - g) / :deals
                                     - make_interval(mins => g % 60) AS c,
                                 make_interval(days => 1 + g % 120) AS s) AS t
                    """
                ),
                {"deals": deals},
            )
            progress.update(1, "deals")
            # Move k of a deal: k = 0 enters the first stage, the last one lands in the
            # stage the deal is in now, those between climb the open stages (a lost deal
            # only up to where it was lost).
            conn.execute(
                text(
                    f"""
                    INSERT INTO deal_stage_history (deal_id, pipeline_id, from_stage_id,
                        to_stage_id, moved_by, moved_at, seconds_in_from_stage)
                    SELECT d.id, d.pipeline_id,
                        CASE WHEN k > 0 THEN ({open_ids})[1 + least(((k - 1) * {n_open})
                            / :moves, d.id % {n_open})] END,
                        CASE WHEN k = :last THEN d.stage_id
                             ELSE ({open_ids})[1 + least((k * {n_open}) / :moves,
                                                         d.id % {n_open})] END,
                        d.owner_id,
                        d.created_at + (d.stage_entered_at - d.created_at) * k / :last,
                        CASE WHEN k > 0 THEN CAST(extract(epoch FROM
                            (d.stage_entered_at - d.created_at) / :last) AS integer) END
                    FROM deals d, generate_series(0, :last) AS k
                    ORDER BY 6
                    """
                ),
                {"moves": moves, "last": moves - 1},
            )
            progress.update(2, "stage history")
            conn.execute(
                text(
                    f"""
                    INSERT INTO activities (type, subject, occurred_at, done, done_at,
                        owner_id, deal_id, created_at, updated_at)
                    SELECT (ARRAY['call','meeting','email','task','note'])[1 + g % 5],
                        'Activity ' || g, o, g % 5 = 3 AND g % 2 = 0,
                        CASE WHEN g % 5 = 3 AND g % 2 = 0 THEN o + interval '1 day' END,
                        ({owners})[1 + g % {MEMBERS}],
                        CASE WHEN g % 3 = 0 THEN 1 + g % :deals END, o, o
                    FROM generate_series(1, :activities) AS g,
                        LATERAL (SELECT now() - interval '730 days' * (:activities - g)
                                     / :activities AS o) AS t
                    """
                ),
                {"activities": activities, "deals": deals},
            )
            progress.update(3, "activities")
            for table in ("deals", "deal_stage_history", "activities"):
                conn.execute(text(f"ANALYZE {table}"))
            conn.commit()
            progress.update(4, "analysed")
        db.session.remove()


def _timed(fn: Any, runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(app: Any, runs: int, db_uri: str, seeded_s: float | None) -> bool:
    """Time every report, the page and the API; print the report; True on PASS."""
    import datetime as dt

    from sqlalchemy import func, select

    from app.access.policy import actor_for
    from app.board.models import DealStageHistory
    from app.database import db
    from app.deals.models import Deal
    from app.identity.models import Membership, User
    from app.identity.services import create_api_token
    from app.reports import output, queries
    from app.reports.filters import parse_filters
    from tenants.context import tenant_context
    from tenants.models import Tenant
    from tenants.resolution import ref_of

    with app.app_context():
        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == SLUG)).one()
        owner = db.session.scalars(select(User).where(User.email == OWNER_EMAIL)).one()
        rep_id = db.session.scalars(
            select(Membership.user_id).where(
                Membership.tenant_id == tenant.id, Membership.role == "sales_rep"
            )
        ).first()
        token = create_api_token(db.session, tenant=tenant, user=owner, actor="bench").secret
        db.session.commit()
        owner_id, ref = owner.id, ref_of(tenant)
        db.session.remove()
    assert rep_id is not None

    figures: dict[str, Any] = {}
    lines: list[str] = []
    today = dt.date.today()
    whole = {"from": (today - dt.timedelta(days=731)).isoformat(), "to": today.isoformat()}
    cases = [
        ("owner, last 90 days", actor_for(owner_id, "owner"), {}),
        ("owner, two years", actor_for(owner_id, "owner"), whole),
        ("sales rep, last 90 days", actor_for(rep_id, "sales_rep"), {}),
    ]
    with app.app_context(), tenant_context(ref):
        deals = db.session.scalar(select(func.count()).select_from(Deal))
        history = db.session.scalar(select(func.count()).select_from(DealStageHistory))
        db.session.rollback()
        lines.append(
            f"{deals:,} deals, {history:,} stage-history rows"
            + (f", seeded in {seeded_s:.0f} s" if seeded_s is not None else "")
        )
        figures.update(deals=deals, history_rows=history)
        for label, actor, args in cases:
            filters = parse_filters(db.session, actor, args)
            db.session.rollback()
            parts = []
            for name in queries.REPORT_NAMES:

                def run(name: str = name, actor: Any = actor, filters: Any = filters) -> None:
                    output.run(db.session, actor, name, filters)
                    db.session.rollback()

                times = _timed(run, runs)
                key = f"{label.split(',')[0].replace(' ', '_')}_{'all' if args else '90d'}"
                p50, p95 = round(median(times), 1), round(percentile(times, 95), 1)
                figures[f"{key}_{name}_p50_ms"] = p50
                figures[f"{key}_{name}_p95_ms"] = p95
                parts.append(f"{name} {p50}/{p95}")
            lines.append(f"{label} (p50/p95 ms): " + ", ".join(parts))

    client = app.test_client()
    base = f"http://{SLUG}.{SERVER_NAME}"
    page = client.get("/login", base_url=base).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert csrf, "no CSRF token on the login page"
    signed_in = client.post(
        "/login",
        base_url=base,
        data={"email": OWNER_EMAIL, "password": PASSWORD, "csrf_token": csrf.group(1)},
    )
    assert signed_in.status_code == 302, signed_in.status_code

    def page_get(query: dict[str, str]) -> None:
        response = client.get("/reports", base_url=base, query_string=query)
        assert response.status_code == 200, response.status_code

    def api_get(query: dict[str, str]) -> None:
        response = client.get(
            "/api/v1/reports/funnel",
            base_url=base,
            query_string=query,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    for label, query in (("last 90 days", {}), ("two years", whole)):
        key = "all" if query else "90d"
        page_ms = _timed(lambda q=query: page_get(q), runs)
        api_ms = _timed(lambda q=query: api_get(q), runs)
        figures[f"page_{key}_p50_ms"] = round(median(page_ms), 1)
        figures[f"page_{key}_p95_ms"] = round(percentile(page_ms, 95), 1)
        figures[f"api_funnel_{key}_p50_ms"] = round(median(api_ms), 1)
        figures[f"api_funnel_{key}_p95_ms"] = round(percentile(api_ms, 95), 1)
        lines.append(
            f"whole page GET /reports, {label}: p50 {figures[f'page_{key}_p50_ms']} ms, "
            f"p95 {figures[f'page_{key}_p95_ms']} ms; API funnel: p50 "
            f"{figures[f'api_funnel_{key}_p50_ms']} ms, "
            f"p95 {figures[f'api_funnel_{key}_p95_ms']} ms"
        )
    funnel_p95 = figures["owner_90d_funnel_p95_ms"]
    passed = funnel_p95 <= TARGET_MS
    lines.append(
        f"funnel report (owner, last 90 days) p95 {funnel_p95} ms; two years p95 "
        f"{figures['owner_all_funnel_p95_ms']} ms (target <= {TARGET_MS:.0f} ms)"
    )
    figures["runs"] = runs
    figures["machine"] = machine_notes(db_uri)
    report("reports", lines, figures, passed)
    return passed


def main() -> int:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--deals", type=int, default=300_000, help="deals to seed")
    parser.add_argument("--moves", type=int, default=10, help="stage-history rows per deal")
    parser.add_argument("--activities", type=int, default=1_000_000, help="activities to seed")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per figure")
    parser.add_argument(
        "--reuse", metavar="URL", help="measure a database seeded earlier (reports.py --keep)"
    )
    args = parser.parse_args()
    if args.moves < 2:
        parser.error("--moves must be at least 2")
    if args.reuse:
        from app.embedded import to_sqlalchemy_url

        app = bench_app(to_sqlalchemy_url(args.reuse))
        return 0 if measure(app, args.runs, args.reuse, None) else 1
    with scratch_database(args) as scratch:
        app = bench_app(scratch.url)
        started = time.perf_counter()
        seed(app, args.deals, args.moves, args.activities)
        seeded_s = time.perf_counter() - started
        passed = measure(app, args.runs, scratch.libpq_uri, seeded_s)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
