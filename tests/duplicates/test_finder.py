"""The duplicate finder on real PostgreSQL: what it suggests, why, for whom, page by page."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.access.policy import actor_for
from app.duplicates import finder
from app.duplicates.finder import (
    Suggestion,
    SuggestionPage,
    find_company_duplicates,
    find_contact_duplicates,
)
from app.errors import InvalidInput
from tests.api.conftest import tenant_session
from tests.conftest import Factory, TenantFixture
from tests.duplicates.conftest import owner_actor, seed_companies, seed_contacts


def _pairs(page: SuggestionPage) -> dict[tuple[int, int], tuple[str, ...]]:
    return {s.ids: s.reasons for s in page.items}


def _contacts(app: Flask, tf: TenantFixture, **kwargs: Any) -> SuggestionPage:
    with tenant_session(app, tf) as session:
        return find_contact_duplicates(session, owner_actor(tf), **kwargs)


def _companies(app: Flask, tf: TenantFixture, **kwargs: Any) -> SuggestionPage:
    with tenant_session(app, tf) as session:
        return find_company_duplicates(session, owner_actor(tf), **kwargs)


def test_contacts_with_the_same_email_in_another_case(app: Flask, tenant: TenantFixture) -> None:
    a, b, other, blank_1, blank_2 = seed_contacts(
        app,
        tenant,
        [
            {"first_name": "Ann", "email": "Ann.Lee@Example.com"},
            {"first_name": "Annie", "email": "ann.lee@example.COM"},
            {"first_name": "Bo", "email": "bo@example.com"},
            {"first_name": "No", "email": ""},
            {"first_name": "Mail", "email": ""},
        ],
    )
    page = _contacts(app, tenant)
    assert _pairs(page) == {(a, b): ("same_email",)}
    assert page.next_cursor is None
    assert other and blank_1 and blank_2


def test_contacts_with_the_same_phone_typed_differently(app: Flask, tenant: TenantFixture) -> None:
    a, b, c, short_1, short_2 = seed_contacts(
        app,
        tenant,
        [
            {"first_name": "A", "phone": "+1 (555) 010-0200"},
            {"first_name": "B", "phone": "1.555.010.0200"},
            {"first_name": "C", "phone": "+1 555 010 0201"},
            # Extensions and fragments: too few digits to mean anything.
            {"first_name": "D", "phone": "12-34"},
            {"first_name": "E", "phone": "1234"},
        ],
    )
    assert _pairs(_contacts(app, tenant)) == {(a, b): ("same_phone",)}
    assert c and short_1 and short_2


def test_similar_names_at_the_same_company(app: Flask, tenant: TenantFixture) -> None:
    initech, globex = seed_companies(app, tenant, [{"name": "Initech"}, {"name": "Globex"}])
    rows = [
        {"first_name": "John", "last_name": "Smith", "company_id": initech},
        {"first_name": "Jon", "last_name": "Smith", "company_id": initech},
        # The same name at another company, or at none: different people.
        {"first_name": "John", "last_name": "Smith", "company_id": globex},
        {"first_name": "John", "last_name": "Smith"},
        # Same company, different people.
        {"first_name": "Ada", "last_name": "Smith", "company_id": initech},
        {"first_name": "Alan", "last_name": "Smith", "company_id": initech},
        # Names written the other way round are the same name.
        {"first_name": "Lee", "last_name": "Ann", "company_id": globex},
        {"first_name": "Ann", "last_name": "Lee", "company_id": globex},
    ]
    ids = seed_contacts(app, tenant, rows)
    assert _pairs(_contacts(app, tenant)) == {
        (ids[0], ids[1]): ("similar_name_same_company",),
        (ids[6], ids[7]): ("similar_name_same_company",),
    }


def test_every_reason_of_a_pair_is_given_once(app: Flask, tenant: TenantFixture) -> None:
    (initech,) = seed_companies(app, tenant, [{"name": "Initech"}])
    a, b = seed_contacts(
        app,
        tenant,
        [
            {"first_name": "Ann", "last_name": "Lee", "email": "ann@x.example",
             "phone": "555 0100 200", "company_id": initech},
            {"first_name": "Anne", "last_name": "Lee", "email": "ANN@x.example",
             "phone": "(555) 0100-200", "company_id": initech},
        ],
    )  # fmt: skip
    page = _contacts(app, tenant)
    assert page.items == [
        Suggestion(ids=(a, b), reasons=("same_email", "same_phone", "similar_name_same_company"))
    ]


def test_companies_by_domain_and_by_similar_name(app: Flask, tenant: TenantFixture) -> None:
    ids = seed_companies(
        app,
        tenant,
        [
            {"name": "Initech", "domain": "initech.example"},
            {"name": "Totally Different", "domain": "initech.example"},
            {"name": "Acme Industries"},
            {"name": "ACME Industries, Inc."},
            {"name": "Acme Industry GmbH"},
            # Numbers tell branches apart; legal forms alone are no name.
            {"name": "Company 123"},
            {"name": "Company 124"},
            {"name": "Inc."},
            {"name": "Ltd"},
            {"name": "Globex"},
        ],
    )
    assert _pairs(_companies(app, tenant)) == {
        (ids[0], ids[1]): ("same_domain",),
        (ids[2], ids[3]): ("similar_name",),
        (ids[2], ids[4]): ("similar_name",),
        (ids[3], ids[4]): ("similar_name",),
    }


def test_only_records_the_actor_may_edit_are_suggested(app: Flask, factory: Factory) -> None:
    tenant = factory.tenant("dup", plan="enterprise")  # room for more members
    rep_id, _, _ = factory.member(tenant, role="sales_rep")
    viewer_id, _, _ = factory.member(tenant, role="viewer")
    mine_1, mine_2, theirs, orphan = seed_contacts(
        app,
        tenant,
        [
            {"first_name": "A", "email": "same@example.com", "owner_id": rep_id},
            {"first_name": "B", "email": "same@example.com", "owner_id": rep_id},
            {"first_name": "C", "email": "same@example.com"},
            {"first_name": "D", "email": "same@example.com", "owner_id": None},
        ],
    )
    with tenant_session(app, tenant) as session:
        rep = find_contact_duplicates(session, actor_for(rep_id, "sales_rep"))
        viewer = find_contact_duplicates(session, actor_for(viewer_id, "viewer"))
        owner = find_contact_duplicates(session, owner_actor(tenant))
    assert _pairs(rep) == {(mine_1, mine_2): ("same_email",)}
    assert viewer.items == [] and viewer.next_cursor is None
    assert len(owner.items) == 6  # every pair of the four
    assert {theirs, orphan} <= {i for s in owner.items for i in s.ids}


def test_another_workspace_is_never_looked_at(
    app: Flask, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = two_tenants
    seed_contacts(app, a, [{"first_name": "A", "email": "shared@example.com"}])
    seed_contacts(app, b, [{"first_name": "B", "email": "shared@example.com"}])
    assert _contacts(app, a).items == []
    assert _contacts(app, b).items == []


def test_pages_follow_each_other_without_gaps_or_repeats(
    app: Flask, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twelve people, each twice (same email); a third copy of one of them.
    rows = [{"first_name": f"P{n}", "email": f"p{n}@example.com"} for n in range(12)] * 2
    rows.append({"first_name": "P0 again", "email": "P0@example.com"})
    ids = seed_contacts(app, tenant, rows)
    expected = {(ids[n], ids[n + 12]) for n in range(12)} | {
        (ids[0], ids[24]),
        (ids[12], ids[24]),
    }
    seen: list[tuple[int, int]] = []
    cursor = None
    for _ in range(20):
        page = _contacts(app, tenant, cursor=cursor, limit=5)
        assert len(page.items) <= 5
        seen += [s.ids for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == seen  # in (lower id, higher id) order
    assert set(seen) == expected and len(seen) == len(expected)

    # A small scan budget: pages may come back short (or empty), and still cover all.
    monkeypatch.setitem(finder.SCAN_LIMITS, "contact", 4)
    seen, cursor, pages = [], None, 0
    while True:
        page = _contacts(app, tenant, cursor=cursor, limit=50)
        pages += 1
        seen += [s.ids for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert set(seen) == expected and len(seen) == len(expected)
    assert pages >= len(ids) // 4


def test_partners_per_record_and_reason_are_capped(
    app: Flask, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finder, "PER_REASON", 2)
    ids = seed_contacts(
        app, tenant, [{"first_name": f"I{n}", "email": "info@x.example"} for n in range(5)]
    )
    pairs = set(_pairs(_contacts(app, tenant)))
    assert pairs == {
        (ids[0], ids[1]), (ids[0], ids[2]),
        (ids[1], ids[2]), (ids[1], ids[3]),
        (ids[2], ids[3]), (ids[2], ids[4]),
        (ids[3], ids[4]),
    }  # fmt: skip


@pytest.mark.parametrize(
    "cursor",
    ["nope", "", "eyJ4IjoxfQ", finder.encode_cursor("company", 1, 2), "=" * 5, "\x00"],
)
def test_a_foreign_cursor_is_refused(app: Flask, tenant: TenantFixture, cursor: str) -> None:
    if cursor == "":
        assert _contacts(app, tenant, cursor=cursor).next_cursor is None  # no cursor at all
        return
    with pytest.raises(InvalidInput) as refused:
        _contacts(app, tenant, cursor=cursor)
    assert set(refused.value.details) == {"cursor"}
