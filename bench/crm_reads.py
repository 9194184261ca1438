"""Read paths of a large workspace: the contact list, search, and a client card's
timeline, on the issue's volumes (1,000,000 contacts, 200,000 companies, 300,000 deals,
3,000,000 activities; ``bench/crm_seed.py`` generates them).

Each figure is server time: the request through the whole WSGI stack in-process (Flask
test client, bearer token), after a few untimed warm-up requests.

- contact list: ``GET /api/v1/contacts?owner_id=<member>&sort=last_name&limit=50``,
  following ``next_cursor`` for a few pages, over every member (target p95 <= 30 ms);
- search: ``GET /api/v1/search?q=...&limit=5`` (the navigation's typeahead) by name,
  email and phone number, many distinct searches drawn from random contacts and typed in
  several ways (target p95 <= 30 ms for each), and names with two letters swapped (typo
  tolerance, no target); plus the contact list's own ``q`` filter for comparison;
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
# Searches with a target; "typo" (two letters swapped) is measured without one.
SEARCH_KINDS = ("name", "email", "phone")
TIMELINE_TARGET_MS = 50.0


def timed(call: Callable[[], Any], expect: int = 200) -> float:
    """Milliseconds one request took; fails loudly on an unexpected status."""
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != expect:
        raise RuntimeError(f"{response.status_code}: {response.get_data(as_text=True)[:500]}")
    return elapsed


def search_terms(
    app: Any, seeded: SeededWorkspace, n: int, rng: random.Random
) -> dict[str, list[str]]:
    """``n`` distinct searches of each kind, drawn from random contacts of the workspace,
    typed the ways people type them: names whole, last name first, by their start;
    emails whole or by their start; phone numbers formatted, bare, or by their last
    digits; and (no target) names with two letters swapped."""
    from sqlalchemy import select

    from app.contacts.models import Contact
    from app.database import db
    from tenants.context import TenantRef, tenant_context

    ref = TenantRef(id=seeded.tenant_id, slug=seeded.slug, schema_name=seeded.schema)
    ids = rng.sample(range(1, seeded.sizes.contacts + 1), min(4 * n, seeded.sizes.contacts))
    with app.app_context(), tenant_context(ref):
        rows = db.session.execute(
            select(Contact.first_name, Contact.last_name, Contact.email, Contact.phone).where(
                Contact.id.in_(ids)
            )
        ).all()
        db.session.remove()
    rng.shuffle(rows)
    names = [
        lambda first, last: f"{first} {last}",
        lambda first, last: last,
        lambda first, last: f"{last} {first}".lower(),
        lambda first, last: f"{first} {last[:2]}",
        lambda first, last: first[: max(2, len(first) - 1)],
    ]
    emails = [
        lambda e: e,
        lambda e: e.upper(),
        lambda e: e.split("@")[0][: max(3, len(e.split("@")[0]) - 2)],
    ]
    phones = [
        lambda p, d: p,  # as stored, "+1 555 0123456"
        lambda p, d: d[-10:],  # the national number, bare
        lambda p, d: f"({d[-10:-7]}) {d[-7:-4]}-{d[-4:]}",  # (555) 012-3456
        lambda p, d: d[-7:],  # the last digits
    ]
    terms: dict[str, list[str]] = {"name": [], "email": [], "phone": [], "typo": []}
    for i, (first, last, email, phone) in enumerate(rows):
        terms["name"].append(names[i % len(names)](first, last))
        if email:
            terms["email"].append(emails[i % len(emails)](email))
        if phone:
            digits = "".join(ch for ch in phone if ch.isdigit())
            terms["phone"].append(phones[i % len(phones)](phone, digits))
        if len(last) >= 4:
            at = rng.randrange(1, len(last) - 2)
            swapped = last[:at] + last[at + 1] + last[at] + last[at + 2 :]
            if swapped != last:  # "Rossi" with its two s swapped is no typo
                terms["typo"].append(f"{first} {swapped}")
    return {kind: list(dict.fromkeys(values))[:n] for kind, values in terms.items()}


def main() -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per figure")
    parser.add_argument("--searches", type=int, default=200, help="timed searches of each kind")
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
    owner_list_ms: list[float] = []
    for _ in range(10):
        get("/api/v1/contacts", owner_id=seeded.member_ids[0], sort="last_name", limit=50)
    while len(owner_list_ms) < args.requests:
        owner = rng.choice(seeded.member_ids)
        cursor: str | None = None
        for _page in range(5):
            query: dict[str, Any] = {"owner_id": owner, "sort": "last_name", "limit": 50}
            if cursor:
                query["cursor"] = cursor
            started = time.perf_counter()
            response = get("/api/v1/contacts", **query)
            owner_list_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            body = response.get_json()
            assert len(body["items"]) == 50
            cursor = body["next_cursor"]

    # Search: the box in the navigation, as its typeahead asks (5 hits per kind).
    searches = search_terms(app, seeded, args.searches, rng)
    for kind in SEARCH_KINDS:
        for term in searches[kind][:3]:
            get("/api/v1/search", q=term, limit=5)
    search_ms = {
        kind: [timed(lambda t=term: get("/api/v1/search", q=t, limit=5)) for term in terms]
        for kind, terms in searches.items()
    }
    # The contact list's own q filter (a substring anywhere, every match sorted): shown
    # for comparison with the figure before search was built, no target of its own.
    list_terms = [t for t in searches["name"] if " " not in t][: max(1, args.searches // 10)]
    list_ms = [timed(lambda t=t: get("/api/v1/contacts", q=t, limit=50)) for t in list_terms]

    # A client card's history, first page.
    timeline_ms: list[float] = []
    path = f"/api/v1/contacts/{seeded.busy_contact_id}/timeline"
    if get(path).status_code == 200:
        for _ in range(5):
            get(path)
        timeline_ms = [timed(lambda: get(path)) for _ in range(args.requests)]

    figures: dict[str, Any] = {
        "sizes": seeded.sizes.__dict__,
        "list_p50_ms": round(median(owner_list_ms), 1),
        "list_p95_ms": round(percentile(owner_list_ms, 95), 1),
        "machine": machine_notes(db_uri),
    }
    lines = [
        f"sizes: {seeded.sizes}",
        f"contact list, owner filter, sorted, 50 rows, 5 pages deep ({len(owner_list_ms)}): "
        f"p50 {median(owner_list_ms):.1f} ms, p95 {percentile(owner_list_ms, 95):.1f} ms "
        f"(target p95 <= {LIST_TARGET_MS:.0f} ms)",
    ]
    passed = percentile(owner_list_ms, 95) <= LIST_TARGET_MS
    for kind, timings in search_ms.items():
        p50, p95 = median(timings), percentile(timings, 95)
        figures[f"search_{kind}_p50_ms"] = round(p50, 1)
        figures[f"search_{kind}_p95_ms"] = round(p95, 1)
        target = SEARCH_TARGET_MS if kind in SEARCH_KINDS else None
        goal = f"target p95 <= {target:.0f} ms" if target else "no target: typo tolerance"
        lines.append(
            f"search by {kind} ({len(timings)}, e.g. {searches[kind][0]!r}): "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms ({goal})"
        )
        if target is not None:
            passed = passed and p95 <= target
    figures["list_q_p50_ms"] = round(median(list_ms), 1)
    figures["list_q_p95_ms"] = round(percentile(list_ms, 95), 1)
    lines.append(
        f"contact list with q (substring, {len(list_ms)}): p50 {median(list_ms):.1f} ms, "
        f"p95 {percentile(list_ms, 95):.1f} ms (for comparison, no target)"
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
