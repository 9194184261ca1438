"""A large workspace for the CRM benchmarks, generated inside PostgreSQL.

``seed_workspace`` provisions one Enterprise workspace with ``members`` sales people,
then fills it with ``generate_series`` inserts, in chunks, with progress on stderr:
companies, contacts (most linked to a company), deals (spread over the default
pipeline's stages), activities (calls, meetings, emails, tasks and notes on contacts),
and a timeline event for every contact and every activity, as the services would have
written them. One contact, the "busy" one, gets ``busy_timeline`` extra activities so
that its card has a long history. Usage counters are reconciled and every table
analysed at the end.

Default sizes are the issue's: 1,000,000 contacts, 200,000 companies, 300,000 deals and
3,000,000 activities; ``--scale 0.01`` makes a quick, small one.

    .venv/bin/python bench/crm_seed.py --scale 0.01 --keep   # a seeded database to explore
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness import PASSWORD, Progress, argument_parser, bench_app, scratch_database

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Anna",
    "Boris",
    "Carla",
    "Chen",
    "David",
    "Elena",
    "Emma",
    "Farid",
    "Grace",
    "Hana",
    "Ivan",
    "Jana",
    "Jonas",
    "Karim",
    "Lena",
    "Lucas",
    "Maria",
    "Mateo",
    "Mei",
    "Nadia",
    "Nina",
    "Omar",
    "Paula",
    "Pedro",
    "Priya",
    "Rosa",
    "Sara",
    "Sofia",
    "Tariq",
    "Vera",
    "Yusuf",
    "Zoe",
    "Arman",
    "Ani",
    "Bat",
    "Saran",
    "Dariush",
    "Shirin",
]
LAST_NAMES = [
    "Smith",
    "Garcia",
    "Muller",
    "Rossi",
    "Petrov",
    "Kim",
    "Nguyen",
    "Cohen",
    "Haddad",
    "Sato",
    "Novak",
    "Silva",
    "Jensen",
    "Kowalski",
    "Ivanova",
    "Hovhannisyan",
    "Bat-Erdene",
    "Ahmadi",
    "Rahimi",
    "Dubois",
    "Martin",
    "Lopez",
    "Schmidt",
    "Costa",
    "Popescu",
    "Horvath",
    "Yilmaz",
    "Khan",
    "Singh",
    "Tanaka",
    "Lindqvist",
    "OBrien",
    "Murphy",
    "Walsh",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
]
INDUSTRIES = ("Software", "Retail", "Construction", "Finance", "Health", "Logistics", "Energy")
TYPES = ("call", "meeting", "email", "task", "note")


@dataclass(frozen=True)
class Sizes:
    """How much to generate."""

    contacts: int = 1_000_000
    companies: int = 200_000
    deals: int = 300_000
    activities: int = 3_000_000
    busy_timeline: int = 1_000

    def scaled(self, factor: float) -> Sizes:
        return Sizes(
            contacts=max(100, int(self.contacts * factor)),
            companies=max(20, int(self.companies * factor)),
            deals=max(30, int(self.deals * factor)),
            activities=max(300, int(self.activities * factor)),
            busy_timeline=self.busy_timeline,
        )


@dataclass(frozen=True)
class SeededWorkspace:
    """What the benchmarks need to know about the seeded workspace."""

    tenant_id: int
    slug: str
    schema: str
    owner_email: str
    owner_id: int
    member_ids: tuple[int, ...]
    token: str
    busy_contact_id: int
    sizes: Sizes


def _array(values: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _chunks(
    conn: Any, bind: Any, label: str, total: int, statement: str, chunk: int = 100_000
) -> None:
    """Run ``statement`` (with :lo and :hi bounds of generate_series) in chunks, each
    its own transaction (``bind`` sets the tenant's search path in it)."""
    from sqlalchemy import text

    progress = Progress(label, total)
    done = 0
    while done < total:
        hi = min(total, done + chunk)
        bind()
        conn.execute(text(statement), {"lo": done + 1, "hi": hi})
        conn.commit()
        done = hi
        progress.update(done)


def seed_workspace(app: Any, sizes: Sizes, members: int = 10) -> SeededWorkspace:
    """Provision the workspace and fill it (see the module docstring)."""
    from sqlalchemy import text

    from app.database import db
    from app.identity.models import User
    from app.identity.services import add_member, create_api_token, get_or_create_user
    from billing.limits import reconcile_tenant
    from tenants.binding import bind_connection
    from tenants.context import tenant_context
    from tenants.models import Tenant
    from tenants.provisioning import provision_tenant

    with app.app_context():
        slug = "bigco"
        owner_email = "owner@bigco.example"
        owner = get_or_create_user(db.session, email=owner_email, password=PASSWORD, name="Owner")
        db.session.commit()
        owner_id = owner.id
        provisioned = provision_tenant(
            db.engine, slug=slug, name="BigCo", owner_user_id=owner.id, plan="enterprise"
        )
        tenant = db.session.get(Tenant, provisioned.id)
        assert tenant is not None
        member_ids = [owner.id]
        for n in range(1, members):
            membership = add_member(
                db.session,
                tenant=tenant,
                email=f"rep{n}@bigco.example",
                password=PASSWORD,
                role="sales_rep",
                actor="bench",
            )
            member_ids.append(membership.user_id)
        db.session.commit()
        user = db.session.get(User, owner.id)
        assert user is not None
        token = create_api_token(db.session, tenant=tenant, user=user, actor="bench").secret
        db.session.commit()
        ref = provisioned.ref
        owners = "ARRAY[" + ",".join(str(i) for i in member_ids) + "]::bigint[]"
        started = time.perf_counter()
        with db.engine.connect() as conn:
            conn.begin()
            bind_connection(conn, ref)
            stages = conn.execute(
                text("SELECT id, pipeline_id, kind FROM stages ORDER BY pipeline_id, position")
            ).all()
            stage_ids = "ARRAY[" + ",".join(str(s.id) for s in stages) + "]::bigint[]"
            stage_kinds = _array([s.kind for s in stages])
            pipeline_id = stages[0].pipeline_id
            n_owners, n_stages = len(member_ids), len(stages)
            n_first, n_last = len(FIRST_NAMES), len(LAST_NAMES)

            def bound() -> None:
                # Each chunk commits; the next transaction needs the search path again.
                if not conn.in_transaction():
                    conn.begin()
                bind_connection(conn, ref)

            _chunks(
                conn,
                bound,
                "companies",
                sizes.companies,
                f"""INSERT INTO companies (name, domain, industry, size, owner_id, tags,
                        created_at, updated_at)
                    SELECT 'Company ' || g, 'company' || g || '.example',
                        ({_array(INDUSTRIES)})[1 + g % {len(INDUSTRIES)}],
                        (ARRAY['1-10','11-50','51-200','201-500'])[1 + g % 4],
                        ({owners})[1 + g % {n_owners}],
                        CASE WHEN g % 10 = 0 THEN ARRAY['key-account']::varchar[]
                             ELSE '{{}}'::varchar[] END,
                        now() - make_interval(mins => g), now() - make_interval(mins => g)
                    FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) g""",
            )
            _chunks(
                conn,
                bound,
                "contacts",
                sizes.contacts,
                f"""INSERT INTO contacts (first_name, last_name, email, phone, title,
                        company_name, company_id, owner_id, tags, created_at, updated_at)
                    SELECT f, l, lower(f) || '.' || lower(l) || '.' || g || '@mail.example',
                        '+1 555 ' || lpad((g % 10000000)::text, 7, '0'),
                        CASE WHEN g % 3 = 0 THEN 'Buyer' END,
                        CASE WHEN g % 5 <> 0 THEN 'Company ' || (1 + g % {sizes.companies}) END,
                        CASE WHEN g % 5 <> 0 THEN 1 + g % {sizes.companies} END,
                        ({owners})[1 + g % {n_owners}],
                        CASE WHEN g % 7 = 0 THEN ARRAY['newsletter']::varchar[]
                             ELSE '{{}}'::varchar[] END,
                        now() - make_interval(secs => g * 30.0),
                        now() - make_interval(secs => g * 30.0)
                    FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) g,
                        LATERAL (
                            SELECT ({_array(FIRST_NAMES)})[1 + (g::bigint * 7919 % {n_first})::int]
                                    AS f,
                                ({_array(LAST_NAMES)})[1 + (g::bigint * 104729 % {n_last})::int]
                                    AS l
                        ) n""",
            )
            _chunks(
                conn,
                bound,
                "deals",
                sizes.deals,
                f"""INSERT INTO deals (title, amount_minor, currency, pipeline_id, stage_id,
                        status, contact_id, company_id, owner_id, stage_entered_at,
                        created_at, updated_at)
                    SELECT 'Deal ' || g, (1000 + (g::bigint * 7907) % 5000000) * 100, 'EUR',
                        {pipeline_id}, ({stage_ids})[1 + g % {n_stages}],
                        ({stage_kinds})[1 + g % {n_stages}],
                        1 + (g::bigint * 13) % {sizes.contacts}, 1 + g % {sizes.companies},
                        ({owners})[1 + g % {n_owners}], now() - make_interval(hours => g % 2000),
                        now() - make_interval(mins => g), now() - make_interval(mins => g)
                    FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) g""",
            )
            _chunks(
                conn,
                bound,
                "activities",
                sizes.activities,
                f"""INSERT INTO activities (type, subject, occurred_at, due_at, done,
                        contact_id, company_id, owner_id, assignee_id, created_at, updated_at)
                    SELECT t, initcap(t) || ' ' || g, now() - make_interval(mins => g),
                        CASE WHEN t = 'task' THEN now() + make_interval(hours => g % 500 - 250) END,
                        t = 'task' AND g % 3 = 0,
                        1 + (g::bigint * 31) % {sizes.contacts},
                        CASE WHEN g % 5 <> 0
                            THEN 1 + ((g::bigint * 31) % {sizes.contacts}) % {sizes.companies} END,
                        o, o, now() - make_interval(mins => g), now() - make_interval(mins => g)
                    FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) g,
                        LATERAL (SELECT ({_array(TYPES)})[1 + g % 5] AS t,
                                        ({owners})[1 + g % {n_owners}] AS o) x""",
            )
            busy = 1
            bound()
            conn.execute(
                text(
                    f"""INSERT INTO activities (type, subject, occurred_at, contact_id, owner_id,
                            created_at, updated_at)
                        SELECT ({_array(TYPES)})[1 + g % 5], 'History ' || g,
                            now() - make_interval(hours => g), :busy, {member_ids[0]},
                            now() - make_interval(hours => g), now()
                        FROM generate_series(1, CAST(:n AS int)) g"""
                ),
                {"busy": busy, "n": sizes.busy_timeline},
            )
            conn.commit()
            _chunks(
                conn,
                bound,
                "timeline (contacts)",
                sizes.contacts,
                """INSERT INTO timeline_events (occurred_at, kind, entity, entity_id, actor_id,
                        contact_id, company_id, data)
                    SELECT created_at, 'created', 'contact', id, owner_id, id, company_id, '{}'
                    FROM contacts WHERE id BETWEEN :lo AND :hi""",
            )
            total_activities = sizes.activities + sizes.busy_timeline
            _chunks(
                conn,
                bound,
                "timeline (activities)",
                total_activities,
                """INSERT INTO timeline_events (occurred_at, kind, entity, entity_id, actor_id,
                        contact_id, company_id, deal_id, activity_id, data)
                    SELECT occurred_at, 'activity', 'activity', id, owner_id, contact_id,
                        company_id, deal_id, id,
                        jsonb_build_object('type', type, 'subject', subject, 'done', done)
                    FROM activities WHERE id BETWEEN :lo AND :hi""",
            )
            bound()
            for table in ("companies", "contacts", "deals", "activities", "timeline_events"):
                conn.execute(text(f"ANALYZE {table}"))
            conn.commit()
        seconds = time.perf_counter() - started
        with tenant_context(ref):
            # The rows came in behind the services' backs: recount (logs the "drift").
            reconcile_tenant(db.session)
        db.session.remove()
        print(f"seeded in {seconds:.0f}s", flush=True)
        return SeededWorkspace(
            tenant_id=ref.id,
            slug=slug,
            schema=ref.schema_name,
            owner_email=owner_email,
            owner_id=owner_id,
            member_ids=tuple(member_ids),
            token=token,
            busy_contact_id=busy,
            sizes=sizes,
        )


def main() -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes")
    args = parser.parse_args()
    sizes = Sizes().scaled(args.scale)
    with scratch_database(args) as scratch:
        app = bench_app(scratch.url)
        seeded = seed_workspace(app, sizes)
        print(seeded)


if __name__ == "__main__":
    main()
