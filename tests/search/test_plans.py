"""The searches use their indexes: every statement the search runs against contacts, and
the lists' ``q`` filter, are answered from an index, never by reading the table.

20,000 contacts (analysed) are enough for the prefix pass to pick its B-trees on its
own, and the plans of the prefix pass are checked as the planner makes them. On a table
this small the planner may rightly prefer reading it whole to a trigram index for a
term it thinks common; so the other plans are asked for with ``enable_seqscan`` off,
which still fails when no index can serve a statement. bench/crm_reads.py shows what the
planner picks on a million contacts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from app.access.policy import actor_for
from app.contacts.models import Contact
from app.contacts.services import search_condition
from app.search.services import SIMILARITY_SETTING, SIMILARITY_THRESHOLD, statements
from tests.api.conftest import tenant_session
from tests.conftest import Factory, TenantFixture

ROWS = 20_000


@pytest.fixture(scope="module")
def big(app: Flask) -> TenantFixture:
    """A workspace with ROWS contacts of varied names, emails and phones, analysed."""
    tf = Factory(app).tenant("plans", name="Plans Co")
    with tenant_session(app, tf) as session:
        session.execute(
            text(
                """INSERT INTO contacts (first_name, last_name, email, phone, company_name,
                       owner_id)
                   SELECT 'First' || (g % 997), 'Last' || g,
                          'person' || g || '@example' || (g % 50) || '.test',
                          '+1 (555) ' || lpad(g::text, 7, '0'),
                          CASE WHEN g % 3 = 0 THEN 'Company ' || (g % 101) END,
                          :owner
                   FROM generate_series(1, :rows) g"""
            ),
            {"owner": tf.owner_id, "rows": ROWS},
        )
        session.commit()
        session.execute(text("ANALYZE contacts"))
        session.commit()
    return tf


def explain(session: Any, sql: str, params: Any, *, seqscan: bool, analyze: bool) -> str:
    connection = session.connection()
    connection.exec_driver_sql(f"SET LOCAL enable_seqscan = {'on' if seqscan else 'off'}")
    rows = connection.exec_driver_sql(
        ("EXPLAIN (ANALYZE) " if analyze else "EXPLAIN ") + sql, params
    ).all()
    return "\n".join(row[0] for row in rows)


def contact_plan(
    app: Flask,
    tf: TenantFixture,
    q: str,
    *,
    similar: bool = False,
    seqscan: bool = False,
    analyze: bool = False,
) -> str:
    """The plan of the statement a search for ``q`` runs on contacts."""
    with app.test_request_context(), tenant_session(app, tf) as session:
        actor = actor_for(tf.owner_id, "owner")
        (contact,) = [
            s for s in statements(session, actor, q, similar=similar) if s.kind == "contact"
        ]
        if similar:
            session.connection().exec_driver_sql(
                SIMILARITY_SETTING, {"t": str(SIMILARITY_THRESHOLD)}
            )
        return explain(session, contact.sql, contact.params, seqscan=seqscan, analyze=analyze)


@pytest.mark.parametrize(
    ("q", "similar", "indexes"),
    [
        # A name, by its start; or last name first.
        ("first12 last", False, {"ix_contacts_name_prefix", "ix_contacts_last_first_prefix"}),
        # An email exactly; pass 2, if it ran, would ask the trigram index.
        ("person123@example23.test", False, {"ix_contacts_email_lower", "ix_contacts_search_text"}),
        # Nothing starts with it: the trigram index finds it inside the email.
        ("son4567@", False, {"ix_contacts_search_text"}),
        # A phone number: by its end, then by its digits anywhere.
        ("555 0012345", False, {"ix_contacts_phone_suffix", "ix_contacts_phone_digits"}),
        # A typo: the similarity search.
        ("lastt12345", True, {"ix_contacts_search_text"}),
    ],
)
def test_search_statements_use_the_indexes(
    app: Flask, big: TenantFixture, q: str, similar: bool, indexes: set[str]
) -> None:
    plan = contact_plan(app, big, q, similar=similar)
    for index in indexes:
        assert index in plan, plan
    assert "Seq Scan on contacts" not in plan, plan


def test_the_prefix_pass_picks_its_indexes_by_itself(app: Flask, big: TenantFixture) -> None:
    plan = contact_plan(app, big, "first12", seqscan=True, analyze=True)
    assert "ix_contacts_name_prefix" in plan and "ix_contacts_last_first_prefix" in plan
    # Pass 2 is in the statement, behind its gate: five found, so it never ran.
    scans = [line for line in plan.splitlines() if "Seq Scan" in line or "Bitmap" in line]
    assert scans and all("never executed" in line for line in scans), plan


def test_an_exact_email_stops_there(app: Flask, big: TenantFixture) -> None:
    plan = contact_plan(app, big, "person123@example23.test", seqscan=True, analyze=True)
    # PostgreSQL 16 prints the gate as "($1 = 0)", 17 and later as "((InitPlan 1).col1 = 0)".
    assert re.search(r"One-Time Filter: .*= 0\)", plan), plan
    scans = [line for line in plan.splitlines() if "Seq Scan" in line or "Bitmap" in line]
    assert all("never executed" in line for line in scans), plan


@pytest.mark.parametrize(
    ("q", "index"),
    [("last12345", "ix_contacts_search_text"), ("0012345", "ix_contacts_phone_digits")],
)
def test_the_list_filter_uses_the_trigram_indexes(
    app: Flask, big: TenantFixture, q: str, index: str
) -> None:
    stmt = select(Contact.id).where(search_condition(q))
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with tenant_session(app, big) as session:
        plan = explain(session, sql, None, seqscan=False, analyze=False)
        found = session.scalars(stmt).all()
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan
    assert len(found) >= 1
