"""The demo operator and demo workspace created by ``crm run`` on first start."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from app.contacts.models import Contact
from app.database import DbSession
from app.identity.services import add_member, get_or_create_user
from app.operators.models import Operator
from app.operators.services import create_operator
from tenants.context import TenantRef
from tenants.models import Tenant
from tenants.provisioning import provision_tenant

DEMO_SLUG = "demo"
DEMO_OWNER = ("owner@demo.example", "demo-password")
DEMO_REP = ("rep@demo.example", "demo-password")
DEMO_OPERATOR = ("operator@example.com", "operator-password")

_FIRST = [
    "Anna",
    "Ben",
    "Chloe",
    "Daniel",
    "Elif",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pedro",
    "Qiu",
    "Rosa",
    "Sami",
    "Tara",
]
_LAST = [
    "Berg",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Silva",
    "Tanaka",
]
_COMPANIES = [
    "Northwind",
    "Contoso",
    "Globex",
    "Initech",
    "Umbrella Windows",
    "Stark Glass",
    "Acme Doors",
    None,
    None,
]


def sample_contacts(owner_id: int, count: int = 40, seed: int = 7) -> list[dict[str, Any]]:
    """Plausible, deterministic sample contacts."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not security
    rows = []
    for i in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        company = rng.choice(_COMPANIES)
        rows.append(
            {
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}{i}@example.com".lower(),
                "phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                "title": rng.choice(["CEO", "Buyer", "Office manager", "CTO", None]),
                "company_name": company,
                "owner_id": owner_id,
                "created_by_id": owner_id,
            }
        )
    return rows


def seed_demo(session: DbSession, engine: Engine) -> bool:
    """Create the demo operator and workspace if missing; True if anything was created."""
    created = False
    if session.scalar(select(Operator.id).limit(1)) is None:
        create_operator(session, email=DEMO_OPERATOR[0], password=DEMO_OPERATOR[1], actor="demo")
        session.commit()
        created = True
    if session.scalar(select(Tenant.id).where(Tenant.slug == DEMO_SLUG)) is None:
        owner = get_or_create_user(
            session, email=DEMO_OWNER[0], password=DEMO_OWNER[1], name="Demo Owner", verified=True
        )
        session.commit()

        def add_contacts(conn: Connection, _ref: TenantRef) -> None:
            conn.execute(insert(Contact), sample_contacts(owner.id))

        provision_tenant(
            engine,
            slug=DEMO_SLUG,
            name="Demo Windows Ltd",
            owner_user_id=owner.id,
            plan="pro",
            actor="demo",
            after_create=add_contacts,
        )
        tenant = session.scalars(select(Tenant).where(Tenant.slug == DEMO_SLUG)).one()
        add_member(
            session,
            tenant=tenant,
            email=DEMO_REP[0],
            password=DEMO_REP[1],
            role="sales_rep",
            actor="demo",
        )
        session.commit()
        created = True
    return created
