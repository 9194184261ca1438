"""Finding likely duplicates in a large workspace, and merging them.

Seeds the workspace of ``crm_seed.py`` (or reuses a kept one), then plants duplicates:
every 100th contact gets a copy with its email in upper case and its phone written
differently (the same digits), at the same company and with the same owner; every 100th
company gets a copy named "<name> Inc." with the same domain.

Measured in-process through the API (Flask test client, bearer token), after a few
untimed warm-up requests:

- ``GET /api/v1/contacts/duplicates?limit=50`` from random places (a cursor at a random
  id), as the owner (scope "all") and as a sales rep (scope "own"), and the same for
  companies: p50/p95 per page (target p95 <= 500 ms: a page looks at up to
  ``finder.SCAN_LIMITS`` records);
- a full walk of the owner's contact and company suggestions, page after page: pages,
  seconds, and whether every planted pair was found;
- ``POST /api/v1/contacts/<id>/merge`` of planted pairs: p50/p95.

    .venv/bin/python bench/duplicates.py --scale 0.1
    .venv/bin/python bench/duplicates.py --reuse postgresql://.../crm_bench_x --scale 1.0
"""

from __future__ import annotations

import random
import time
from typing import Any

from crm_reads import reused_workspace, timed
from crm_seed import SeededWorkspace, Sizes, seed_workspace
from harness import (
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

PAGE_TARGET_MS = 500.0
MERGE_TARGET_MS = 500.0


Pairs = list[tuple[int, int]]


def plant(app: Any, seeded: SeededWorkspace) -> tuple[Pairs, Pairs]:
    """Copy every 100th contact and company as described above (once: a reused database
    keeps its copies); returns the planted pairs (original, copy) of each."""
    from sqlalchemy import text

    from app.database import db
    from tenants.binding import bind_connection
    from tenants.context import TenantRef

    ref = TenantRef(id=seeded.tenant_id, slug=seeded.slug, schema_name=seeded.schema)
    with app.app_context(), db.engine.connect() as conn:
        conn.begin()
        bind_connection(conn, ref)
        already = conn.scalar(
            text("SELECT count(*) FROM contacts WHERE source LIKE 'bench-copy-%'")
        )
        # ``source`` names the original, so that the pairs can be read back (and a
        # reused database is not planted twice).
        conn.execute(
            text(
                """INSERT INTO contacts (first_name, last_name, email, phone, title,
                        company_name, company_id, owner_id, tags, source, created_at,
                        updated_at)
                   SELECT first_name, last_name, upper(email), replace(phone, ' ', '-'),
                        title, company_name, company_id, owner_id, tags, 'bench-copy-' || id,
                        now(), now()
                   FROM contacts WHERE id % 100 = 0 AND :fresh"""
            ),
            {"fresh": not already},
        )
        planted = [
            (int(row.original), int(row.copy))
            for row in conn.execute(
                text(
                    "SELECT original, id AS copy FROM (SELECT id, CAST(substr(source, 12) "
                    "AS bigint) AS original FROM contacts WHERE source LIKE 'bench-copy-%') c "
                    "WHERE original <> id ORDER BY id"
                )
            )
        ]
        conn.execute(
            text(
                """INSERT INTO companies (name, domain, industry, size, owner_id, tags,
                        created_at, updated_at)
                   SELECT name || ' Inc.', domain, industry, size, owner_id, tags, now(), now()
                   FROM companies WHERE id % 100 = 0 AND :fresh"""
            ),
            {"fresh": not already},
        )
        companies = [
            (int(row.original), int(row.copy))
            for row in conn.execute(
                text(
                    "SELECT a.id AS original, b.id AS copy FROM companies a JOIN companies b "
                    "ON b.domain = a.domain AND b.name = a.name || ' Inc.' ORDER BY b.id"
                )
            )
        ]
        conn.execute(
            text(
                "UPDATE usage_counters SET used = (SELECT count(*) FROM contacts) "
                "WHERE resource = 'contacts'"
            )
        )
        conn.commit()
        conn.begin()
        bind_connection(conn, ref)
        conn.execute(text("ANALYZE contacts"))
        conn.execute(text("ANALYZE companies"))
        conn.commit()
    return planted, companies


def rep_token(app: Any, seeded: SeededWorkspace) -> tuple[int, str]:
    """A sales rep of the workspace and a new API token for them."""
    from app.database import db
    from app.identity.models import User
    from app.identity.services import create_api_token
    from tenants.models import Tenant

    with app.app_context():
        tenant = db.session.get(Tenant, seeded.tenant_id)
        rep_id = seeded.member_ids[1]
        user = db.session.get(User, rep_id)
        assert tenant is not None and user is not None
        secret = create_api_token(db.session, tenant=tenant, user=user, actor="bench").secret
        db.session.commit()
        db.session.remove()
        return rep_id, secret


def main() -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes")
    parser.add_argument("--requests", type=int, default=40, help="timed pages per figure")
    parser.add_argument("--merges", type=int, default=20, help="timed merges")
    parser.add_argument(
        "--reuse", metavar="URL", help="a database seeded earlier (crm_seed.py --keep)"
    )
    args = parser.parse_args()
    rng = random.Random(11)
    if args.reuse:
        from app.embedded import to_sqlalchemy_url

        app = bench_app(to_sqlalchemy_url(args.reuse))
        measure(app, reused_workspace(app, args.scale), args, rng, args.reuse)
        return
    with scratch_database(args) as scratch:
        app = bench_app(scratch.url)
        seeded = seed_workspace(app, Sizes().scaled(args.scale))
        measure(app, seeded, args, rng, scratch.libpq_uri)


def measure(app: Any, seeded: SeededWorkspace, args: Any, rng: random.Random, db_uri: str) -> None:
    from app.duplicates.finder import SCAN_LIMITS, encode_cursor

    planted, planted_companies = plant(app, seeded)
    rep_id, rep_secret = rep_token(app, seeded)
    client = app.test_client()
    base = f"http://{seeded.slug}.{SERVER_NAME}"

    def get(path: str, token: str, **query: Any) -> Any:
        return client.get(
            path, base_url=base, headers={"Authorization": f"Bearer {token}"}, query_string=query
        )

    top = {"contact": seeded.sizes.contacts, "company": seeded.sizes.companies}
    pages: dict[str, list[float]] = {}
    for entity, plural in (("contact", "contacts"), ("company", "companies")):
        for who, token in (("owner", seeded.token), ("rep", rep_secret)):
            path = f"/api/v1/{plural}/duplicates"
            for _ in range(3):
                get(path, token, limit=50)
            pages[f"{plural}_{who}"] = [
                timed(
                    lambda p=path, t=token, e=entity: get(
                        p, t, limit=50, cursor=encode_cursor(e, rng.randrange(1, top[e]), 0)
                    )
                )
                for _ in range(args.requests)
            ]

    # The whole walk of the owner's suggestions: every planted pair must be among them.
    walks: dict[str, dict[str, Any]] = {}
    for plural, wanted in (("contacts", planted), ("companies", planted_companies)):
        progress = Progress(f"walk {plural}", 1)
        found: set[tuple[int, int]] = set()
        walk_pages, cursor = 0, None
        started = time.perf_counter()
        while True:
            query: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            response = get(f"/api/v1/{plural}/duplicates", seeded.token, **query)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            body = response.get_json()
            walk_pages += 1
            found |= {(item["ids"][0], item["ids"][1]) for item in body["items"]}
            cursor = body["next_cursor"]
            if cursor is None:
                break
        progress.update(1)
        walks[plural] = {
            "pages": walk_pages,
            "seconds": round(time.perf_counter() - started, 1),
            "pairs": len(found),
            "missed_planted": len([pair for pair in wanted if pair not in found]),
        }

    # Merging planted pairs (each copy into its original).
    merge_ms = [
        timed(
            lambda k=keep, o=other: client.post(
                f"/api/v1/contacts/{k}/merge",
                base_url=base,
                headers={"Authorization": f"Bearer {seeded.token}"},
                # The copy's marker stays off the kept contact.
                json={"other_id": o, "fields": {"source": "keep"}},
            )
        )
        for keep, other in rng.sample(planted, min(args.merges, len(planted)))
    ]

    figures: dict[str, Any] = {
        "sizes": seeded.sizes.__dict__,
        "scan_limits": SCAN_LIMITS,
        "planted_contact_pairs": len(planted),
        "planted_company_pairs": len(planted_companies),
        **{f"{name}_p50_ms": round(median(v), 1) for name, v in pages.items()},
        **{f"{name}_p95_ms": round(percentile(v, 95), 1) for name, v in pages.items()},
        "walks": walks,
        "merge_p50_ms": round(median(merge_ms), 1),
        "merge_p95_ms": round(percentile(merge_ms, 95), 1),
        "machine": {**machine_notes(db_uri), "scale": args.scale},
    }
    lines = [
        f"sizes: {seeded.sizes}; planted {len(planted)} contact pairs, "
        f"{len(planted_companies)} company pairs; rep {rep_id}",
        *(
            f"{name} page from a random place ({len(v)}): p50 {median(v):.1f} ms, "
            f"p95 {percentile(v, 95):.1f} ms (target p95 <= {PAGE_TARGET_MS:.0f} ms)"
            for name, v in pages.items()
        ),
        *(
            f"whole walk of the owner's {plural}: {w['pages']} pages of up to 200, "
            f"{w['seconds']} s, {w['pairs']} pairs, planted pairs missed: {w['missed_planted']}"
            for plural, w in walks.items()
        ),
        f"merge ({len(merge_ms)}): p50 {median(merge_ms):.1f} ms, "
        f"p95 {percentile(merge_ms, 95):.1f} ms (target p95 <= {MERGE_TARGET_MS:.0f} ms)",
    ]
    passed = (
        all(percentile(v, 95) <= PAGE_TARGET_MS for v in pages.values())
        and not any(w["missed_planted"] for w in walks.values())
        and percentile(merge_ms, 95) <= MERGE_TARGET_MS
    )
    report("duplicates", lines, figures, passed)


if __name__ == "__main__":
    main()
