"""List filters on real PostgreSQL, through the API: every kind of field, custom fields,
refusals, and sorting with keyset pagination."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from app.companies.models import Company
from app.deals.models import Deal
from tests.api.conftest import assert_error, tenant_session
from tests.lists.conftest import NOW, Team, contacts, define, ids, listed, seed

DAY = dt.timedelta(days=1)


def _set(set_of: set[int], *found: list[int]) -> None:
    for ids_found in found:
        assert set(ids_found) == set_of, (sorted(ids_found), sorted(set_of))


def test_contact_filters(team: Team, app: Flask) -> None:
    tf = team.tf
    company = seed(app, tf, Company, [{"name": "Initech"}])[0]
    ann, bob, cy, dee = contacts(
        app,
        tf,
        [
            {
                "first_name": "Ann",
                "email": "ann@initech.example",
                "tags": ["VIP", "Partner"],
                "company_id": company,
                "birthday": dt.date(1990, 5, 17),
                "title": "CTO",
                "created_at": NOW - 40 * DAY,
                "last_contacted_at": NOW - 2 * DAY,
            },
            {
                "first_name": "Bob",
                "email": "bob@example.com",
                "tags": ["vip"],
                "owner_id": team.rep_id,
                "created_at": NOW - 10 * DAY,
                "last_contacted_at": NOW - 45 * DAY,
                "source": "Fair",
            },
            {"first_name": "Cy", "tags": ["partner"], "owner_id": None, "title": ""},
            {"first_name": "Dee", "email": "dee@example.com", "title": "Head of sales"},
        ],
    )
    api = team.api

    def f(**query: Any) -> list[int]:
        return ids(api.get("/contacts", query_string={"limit": "200", **query}))

    _set({ann, dee}, f(owner_id="me"), f(owner_id=str(tf.owner_id)))
    _set({bob}, f(owner_id=str(team.rep_id)))
    _set({cy}, f(owner_id="none"), f(owner_id="NONE"))
    # Tags: any spelling of the usual kinds, any/all/none.
    _set({ann, bob}, f(tag="vip"), f(tag="VIP"), f(tag="Vip"), f(tag_any="vip"))
    _set({ann, bob, cy}, f(tag_any="vip, partner"))
    _set({ann}, f(tag_all="vip,partner"))
    _set({dee}, f(tag_none="vip,partner"))
    # Texts: equals ignoring case, contains, empty.
    _set({ann}, f(email="ANN@initech.example"), f(first_name="ann"))
    _set({bob, dee}, f(email_contains="@example.com"))
    _set({cy}, f(email_empty="true"))
    _set({ann, bob, dee}, f(email_empty="false"))
    _set({bob, cy}, f(title_empty="yes"))
    _set({dee}, f(title_contains="sales"))
    _set({bob}, f(source="fair"))
    # Links and dates.
    _set({ann}, f(company_id=str(company)))
    _set({bob, cy, dee}, f(company_id="none"))
    _set({ann}, f(birthday_from="1990-01-01", birthday_to="1990-12-31"))
    _set(set(), f(birthday_to="1989-12-31"))
    _set({ann}, f(created_to=(NOW - 30 * DAY).date().isoformat()))
    _set({bob, cy, dee}, f(created_from=(NOW - 15 * DAY).date().isoformat()))
    _set({cy, dee}, f(created_days="5"))
    _set({bob, cy, dee}, f(created_days="20"))
    # Last contact: within, and "not contacted for N days" (never counts).
    _set({ann}, f(last_contacted_days="7"))
    _set({bob, cy, dee}, f(not_contacted_days="30"))
    _set({bob, cy, dee, ann}, f(not_contacted_days="1"))
    _set({cy, dee}, f(not_contacted_days="60"))
    # Search goes with the filters, and filters combine.
    _set({ann}, f(q="initech", tag="vip"))
    _set({bob}, f(tag="vip", not_contacted_days="30"))


def test_company_and_deal_filters(team: Team, app: Flask) -> None:
    tf = team.tf
    acme, globex, hooli = seed(
        app,
        tf,
        Company,
        [
            {"name": "Acme", "industry": "Software", "size": "11-50", "domain": "acme.example"},
            {"name": "Globex", "industry": "software", "size": "5000+", "tags": ["Key account"]},
            {"name": "Hooli", "size": None, "last_contacted_at": NOW - 3 * DAY},
        ],
    )
    api = team.api

    def companies(**query: Any) -> list[int]:
        return ids(api.get("/companies", query_string={"limit": "200", **query}))

    _set({acme, globex}, companies(industry="SOFTWARE"))
    _set({acme}, companies(size="11-50"), companies(domain_contains="acme"))
    _set({acme, globex}, companies(size="11-50,5000+"))
    _set({globex}, companies(tag="key account"), companies(tag="Key Account"))
    _set({acme, globex}, companies(not_contacted_days="5"))
    _set({acme, globex, hooli}, companies(not_contacted_days="2"))
    _set({hooli}, companies(last_contacted_days="5"))
    _set({acme}, companies(name="acme"))

    with tenant_session(app, tf) as session:
        from app.pipelines.models import Stage

        stages = {s.name: s for s in session.query(Stage).all()}
        lead, won = stages["Lead"], stages["Won"]
        lead_id, won_id, lead_probability = lead.id, won.id, lead.probability
    cheap, dear, yen, closed = seed(
        app,
        tf,
        Deal,
        [
            {"title": "Cheap", "amount_minor": 50_00, "currency": "EUR", "stage_id": lead_id},
            {
                "title": "Dear",
                "amount_minor": 5000_00,
                "currency": "EUR",
                "probability": 80,
                "expected_close_date": dt.date(2030, 6, 1),
                "company_id": acme,
            },
            {"title": "Yen", "amount_minor": 3000, "currency": "JPY", "probability": 10},
            {
                "title": "Closed",
                "status": "won",
                "stage_id": won_id,
                "closed_at": NOW - DAY,
                "amount_minor": 1_00,
            },
        ],
    )

    def deals(**query: Any) -> list[int]:
        return ids(api.get("/deals", query_string={"limit": "200", **query}))

    # Amounts in major units of each deal's own currency (3000 JPY is 3000, not 30).
    _set({dear, yen}, deals(amount_min="1000"))
    _set({cheap, closed}, deals(amount_max="100"))
    _set({yen}, deals(amount_min="2999.5", amount_max="3000"))
    _set({dear, yen}, deals(amount_min="1,000"))
    _set({yen}, deals(currency="jpy"))
    # Probability: the deal's own, else its stage's, 100 when won.
    assert lead_probability < 80
    _set({dear, closed}, deals(probability_min="80"))
    _set({cheap, yen}, deals(probability_max=str(max(lead_probability, 10))))
    _set({closed}, deals(status="won"), deals(closed_days="3"), deals(stage_id=str(won_id)))
    _set({cheap, dear, yen}, deals(status="open,lost"))
    _set({dear}, deals(expected_close_from="2030-01-01"), deals(company_id=str(acme)))
    _set({cheap, yen, closed}, deals(company_id="none"))
    _set({cheap}, deals(title_contains="che"))


def test_custom_field_filters(team: Team, app: Flask) -> None:
    tf = team.tf
    define(app, tf, "contact", "region", "text")
    define(app, tf, "contact", "score", "number")
    define(app, tf, "contact", "budget", "money")
    define(app, tf, "contact", "renewal", "date")
    define(app, tf, "contact", "newsletter", "checkbox")
    define(app, tf, "contact", "tier", "single_select", options=["Gold", "Silver"])
    define(app, tf, "contact", "topics", "multi_select", options=["CRM", "ERP", "BI"])
    a, b, c = contacts(
        app,
        tf,
        [
            {
                "first_name": "A",
                "custom_fields": {
                    "region": "North East",
                    "score": 12.5,
                    "budget": {"amount": "1500.00", "currency": "EUR"},
                    "renewal": "2026-03-01",
                    "newsletter": True,
                    "tier": "Gold",
                    "topics": ["CRM", "BI"],
                },
            },
            {
                "first_name": "B",
                "custom_fields": {
                    "region": "south",
                    "score": 3,
                    "budget": {"amount": "200", "currency": "JPY"},
                    "renewal": "2027-01-15",
                    "newsletter": False,
                    "tier": "Silver",
                    "topics": ["ERP"],
                },
            },
            {"first_name": "C"},
        ],
    )
    api = team.api

    def f(**query: Any) -> list[int]:
        return ids(api.get("/contacts", query_string={"limit": "200", **query}))

    _set({a}, f(**{"cf.region": "north east"}), f(**{"cf.region_contains": "EAST"}))
    _set({c}, f(**{"cf.region_empty": "true"}))
    _set({a, b}, f(**{"cf.region_empty": "false"}))
    _set({a}, f(**{"cf.score_min": "10"}), f(**{"cf.score": "12.5"}))
    _set({b}, f(**{"cf.score_max": "3"}), f(**{"cf.score_min": "2", "cf.score_max": "5"}))
    _set({a}, f(**{"cf.budget_min": "1000"}), f(**{"cf.budget_min": "1,000 EUR"}))
    _set({b}, f(**{"cf.budget_max": "500"}))
    _set({a}, f(**{"cf.renewal_to": "2026-12-31"}), f(**{"cf.renewal": "2026-03-01"}))
    _set({b}, f(**{"cf.renewal_from": "2027-01-01"}))
    _set({a}, f(**{"cf.newsletter": "yes"}))
    _set({b, c}, f(**{"cf.newsletter": "no"}))  # unticked or never ticked
    _set({a}, f(**{"cf.tier": "gold"}))
    _set({a}, f(**{"cf.topics": "CRM"}), f(**{"cf.topics": "CRM; BI"}))
    _set({b}, f(**{"cf.topics": "erp"}))
    _set({c}, f(**{"cf.topics_empty": "true"}))


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"owner_id": "someone"}, "owner_id"),
        ({"owner_id": "0"}, "owner_id"),
        ({"owner_id": "99999999999999999999"}, "owner_id"),
        ({"created_from": "2026-13-01"}, "created_from"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_days": "0"}, "created_days"),
        ({"created_days": "1e3"}, "created_days"),
        ({"not_contacted_days": "-5"}, "not_contacted_days"),
        ({"created_from": "2026-02-01", "created_to": "2026-01-01"}, "created_to"),
        ({"tag_any": ","}, "tag_any"),
        ({"tag": "x" * 51}, "tag"),
        ({"email_empty": "maybe"}, "email_empty"),
        ({"email": "a\x00b"}, "email"),
        ({"first_name": "x" * 201}, "first_name"),
        ({"company_id": "acme"}, "company_id"),
        ({"nickname": "x"}, "nickname"),
        ({"cf.nope": "x"}, "cf.nope"),
        ({"cf.score_min": "lots"}, "cf.score_min"),
        ({"cf.score_contains": "1"}, "cf.score_contains"),
        ({"cf.tier": "Bronze"}, "cf.tier"),
        ({"sort": "shoe_size"}, "sort"),
        ({"sort": "cf.nope"}, "sort"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_values_are_400_naming_the_parameter(
    team: Team, app: Flask, query: dict[str, str], param: str
) -> None:
    define(app, team.tf, "contact", "score", "number")
    define(app, team.tf, "contact", "tier", "single_select", options=["Gold"])
    assert_error(team.api.get("/contacts", query_string=query), 400, "validation_error", param)


def test_bad_deal_and_company_values(team: Team) -> None:
    for path, query, param in (
        ("/deals", {"status": "pending"}, "status"),
        ("/deals", {"amount_min": "-1"}, "amount_min"),
        ("/deals", {"probability_max": "101"}, "probability_max"),
        ("/deals", {"currency": "XYZ"}, "currency"),
        ("/deals", {"stage_id": "none"}, "stage_id"),  # a deal is always in a stage
        ("/companies", {"size": "huge"}, "size"),
        ("/companies", {"birthday_from": "2020-01-01"}, "birthday_from"),
    ):
        assert_error(team.api.get(path, query_string=query), 400, "validation_error", param)
    repeated = team.api.get("/contacts?tag=a&tag=b")
    assert_error(repeated, 400, "validation_error", "tag")


def test_blank_values_set_no_filter(team: Team, app: Flask) -> None:
    made = contacts(app, team.tf, [{"first_name": "A"}, {"first_name": "B"}])
    assert set(ids(team.api.get("/contacts?q=&owner_id=&tag_any=+&created_from="))) == set(made)


def test_sort_and_keyset_pages_by_a_nullable_column(team: Team, app: Flask) -> None:
    stamps = [NOW - 5 * DAY, None, NOW - DAY, None, NOW - 5 * DAY, NOW - 9 * DAY, None]
    made = contacts(
        app,
        team.tf,
        [{"first_name": f"P{n}", "last_contacted_at": s} for n, s in enumerate(stamps)],
    )
    by_id = dict(zip(made, stamps, strict=True))
    for sort in ("last_contacted_at", "-last_contacted_at"):
        seen = listed(team.api, sort=sort)
        assert sorted(seen) == sorted(made), sort  # each once
        dated = [i for i in seen if by_id[i] is not None]
        assert [i for i in seen if by_id[i] is None] == seen[len(dated) :]  # nulls last
        values = [by_id[i] for i in dated]
        assert values == sorted(values, reverse=sort.startswith("-")), sort  # type: ignore[type-var]


@pytest.mark.parametrize("sort", ["cf.score", "-cf.score", "cf.region", "-cf.renewal"])
def test_sort_and_keyset_pages_by_a_custom_field(team: Team, app: Flask, sort: str) -> None:
    define(app, team.tf, "contact", "score", "number")
    define(app, team.tf, "contact", "region", "text")
    define(app, team.tf, "contact", "renewal", "date")
    values = [5, None, 12.25, 5, -3, None, 100, 12.25, 0]
    made = contacts(
        app,
        team.tf,
        [
            {
                "first_name": f"S{n}",
                "custom_fields": {}
                if v is None
                else {"score": v, "region": f"r{v}", "renewal": f"20{10 + n}-01-01"},
            }
            for n, v in enumerate(values)
        ],
    )
    seen = listed(team.api, sort=sort)
    assert sorted(seen) == sorted(made)
    key = sort.lstrip("-").removeprefix("cf.")
    by_id = {
        i: (None if v is None else {"score": v, "region": f"r{v}", "renewal": f"20{10 + n}"}[key])
        for n, (i, v) in enumerate(zip(made, values, strict=True))
    }
    present = [i for i in seen if by_id[i] is not None]
    assert seen[len(present) :] == [i for i in seen if by_id[i] is None]
    shown = [by_id[i] for i in present]
    assert shown == sorted(shown, reverse=sort.startswith("-"))  # type: ignore[type-var]


def test_cursor_of_another_sort_is_refused(team: Team, app: Flask) -> None:
    contacts(app, team.tf, [{"first_name": f"N{n}"} for n in range(3)])
    first = team.api.get("/contacts", query_string={"sort": "first_name", "limit": "1"})
    cursor = first.get_json()["next_cursor"]
    assert cursor
    refused = team.api.get("/contacts", query_string={"sort": "-first_name", "cursor": cursor})
    assert_error(refused, 400, "validation_error", "cursor")


def test_a_sales_rep_filters_only_within_their_scope(team: Team, app: Flask) -> None:
    mine = contacts(app, team.tf, [{"first_name": "Mine", "owner_id": team.rep_id, "tags": ["x"]}])
    contacts(app, team.tf, [{"first_name": "Theirs", "tags": ["x"]}])
    assert ids(team.rep.get("/contacts", query_string={"tag": "x"})) == mine
    assert ids(team.rep.get("/contacts", query_string={"owner_id": str(team.tf.owner_id)})) == []


def test_every_sort_pages_through_each_record_once(team: Team, app: Flask) -> None:
    from app.lists.filters import SORTS

    made = {
        "contact": contacts(
            app,
            team.tf,
            [
                {
                    "first_name": f"F{n % 3}",
                    "last_name": f"L{n % 2}",
                    "email": None if n % 3 == 0 else f"e{n % 4}@x.example",
                    "birthday": None if n % 2 else dt.date(1980 + n % 3, 1, 1),
                    "last_contacted_at": None if n % 3 else NOW - n * DAY,
                }
                for n in range(7)
            ],
        ),
        "company": seed(
            app,
            team.tf,
            Company,
            [
                {"name": f"C{n % 3}", "industry": None if n % 2 else "X", "domain": None}
                for n in range(5)
            ],
        ),
        "deal": seed(
            app,
            team.tf,
            Deal,
            [
                {
                    "title": f"D{n % 2}",
                    "amount_minor": None if n % 3 == 0 else n % 2,
                    "probability": None if n % 2 else 10,
                    "closed_at": None,
                }
                for n in range(5)
            ],
        ),
    }
    paths = {"contact": "/contacts", "company": "/companies", "deal": "/deals"}
    for entity, sorts in SORTS.items():
        for name in sorts:
            for sort in (name, f"-{name}"):
                seen = listed(team.api, paths[entity], sort=sort)
                assert sorted(seen) == sorted(made[entity]), (entity, sort)
