"""Read paths of a large workspace: the contact list, search, and a client card's
timeline, on the issue's volumes (1,000,000 contacts, 200,000 companies, 300,000 deals,
3,000,000 activities; ``bench/crm_seed.py`` generates them).

Each figure is server time: the request through the whole WSGI stack in-process (Flask
test client, bearer token), after a few untimed warm-up requests.

- contact list: ``GET /api/v1/contacts?owner_id=<member>&sort=last_name&limit=50``,
  following ``next_cursor`` for a few pages, over every member (target p95 <= 30 ms);
- search: ``GET /api/v1/contacts?q=...`` by last name, email and phone digits (target
  p95 <= 30 ms);
- timeline: the first page of ``GET /api/v1/contacts/<id>/timeline`` for the contact with
  a 1,000-entry history (target <= 50 ms), when that endpoint exists.

    .venv/bin/python bench/crm_reads.py [--scale 1.0] [--requests 200]
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from crm_seed import SeededWorkspace, Sizes, seed_workspace
from harness import (
    SERVER_NAME,
    argument_parser,
    bench_app,
    machine_notes,
    median,
    percentile,
    report,
    scratch_database,
)

LIST_TARGET_MS = 30.0
SEARCH_TARGET_MS = 30.0
TIMELINE_TARGET_MS = 50.0


def timed(call: Callable[[], Any], expect: int = 200) -> float:
    """Milliseconds one request took; fails loudly on an unexpected status."""
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != expect:
        raise RuntimeError(f"{response.status_code}: {response.get_data(as_text=True)[:500]}")
    return elapsed


def main() -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per figure")
    parser.add_argument(
        "--searches", type=int, default=30, help="timed searches (each kind; they are slow)"
    )
    parser.add_argument(
        "--reuse",
        metavar="URL",
        help="measure a database seeded earlier (crm_seed.py --keep) instead of seeding",
    )
    args = parser.parse_args()
    rng = random.Random(7)
    if args.reuse:
        from app.embedded import to_sqlalchemy_url

        url = to_sqlalchemy_url(args.reuse)
        app = bench_app(url)
        measure(app, reused_workspace(app, args.scale), args, rng, args.reuse)
        return
    with scratch_database(args) as scratch:
        app = bench_app(scratch.url)
        seeded: SeededWorkspace = seed_workspace(app, Sizes().scaled(args.scale))
        measure(app, seeded, args, rng, scratch.libpq_uri)


def reused_workspace(app: Any, scale: float) -> SeededWorkspace:
    """The seeded workspace of a kept database, with a new API token for its owner."""
    from sqlalchemy import select

    from app.database import db
    from app.identity.models import Membership, User
    from app.identity.services import create_api_token
    from tenants.models import Tenant

    with app.app_context():
        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == "bigco")).one()
        owner = db.session.scalars(select(User).where(User.email == "owner@bigco.example")).one()
        members = db.session.scalars(
            select(Membership.user_id).where(Membership.tenant_id == tenant.id)
        ).all()
        token = create_api_token(db.session, tenant=tenant, user=owner, actor="bench").secret
        db.session.commit()
        seeded = SeededWorkspace(
            tenant_id=tenant.id,
            slug=tenant.slug,
            schema=tenant.schema_name or "",
            owner_email=owner.email,
            owner_id=owner.id,
            member_ids=tuple(sorted(members)),
            token=token,
            busy_contact_id=1,
            sizes=Sizes().scaled(scale),
        )
        db.session.remove()
        return seeded


def measure(app: Any, seeded: SeededWorkspace, args: Any, rng: random.Random, db_uri: str) -> None:
    """Time the three read paths and print the report."""
    client = app.test_client()
    base = f"http://{seeded.slug}.{SERVER_NAME}"
    auth = {"Authorization": f"Bearer {seeded.token}"}

    def get(path: str, **query: Any) -> Any:
        return client.get(path, base_url=base, headers=auth, query_string=query)

    # The contact list: one filter, one sort, a few pages deep.
    list_ms: list[float] = []
    for _ in range(10):
        get("/api/v1/contacts", owner_id=seeded.member_ids[0], sort="last_name", limit=50)
    while len(list_ms) < args.requests:
        owner = rng.choice(seeded.member_ids)
        cursor: str | None = None
        for _page in range(5):
            query: dict[str, Any] = {"owner_id": owner, "sort": "last_name", "limit": 50}
            if cursor:
                query["cursor"] = cursor
            started = time.perf_counter()
            response = get("/api/v1/contacts", **query)
            list_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            body = response.get_json()
            assert len(body["items"]) == 50
            cursor = body["next_cursor"]

    # Search by name, email and phone digits.
    n = seeded.sizes.contacts
    terms: list[str] = []
    for _ in range(args.searches):
        g = rng.randrange(1, n + 1)
        terms.append(rng.choice(("Kowalski", "Hovhannisyan", "Nguyen", "Tanaka")))
        terms.append(f".{g}@mail.example")
        terms.append(f"555 {g % 10_000_000:07d}"[-7:])
    for term in terms[:5]:
        get("/api/v1/contacts", q=term, limit=50)
    search_ms = [timed(lambda t=term: get("/api/v1/contacts", q=t, limit=50)) for t in terms]

    # A client card's history, first page.
    timeline_ms: list[float] = []
    path = f"/api/v1/contacts/{seeded.busy_contact_id}/timeline"
    if get(path).status_code == 200:
        for _ in range(5):
            get(path)
        timeline_ms = [timed(lambda: get(path)) for _ in range(args.requests)]

    figures: dict[str, Any] = {
        "sizes": seeded.sizes.__dict__,
        "list_p50_ms": round(median(list_ms), 1),
        "list_p95_ms": round(percentile(list_ms, 95), 1),
        "search_p50_ms": round(median(search_ms), 1),
        "search_p95_ms": round(percentile(search_ms, 95), 1),
        "machine": machine_notes(db_uri),
    }
    lines = [
        f"sizes: {seeded.sizes}",
        f"contact list, owner filter, sorted, 50 rows, 5 pages deep ({len(list_ms)}): "
        f"p50 {median(list_ms):.1f} ms, p95 {percentile(list_ms, 95):.1f} ms "
        f"(target p95 <= {LIST_TARGET_MS:.0f} ms)",
        f"search by name, email or phone ({len(search_ms)}): p50 {median(search_ms):.1f} "
        f"ms, p95 {percentile(search_ms, 95):.1f} ms (target p95 <= {SEARCH_TARGET_MS:.0f})",
    ]
    passed = (
        percentile(list_ms, 95) <= LIST_TARGET_MS and percentile(search_ms, 95) <= SEARCH_TARGET_MS
    )
    if timeline_ms:
        figures["timeline_p50_ms"] = round(median(timeline_ms), 1)
        figures["timeline_p95_ms"] = round(percentile(timeline_ms, 95), 1)
        lines.append(
            f"timeline first page, {seeded.sizes.busy_timeline}-entry history "
            f"({len(timeline_ms)}): p50 {median(timeline_ms):.1f} ms, "
            f"p95 {percentile(timeline_ms, 95):.1f} ms (target <= {TIMELINE_TARGET_MS:.0f})"
        )
        passed = passed and percentile(timeline_ms, 95) <= TIMELINE_TARGET_MS
    else:
        lines.append("timeline: no timeline endpoint yet, not measured")
    figures["machine"]["scale"] = args.scale
    report("crm_reads", lines, figures, passed)


if __name__ == "__main__":
    main()
