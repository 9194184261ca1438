"""What people type (parse_text), how values read (display_value), keys made from
labels, and value_expression in real PostgreSQL queries, malformed rows included."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.contacts.models import Contact
from app.custom_fields.models import CustomFieldDefinition
from app.custom_fields.services import (
    definitions,
    display_value,
    key_from_label,
    parse_text,
    value_expression,
)
from tests.api.conftest import Api, seed_contacts, tenant_session
from tests.conftest import TenantFixture
from tests.custom_fields.conftest import define

OPTIONS = ["Sales", "Support", "Billing, invoices"]


def field(type_: str, options: list[str] | None = None) -> CustomFieldDefinition:
    """A definition as the services see it (not stored: parse_text needs no database)."""
    return CustomFieldDefinition(
        entity="contact", key="f", label="F", type=type_, required=False, options=options or []
    )


@pytest.mark.parametrize(
    ("type_", "raw", "value"),
    [
        ("text", "  Bob ", "Bob"),
        ("text", "", None),
        ("text", "   ", None),
        ("long_text", "a\nb", "a\nb"),
        ("number", "1234.5", 1234.5),
        ("number", "1,234.5", 1234.5),
        ("number", "1.234,5", 1234.5),
        ("number", "1 234,5", 1234.5),
        ("number", "1\u00a0234", 1234),
        ("number", "12,5", 12.5),
        ("number", "0,125", 0.125),
        ("number", "1,234", 1234),
        ("number", "1,234,567", 1234567),
        ("number", "1.234.567", 1234567),
        ("number", "1.234", 1.234),
        ("number", "-3", -3),
        ("number", "\u22123", -3),
        ("number", "+7.0", 7),
        ("money", "12.50 EUR", {"amount": "12.50", "currency": "EUR"}),
        ("money", "EUR 12.5", {"amount": "12.50", "currency": "EUR"}),
        ("money", "€12,50", {"amount": "12.50", "currency": "EUR"}),
        ("money", "1,200 gbp", {"amount": "1200.00", "currency": "GBP"}),
        ("money", "1000 JPY", {"amount": "1000", "currency": "JPY"}),
        ("date", "2024-05-17", "2024-05-17"),
        ("date", "2024-05-17T10:30:00Z", "2024-05-17"),
        ("date", "2024-05-17 10:30", "2024-05-17"),
        ("date", "2024/05/17", "2024-05-17"),
        ("date", "17.5.2024", "2024-05-17"),
        ("checkbox", "yes", True),
        ("checkbox", "Y", True),
        ("checkbox", "TRUE", True),
        ("checkbox", "1", True),
        ("checkbox", "x", True),
        ("checkbox", "ja", True),
        ("checkbox", "no", False),
        ("checkbox", "0", False),
        ("checkbox", "Off", False),
        ("single_select", " sales ", "Sales"),
        ("single_select", "billing, INVOICES", "Billing, invoices"),
        ("multi_select", "support; sales", ["Sales", "Support"]),
        ("multi_select", "Sales\nSupport", ["Sales", "Support"]),
        ("multi_select", "Sales, Support", ["Sales", "Support"]),
        ("multi_select", "Billing, invoices", ["Billing, invoices"]),
        ("multi_select", "Sales;;Sales", ["Sales"]),
        ("url", "example.com/x", "https://example.com/x"),
        ("url", "http://example.com", "http://example.com"),
        ("email", "mailto:Ann@Example.com", "ann@example.com"),
        ("phone", "+49 (30) 123-45", "+49 (30) 123-45"),
    ],
)
def test_parse_text_reads_what_people_type(type_: str, raw: str, value: Any) -> None:
    assert parse_text(field(type_, OPTIONS), raw) == value


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("text", "a\nb"),
        ("text", "x" * 501),
        ("number", "abc"),
        ("number", "1e5"),
        ("number", "1,23,4"),
        ("number", "1.23.4"),
        ("number", "12 %"),
        ("number", "NaN"),
        ("number", "inf"),
        ("number", "9" * 17),
        ("money", "12.50"),
        ("money", "EUR 12 USD"),
        ("money", "12.505 EUR"),
        ("money", "-5 EUR"),
        ("money", "12 XYZ"),
        ("date", "05/17/2024"),
        ("date", "2024-02-30"),
        ("date", "31.02.2024"),
        ("date", "1850-01-01"),
        ("date", "tomorrow"),
        ("checkbox", "maybe"),
        ("single_select", "Marketing"),
        ("multi_select", "Sales; Marketing"),
        ("url", "ftp://example.com"),
        ("url", "https://exa mple.com"),
        ("email", "ann@"),
        ("phone", "call me"),
    ],
)
def test_parse_text_refuses_what_it_can_not_read(type_: str, raw: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_text(field(type_, OPTIONS), raw)
    assert str(refused.value)  # a message for the person


@pytest.mark.parametrize(
    ("type_", "value", "shown"),
    [
        ("text", "Bob", "Bob"),
        ("number", 1234.5, "1,234.5"),
        ("number", 0.1, "0.1"),
        ("number", 10**15, "1,000,000,000,000,000"),
        ("money", {"amount": "1234.50", "currency": "EUR"}, "€1,234.50"),
        ("money", {"amount": "1000", "currency": "JPY"}, "¥1,000"),
        ("date", "2024-05-17", "May 17, 2024"),
        ("checkbox", True, "Yes"),
        ("checkbox", False, "No"),
        ("multi_select", ["Sales", "Support"], "Sales, Support"),
        ("text", None, ""),
        # Malformed values are shown as stored, never an error.
        ("number", "abc", "abc"),
        ("number", True, "True"),
        ("money", {"amount": "x", "currency": "EUR"}, "x EUR"),
        ("money", "12", "12"),
        ("date", "2024-02-30", "2024-02-30"),
        ("checkbox", "yes", "yes"),
    ],
)
def test_display_value(type_: str, value: Any, shown: str) -> None:
    assert display_value(field(type_), value) == shown


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("Customer tier", "customer_tier"),
        ("  Größe / Size ", "grosse_size"),
        ("Crème brûlée", "creme_brulee"),
        ("2nd phone", "f_2nd_phone"),
        ("日本語", "field"),
        ("x" * 60, "x" * 40),
        ("a" * 39 + " b", "a" * 39),
    ],
)
def test_key_from_label(label: str, key: str) -> None:
    assert key_from_label(label) == key


# --------------------------------------------------------------------------- SQL


@pytest.fixture
def people(api: Api, app: Flask, ws: TenantFixture) -> dict[str, int]:
    """Contacts with values of every sortable type, and some malformed rows (written
    behind the services' back) that must never break a query."""
    define(api, "contact", "score", "number")
    define(api, "contact", "met_on", "date")
    define(api, "contact", "budget", "money")
    define(api, "contact", "vip", "checkbox")
    define(api, "contact", "topics", "multi_select", options=["a", "b", "c"])
    define(api, "contact", "nickname", "text")
    rows = {
        "low": {"score": 2, "met_on": "2023-12-31", "budget": {"amount": "5.00", "currency": "EUR"},
                "vip": False, "topics": ["a"], "nickname": "Lo"},
        "mid": {"score": 10.5, "met_on": "2024-02-29",
                "budget": {"amount": "50", "currency": "JPY"}, "vip": True, "topics": ["a", "b"]},
        "high": {"score": 1000, "met_on": "2021-06-01",
                 "budget": {"amount": "500.10", "currency": "USD"}, "topics": ["c"]},
        "empty": {},
        # Malformed, as a hand-written UPDATE or an old version might have left them.
        "bad1": {"score": "12", "met_on": "2024-02-30", "budget": {"amount": "1e3"},
                 "vip": "yes", "topics": "a", "nickname": 5},
        "bad2": {"score": [1], "met_on": "2024-13-01", "budget": "12 EUR", "vip": 1,
                 "topics": {"a": 1}, "nickname": ["x"]},
        "bad3": {"score": None, "met_on": "0000-01-01", "budget": {"amount": True},
                 "vip": None, "topics": None},
        "bad4": {"met_on": "2024-04-31", "budget": {"currency": "EUR"}},
    }  # fmt: skip
    ids = seed_contacts(app, ws, [{"first_name": k, "custom_fields": v} for k, v in rows.items()])
    return dict(zip(rows, ids, strict=True))


def _names(app: Flask, ws: TenantFixture, build: Any) -> list[str]:
    with tenant_session(app, ws) as session:
        defs = {d.key: d for d in definitions(session, "contact")}

        def expr(key: str) -> Any:
            return value_expression(Contact, defs[key])

        return list(session.scalars(build(select(Contact.first_name), expr)))


def test_filter_by_number_and_sort_by_date(
    people: dict[str, int], app: Flask, ws: TenantFixture
) -> None:
    over = _names(app, ws, lambda q, e: q.where(e("score") > 5).order_by(e("score").desc()))
    assert over == ["high", "mid"]
    by_date = _names(app, ws, lambda q, e: q.order_by(e("met_on").asc().nulls_last(), Contact.id))
    assert by_date[:3] == ["high", "low", "mid"]
    assert set(by_date[3:]) == {"empty", "bad1", "bad2", "bad3", "bad4"}
    in_2024 = _names(
        app,
        ws,
        lambda q, e: q.where(e("met_on").between(dt.date(2024, 1, 1), dt.date(2024, 12, 31))),
    )
    assert in_2024 == ["mid"]


def test_every_type_has_a_typed_expression(
    people: dict[str, int], app: Flask, ws: TenantFixture
) -> None:
    amounts = _names(app, ws, lambda q, e: q.where(e("budget") >= 50).order_by(e("budget")))
    assert amounts == ["mid", "high"]  # amounts compare whatever the currency
    assert _names(app, ws, lambda q, e: q.where(e("vip").is_(True))) == ["mid"]
    assert _names(app, ws, lambda q, e: q.where(e("vip").is_(False))) == ["low"]
    has_b = _names(app, ws, lambda q, e: q.where(e("topics").contains(["b"])))
    assert has_b == ["mid"]
    assert _names(app, ws, lambda q, e: q.where(e("nickname") == "Lo")) == ["low"]
    nulls = _names(
        app,
        ws,
        lambda q, e: q.where(e("score").is_(None), e("met_on").is_(None)).order_by(Contact.id),
    )
    assert nulls == ["empty", "bad1", "bad2", "bad3", "bad4"]


def test_malformed_values_are_null_in_every_expression(
    people: dict[str, int], app: Flask, ws: TenantFixture
) -> None:
    with tenant_session(app, ws) as session:
        defs = definitions(session, "contact")
        columns = [value_expression(Contact, d).label(d.key) for d in defs]
        rows = session.execute(
            select(Contact.first_name, *columns).where(Contact.first_name.like("bad%"))
        ).all()
    assert len(rows) == 4
    for row in rows:
        assert all(value is None for value in row[1:]), row
