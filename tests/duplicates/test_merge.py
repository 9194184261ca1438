"""Merging contacts and companies: every relation of both records survives, values are
chosen field by field, and refusals change nothing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from app.access.policy import Actor, actor_for
from app.activities.models import Activity
from app.activities.services import create_activity
from app.audit.models import AuditEntry
from app.comments.models import Comment
from app.comments.services import create_comment, get_visible_card
from app.companies.models import Company
from app.companies.services import create_company
from app.contacts.models import Contact
from app.contacts.services import create_contact
from app.database import db
from app.deals.models import Deal
from app.deals.services import create_deal
from app.duplicates.services import (
    COMPANY_MERGE,
    CONTACT_MERGE,
    MergeConflict,
    field_choices,
    merge_companies,
    merge_contacts,
    relation_counts,
)
from app.errors import InvalidInput
from app.timeline.models import TimelineEvent
from billing.models import UsageCounter
from tenants.context import tenant_context
from tests.api.conftest import tenant_session
from tests.conftest import Factory, TenantFixture
from tests.duplicates.conftest import owner_actor


@dataclass
class Pair:
    """Two records and what hangs off each (ids)."""

    keep: int
    other: int
    activities: set[int]
    deals: set[int]
    comments: set[int]
    events: set[int]


def _usage(session: Any) -> int:
    return int(session.scalar(select(UsageCounter.used).where(UsageCounter.resource == "contacts")))


def _events(session: Any, column: Any, record_id: int) -> set[int]:
    return set(session.scalars(select(TimelineEvent.id).where(column == record_id)))


def _contact_pair(app: Flask, tf: TenantFixture) -> Pair:
    """Ann Lee twice: as typed by two colleagues, each with a history of their own."""
    actor = owner_actor(tf)
    with tenant_session(app, tf) as session:
        company = create_company(session, actor, {"name": "Initech"})
        keep = create_contact(
            session,
            actor,
            {
                "first_name": "Ann",
                "last_name": "Lee",
                "email": "ann@initech.example",
                "company_id": company.id,
                "tags": ["VIP"],
                "notes": "Met at the fair.",
            },
        )
        other = create_contact(
            session,
            actor,
            {
                "first_name": "Anne",
                "last_name": "Lee",
                "phone": "+1 555 0100",
                "title": "CTO",
                "tags": ["vip", "Partner"],
                "notes": "Prefers mail.",
            },
        )
        # Values of custom fields defined at some point (set as stored).
        keep.custom_fields = {"tier": "gold"}
        other.custom_fields = {"tier": "silver", "region": "EMEA"}
        session.commit()
        activities = {
            create_activity(session, actor, {"type": kind, "subject": kind, "contact_id": c}).id
            for kind, c in (("note", keep.id), ("call", other.id), ("task", other.id))
        }
        deals = {
            create_deal(session, actor, {"title": "Keep's", "contact_id": keep.id}).id,
            create_deal(session, actor, {"title": "Other's", "contact_id": other.id}).id,
        }
        comments = {
            create_comment(session, actor, get_visible_card(session, actor, "contact", c), body).id
            for c, body in ((keep.id, "on keep"), (other.id, "on other"))
        }
        events = _events(session, TimelineEvent.contact_id, keep.id) | _events(
            session, TimelineEvent.contact_id, other.id
        )
        return Pair(keep.id, other.id, activities, deals, comments, events)


def _merge(app: Flask, tf: TenantFixture, pair: Pair, choices: dict[str, Any], **kw: Any) -> Any:
    actor: Actor = kw.get("actor") or owner_actor(tf)
    with tenant_session(app, tf) as session:
        keep = session.get(Contact, pair.keep)
        other = session.get(Contact, pair.other)
        return merge_contacts(session, actor, keep, other, choices)


def test_a_contact_merge_keeps_every_relation_of_both(app: Flask, tenant: TenantFixture) -> None:
    pair = _contact_pair(app, tenant)
    with tenant_session(app, tenant) as session:
        before = _usage(session)
        counts = relation_counts(session, CONTACT_MERGE, pair.other)
        other_history = _events(session, TimelineEvent.contact_id, pair.other)
    assert counts == {
        "activities": 2,
        "deals": 1,
        "comments": 1,
        "timeline_events": len(other_history),
    }
    assert len(other_history) >= 5  # created, two activities, the deal, the comment

    _merge(app, tenant, pair, {})

    with tenant_session(app, tenant) as session:
        assert session.get(Contact, pair.other) is None
        kept = session.get(Contact, pair.keep)
        assert kept is not None
        linked = select(Activity.id).where(Activity.contact_id == pair.keep)
        assert set(session.scalars(linked)) == pair.activities
        assert (
            set(session.scalars(select(Deal.id).where(Deal.contact_id == pair.keep))) == pair.deals
        )
        comments = select(Comment.id).where(Comment.contact_id == pair.keep)
        assert set(session.scalars(comments)) == pair.comments
        history = _events(session, TimelineEvent.contact_id, pair.keep)
        assert pair.events < history and len(history) == len(pair.events) + 1
        merged = session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.contact_id == pair.keep, TimelineEvent.kind == "merged"
            )
        ).one()
        assert merged.data["merged"] == {"id": pair.other, "name": "Anne Lee"}
        assert merged.data["moved"] == counts
        # The plan's allowance: one contact fewer.
        assert _usage(session) == before - 1
        # Nothing points at the merged contact any more.
        assert all(
            session.scalar(select(func.count()).select_from(t).where(c == pair.other)) == 0
            for t, c in (
                (Activity, Activity.contact_id),
                (Deal, Deal.contact_id),
                (Comment, Comment.contact_id),
                (TimelineEvent, TimelineEvent.contact_id),
            )
        )
        # Values: keep's where it has one, the other's where it has none, both notes.
        assert (kept.first_name, kept.last_name, kept.email) == (
            "Ann",
            "Lee",
            "ann@initech.example",
        )
        assert (kept.phone, kept.title) == ("+1 555 0100", "CTO")
        assert kept.company_id is not None
        assert kept.notes == "Met at the fair.\n\nPrefers mail."
        assert kept.tags == ["VIP", "Partner"]
        assert kept.custom_fields == {"tier": "gold", "region": "EMEA"}
        # The audit log keeps the merged contact whole, under both ids.
        entries = {
            e.action: e
            for e in session.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity == "contact",
                    AuditEntry.entity_id.in_([pair.keep, pair.other]),
                    AuditEntry.action.in_(["merged", "merged_into"]),
                )
            )
        }
        assert entries["merged"].entity_id == pair.keep
        assert entries["merged"].changes["merged"][0]["first_name"] == "Anne"
        assert entries["merged"].changes["phone"] == [None, "+1 555 0100"]
        assert entries["merged_into"].entity_id == pair.other
        assert entries["merged_into"].changes["record"][0]["title"] == "CTO"
        assert entries["merged_into"].changes["merged_into"] == [None, pair.keep]


def test_chosen_values_win(app: Flask, tenant: TenantFixture) -> None:
    pair = _contact_pair(app, tenant)
    with tenant_session(app, tenant) as session:
        keep, other = session.get(Contact, pair.keep), session.get(Contact, pair.other)
        offered = {c.name: c for c in field_choices(CONTACT_MERGE, keep, other)}
    assert offered["first_name"].default == "keep"
    assert offered["phone"].default == "other"
    assert offered["notes"].default == "both" and offered["notes"].options == (
        "keep",
        "other",
        "both",
    )
    assert offered["custom_fields.tier"].options == ("keep", "other")
    assert "last_name" not in offered  # the same on both

    _merge(
        app,
        tenant,
        pair,
        {
            "first_name": "other",
            "email": "other",
            "phone": "keep",
            "notes": "other",
            "company_id": "other",
            "custom_fields.tier": "other",
            "custom_fields.region": "keep",
            "last_name": "other",  # equal on both: accepted, changes nothing
        },
    )
    with tenant_session(app, tenant) as session:
        kept = session.get(Contact, pair.keep)
        assert kept is not None
        assert (kept.first_name, kept.last_name, kept.email) == ("Anne", "Lee", None)
        assert kept.phone is None and kept.company_id is None
        assert kept.notes == "Prefers mail."
        assert kept.custom_fields == {"tier": "silver"}


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        ({"nickname": "other"}, "fields.nickname"),
        ({"email": "both"}, "fields.email"),
        ({"notes": "mine"}, "fields.notes"),
        ({"custom_fields.nope": "other"}, "fields.custom_fields.nope"),
        ({"tags": "other"}, "fields.tags"),  # tags are always united
        ({"id": "other"}, "fields.id"),
        # No name and no email left.
        ({"first_name": "other", "last_name": "other", "email": "other"}, None),
    ],
)
def test_impossible_choices_change_nothing(
    app: Flask, tenant: TenantFixture, choices: dict[str, Any], field: str | None
) -> None:
    pair = _contact_pair(app, tenant)
    with tenant_session(app, tenant) as session:
        other = session.get(Contact, pair.other)
        assert other is not None
        other.first_name, other.last_name = "", ""
        session.commit()
        before = _usage(session)
    with pytest.raises(InvalidInput) as refused:
        _merge(app, tenant, pair, choices)
    if field is not None:
        assert field in refused.value.details
    else:
        assert "fields.first_name" in refused.value.details
    with tenant_session(app, tenant) as session:
        assert session.get(Contact, pair.other) is not None
        assert _usage(session) == before
        moved = select(Activity.id).where(Activity.contact_id == pair.keep)
        assert len(session.scalars(moved).all()) == 1


def test_too_many_tags_together_are_refused(app: Flask, tenant: TenantFixture) -> None:
    pair = _contact_pair(app, tenant)
    with tenant_session(app, tenant) as session:
        keep, other = session.get(Contact, pair.keep), session.get(Contact, pair.other)
        assert keep is not None and other is not None
        keep.tags = [f"k{n}" for n in range(20)]
        other.tags = [f"o{n}" for n in range(20)]
        session.commit()
    with pytest.raises(InvalidInput) as refused:
        _merge(app, tenant, pair, {})
    assert "tags" in refused.value.details


def test_a_record_is_not_merged_with_itself_nor_with_another_kind(
    app: Flask, tenant: TenantFixture
) -> None:
    pair = _contact_pair(app, tenant)
    actor = owner_actor(tenant)
    with tenant_session(app, tenant) as session:
        contact = session.get(Contact, pair.keep)
        assert contact is not None
        with pytest.raises(InvalidInput) as refused:
            merge_contacts(session, actor, contact, contact, {})
        assert "other_id" in refused.value.details
        company = session.scalars(select(Company)).first()
        with pytest.raises(InvalidInput):
            merge_contacts(session, actor, contact, company, {})  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            merge_companies(session, actor, company, contact, {})  # type: ignore[arg-type]
        assert session.get(Contact, pair.keep) is not None


def test_the_actor_must_be_allowed_to_edit_and_delete(app: Flask, factory: Factory) -> None:
    tenant = factory.tenant("dup", plan="enterprise")
    rep_id, _, _ = factory.member(tenant, role="sales_rep")
    pair = _contact_pair(app, tenant)  # both the owner's
    rep = actor_for(rep_id, "sales_rep")
    with pytest.raises(InvalidInput):
        _merge(app, tenant, pair, {}, actor=rep)
    with tenant_session(app, tenant) as session:
        other = session.get(Contact, pair.other)
        assert other is not None
        other.owner_id = rep_id  # the rep's own now, the kept one still is not
        session.commit()
    with pytest.raises(InvalidInput):
        _merge(app, tenant, pair, {}, actor=rep)
    # A role that may edit every contact but delete none.
    editor = Actor(
        user_id=rep_id,
        role_key="custom",
        permissions={"contacts": {"view": "all", "edit": "all", "delete": "none"}},
    )
    with pytest.raises(InvalidInput):
        _merge(app, tenant, pair, {}, actor=editor)
    with tenant_session(app, tenant) as session:
        assert session.get(Contact, pair.other) is not None


def test_merging_companies_brings_their_contacts_deals_and_history(
    app: Flask, tenant: TenantFixture
) -> None:
    actor = owner_actor(tenant)
    with tenant_session(app, tenant) as session:
        keep = create_company(session, actor, {"name": "Acme", "tags": ["Key"]})
        other = create_company(
            session,
            actor,
            {"name": "ACME Inc.", "domain": "acme.example", "industry": "Tools", "tags": ["B2B"]},
        )
        people = {
            create_contact(session, actor, {"first_name": n, "company_id": cid}).id
            for n, cid in (("Kim", keep.id), ("Ola", other.id), ("Per", other.id))
        }
        deal = create_deal(session, actor, {"title": "Anvils", "company_id": other.id}).id
        call = create_activity(
            session, actor, {"type": "call", "subject": "Hi", "company_id": other.id}
        ).id
        card = get_visible_card(session, actor, "company", other.id)
        assert card is not None
        comment = create_comment(session, actor, card, "Big buyer").id
        history = _events(session, TimelineEvent.company_id, other.id)
        keep_id, other_id = keep.id, other.id
        before = _usage(session)
    with tenant_session(app, tenant) as session:
        kept = merge_companies(
            session,
            actor,
            session.get(Company, keep_id),  # type: ignore[arg-type]
            session.get(Company, other_id),  # type: ignore[arg-type]
            {"name": "other"},
        )
        assert (kept.name, kept.domain, kept.industry) == ("ACME Inc.", "acme.example", "Tools")
        assert kept.tags == ["Key", "B2B"]
    with tenant_session(app, tenant) as session:
        assert session.get(Company, other_id) is None
        staff = select(Contact.id).where(Contact.company_id == keep_id)
        assert set(session.scalars(staff)) == people
        assert session.get(Deal, deal).company_id == keep_id  # type: ignore[union-attr]
        assert session.get(Activity, call).company_id == keep_id  # type: ignore[union-attr]
        assert session.get(Comment, comment).company_id == keep_id  # type: ignore[union-attr]
        assert history < _events(session, TimelineEvent.company_id, keep_id)
        assert _usage(session) == before  # companies are not counted
        merged = session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.company_id == keep_id, TimelineEvent.kind == "merged"
            )
        ).one()
        assert merged.data["moved"]["contacts"] == 2
        assert merged.data["changes"]["name"] == ["Acme", "ACME Inc."]
        # Last contact time: the call that came over counts for the kept company.
        assert session.get(Company, keep_id).last_contacted_at is not None  # type: ignore[union-attr]
        assert relation_counts(session, COMPANY_MERGE, keep_id)["contacts"] == 3


def _wait_for_lock_waiters(app: Flask, n: int) -> None:
    """Until ``n`` transactions wait for a row lock (or ten seconds have passed)."""
    with app.app_context(), db.engine.connect() as conn:
        for _ in range(200):
            waiting = conn.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            conn.rollback()
            if waiting is not None and waiting >= n:
                return
            threading.Event().wait(0.05)


def test_concurrent_merges_of_one_pair_lose_nothing(app: Flask, tenant: TenantFixture) -> None:
    """Both directions at once: one wins, the other finds a record gone and changes
    nothing; every activity ends on the survivor."""
    pair = _contact_pair(app, tenant)
    actor = owner_actor(tenant)
    outcomes: dict[str, str] = {}
    start = threading.Barrier(3)

    def run(name: str, keep_id: int, other_id: int) -> None:
        with app.app_context(), tenant_context(tenant.tenant.ref):
            try:
                keep = db.session.get(Contact, keep_id)
                other = db.session.get(Contact, other_id)
                start.wait()
                merge_contacts(db.session, actor, keep, other, {})  # type: ignore[arg-type]
                outcomes[name] = "merged"
            except MergeConflict:
                db.session.rollback()
                outcomes[name] = "conflict"
            finally:
                db.session.remove()

    # Hold the lower id's row so that both merges queue behind it, then let go.
    with app.app_context(), tenant_context(tenant.tenant.ref):
        blocker = db.session
        blocker.execute(
            text("SELECT id FROM contacts WHERE id = :id FOR UPDATE"),
            {"id": min(pair.keep, pair.other)},
        )
        threads = [
            threading.Thread(target=run, args=("forward", pair.keep, pair.other)),
            threading.Thread(target=run, args=("backward", pair.other, pair.keep)),
        ]
        for thread in threads:
            thread.start()
        start.wait()
        _wait_for_lock_waiters(app, 2)
        blocker.rollback()
        db.session.remove()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["conflict", "merged"], outcomes
    survivor = pair.keep if outcomes["forward"] == "merged" else pair.other
    with tenant_session(app, tenant) as session:
        remaining = session.scalars(
            select(Contact.id).where(Contact.id.in_([pair.keep, pair.other]))
        )
        assert list(remaining) == [survivor]
        linked = select(Activity.id).where(Activity.contact_id == survivor)
        assert set(session.scalars(linked)) == pair.activities
        assert (
            set(session.scalars(select(Deal.id).where(Deal.contact_id == survivor))) == pair.deals
        )
