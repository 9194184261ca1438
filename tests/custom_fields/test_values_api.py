"""Custom field values through the contacts, companies and deals API: every type,
valid and not, required fields, partial updates, and what the history records."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.contacts.models import Contact
from app.timeline.models import TimelineEvent
from tests.api.conftest import Api, assert_error, tenant_session
from tests.conftest import TenantFixture
from tests.custom_fields.conftest import define

# One field of every type on contacts: key -> (type, extra definition fields).
TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "nickname": ("text", {}),
    "bio": ("long_text", {}),
    "score": ("number", {}),
    "budget": ("money", {}),
    "met_on": ("date", {}),
    "vip": ("checkbox", {}),
    "tier": ("single_select", {"options": ["Gold", "Silver"]}),
    "topics": ("multi_select", {"options": ["Sales", "Support", "Billing"]}),
    "site": ("url", {}),
    "alt_email": ("email", {}),
    "mobile": ("phone", {}),
}


@pytest.fixture
def typed(api: Api) -> Api:
    """``api`` on a workspace whose contacts have one field of every type."""
    for key, (type_, extra) in TYPES.items():
        define(api, "contact", key, type_, **extra)
    return api


def _contact_count(app: Flask, tf: TenantFixture) -> int:
    with tenant_session(app, tf) as session:
        return int(session.scalar(select(func.count()).select_from(Contact)) or 0)


@pytest.mark.parametrize(
    ("key", "given", "stored"),
    [
        ("nickname", "  Bob ", "Bob"),
        ("bio", "Line one\nline two", "Line one\nline two"),
        ("score", 42, 42),
        ("score", 3.0, 3),
        ("score", -0.25, -0.25),
        ("budget", {"amount": "12.5", "currency": "eur"}, {"amount": "12.50", "currency": "EUR"}),
        ("budget", {"amount": 1000, "currency": "JPY"}, {"amount": "1000", "currency": "JPY"}),
        ("met_on", "2024-02-29", "2024-02-29"),
        ("vip", True, True),
        ("vip", False, False),
        ("tier", " gold ", "Gold"),
        ("topics", ["billing", "Sales", "Sales"], ["Sales", "Billing"]),
        ("site", "https://example.com/a?b=c", "https://example.com/a?b=c"),
        ("alt_email", "Ann@Example.COM", "ann@example.com"),
        ("mobile", "+1 (555) 010-0100", "+1 (555) 010-0100"),
    ],
)
def test_every_type_stores_a_valid_value(typed: Api, key: str, given: Any, stored: Any) -> None:
    created = typed.create(first_name="Ann", custom_fields={key: given})
    assert created["custom_fields"] == {key: stored}
    assert typed.get(f"/contacts/{created['id']}").get_json()["custom_fields"] == {key: stored}


@pytest.mark.parametrize(
    ("key", "given"),
    [
        ("nickname", 5),
        ("nickname", "two\nlines"),
        ("nickname", "x" * 501),
        ("nickname", "bell\x07"),
        ("bio", "x" * 20_001),
        ("bio", ["a"]),
        ("score", "12"),
        ("score", True),
        ("score", 10**16),
        ("score", {"n": 1}),
        ("budget", "12.50 EUR"),
        ("budget", {"amount": "12.505", "currency": "EUR"}),
        ("budget", {"amount": "1.5", "currency": "JPY"}),
        ("budget", {"amount": "-1", "currency": "EUR"}),
        ("budget", {"amount": "1", "currency": "XYZ"}),
        ("budget", {"amount": "1"}),
        ("budget", {"amount": "1", "currency": "EUR", "rate": 2}),
        ("budget", {"amount": "1e3", "currency": "EUR"}),
        ("met_on", "2023-02-29"),
        ("met_on", "17.05.2024"),
        ("met_on", "1899-12-31"),
        ("met_on", "2201-01-01"),
        ("met_on", 20240517),
        ("vip", "yes"),
        ("vip", 1),
        ("tier", "Platinum"),
        ("tier", ["Gold"]),
        ("topics", "Sales"),
        ("topics", ["Sales", "Marketing"]),
        ("topics", [1]),
        ("site", "ftp://example.com"),
        ("site", "javascript:alert(1)"),
        ("site", "example.com"),
        ("site", "https://"),
        ("site", "https://exa mple.com"),
        ("site", "https://[::1"),
        ("site", "https://e.com/" + "x" * 2000),
        ("alt_email", "not-an-email"),
        ("alt_email", 5),
        ("mobile", "call me"),
        ("mobile", "1" * 41),
    ],
)
def test_a_wrong_value_is_a_field_error_and_writes_nothing(
    typed: Api, app: Flask, ws: TenantFixture, key: str, given: Any
) -> None:
    response = typed.post("/contacts", json={"first_name": "Ann", "custom_fields": {key: given}})
    details = assert_error(response, 400, "validation_error", f"custom_fields.{key}")
    assert list(details) == [f"custom_fields.{key}"]
    assert _contact_count(app, ws) == 0


def test_unknown_keys_and_bad_shapes_are_refused(typed: Api, app: Flask, ws: TenantFixture) -> None:
    for body, field in (
        ({"nope": 1}, "custom_fields.nope"),
        ({"Nickname": "x"}, "custom_fields"),
        ({"a b": "x"}, "custom_fields"),
        ([], "custom_fields"),
        ("x", "custom_fields"),
        (None, "custom_fields"),
    ):
        response = typed.post("/contacts", json={"first_name": "Ann", "custom_fields": body})
        assert_error(response, 400, "validation_error", field)
    unknown = typed.post("/contacts", json={"first_name": "A", "custom_fields": {"x": 1}})
    assert_error(unknown, 400, "validation_error", "custom_fields.x")
    assert _contact_count(app, ws) == 0


def test_every_problem_is_named_at_once(typed: Api) -> None:
    response = typed.post(
        "/contacts",
        json={
            "first_name": "Ann",
            "custom_fields": {"score": "x", "vip": "x", "nope": 1, "nickname": "ok"},
        },
    )
    details = assert_error(response, 400, "validation_error")
    assert set(details) == {"custom_fields.score", "custom_fields.vip", "custom_fields.nope"}


def test_required_fields(api: Api, app: Flask, ws: TenantFixture) -> None:
    define(api, "contact", "tier", "single_select", options=["Gold"], required=True)
    define(api, "contact", "note", "text")
    assert_error(
        api.post("/contacts", json={"first_name": "Ann"}), 400, "validation_error",
        "custom_fields.tier",
    )  # fmt: skip
    for blank in (None, "", "  "):
        response = api.post(
            "/contacts", json={"first_name": "Ann", "custom_fields": {"tier": blank}}
        )
        assert_error(response, 400, "validation_error", "custom_fields.tier")
    assert _contact_count(app, ws) == 0
    created = api.create(first_name="Ann", custom_fields={"tier": "gold"})
    one = f"/contacts/{created['id']}"
    assert api.patch(one, json={"title": "CTO"}).status_code == 200
    assert api.patch(one, json={"custom_fields": {"note": "hi"}}).status_code == 200
    assert_error(
        api.patch(one, json={"custom_fields": {"tier": None}}), 400, "validation_error",
        "custom_fields.tier",
    )  # fmt: skip
    assert api.get(one).get_json()["custom_fields"] == {"tier": "Gold", "note": "hi"}


def test_a_field_made_required_later_binds_new_records_only(api: Api) -> None:
    field = define(api, "contact", "tier", "text")
    old = api.create(first_name="Old")
    assert api.patch(f"/custom-fields/{field['id']}", json={"required": True}).status_code == 200
    assert api.patch(f"/contacts/{old['id']}", json={"title": "CTO"}).status_code == 200
    assert_error(api.post("/contacts", json={"first_name": "New"}), 400, "validation_error")


def test_patch_merges_and_null_removes(typed: Api, app: Flask, ws: TenantFixture) -> None:
    created = typed.create(
        first_name="Ann",
        custom_fields={"nickname": "Annie", "score": 7, "topics": ["Sales"], "vip": True},
    )
    one = f"/contacts/{created['id']}"
    response = typed.patch(one, json={"custom_fields": {"score": 8, "topics": None, "vip": False}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["custom_fields"] == {"nickname": "Annie", "score": 8, "vip": False}
    response = typed.patch(one, json={"custom_fields": {"nickname": "", "topics": []}})
    assert response.get_json()["custom_fields"] == {"score": 8, "vip": False}
    bad = typed.patch(one, json={"custom_fields": {"score": 9, "vip": "no"}})
    assert_error(bad, 400, "validation_error", "custom_fields.vip")
    assert typed.get(one).get_json()["custom_fields"] == {"score": 8, "vip": False}
    with tenant_session(app, ws) as session:
        changes = session.scalars(
            select(AuditEntry.changes)
            .where(AuditEntry.entity == "contact", AuditEntry.action == "updated")
            .order_by(AuditEntry.id)
        ).all()
        events = session.scalars(
            select(TimelineEvent.data)
            .where(TimelineEvent.contact_id == created["id"], TimelineEvent.kind == "updated")
            .order_by(TimelineEvent.id)
        ).all()
    assert changes[0] == {
        "custom_fields.score": [7, 8],
        "custom_fields.topics": [["Sales"], None],
        "custom_fields.vip": [True, False],
    }
    assert changes[1] == {"custom_fields.nickname": ["Annie", None]}
    assert events[0]["changes"] == changes[0]
    # Nothing changes: nothing recorded.
    typed.patch(one, json={"custom_fields": {"score": 8}})
    with tenant_session(app, ws) as session:
        count = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity == "contact", AuditEntry.action == "updated")
        )
    assert count == 2


def test_companies_carry_their_own_fields(api: Api) -> None:
    define(api, "company", "employees", "number")
    define(api, "company", "region", "single_select", options=["EMEA", "APAC"], required=True)
    define(api, "contact", "tier", "text")
    assert_error(api.post("/companies", json={"name": "Acme"}), 400, "validation_error",
                 "custom_fields.region")  # fmt: skip
    response = api.post(
        "/companies",
        json={"name": "Acme", "domain": "no", "custom_fields": {"employees": "many", "tier": "x"}},
    )
    details = assert_error(response, 400, "validation_error")
    assert set(details) == {
        "domain", "custom_fields.employees", "custom_fields.tier", "custom_fields.region"
    }  # fmt: skip
    created = api.post(
        "/companies", json={"name": "Acme", "custom_fields": {"employees": 50, "region": "emea"}}
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["custom_fields"] == {"employees": 50, "region": "EMEA"}
    one = f"/companies/{created.get_json()['id']}"
    patched = api.patch(one, json={"custom_fields": {"employees": None}})
    assert patched.get_json()["custom_fields"] == {"region": "EMEA"}
    assert_error(api.patch(one, json={"custom_fields": {"region": "LATAM"}}), 400,
                 "validation_error", "custom_fields.region")  # fmt: skip


def test_deals_carry_their_own_fields(api: Api) -> None:
    define(api, "deal", "renewal_on", "date", required=True)
    define(api, "deal", "discount", "money")
    response = api.post(
        "/deals",
        json={"title": "X", "currency": "XYZ", "custom_fields": {"discount": {"amount": "x"}}},
    )
    details = assert_error(response, 400, "validation_error")
    assert set(details) == {"currency", "custom_fields.discount", "custom_fields.renewal_on"}
    created = api.post(
        "/deals",
        json={
            "title": "Renewal",
            "custom_fields": {
                "renewal_on": "2030-01-31",
                "discount": {"amount": "100", "currency": "USD"},
            },
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["custom_fields"] == {
        "renewal_on": "2030-01-31",
        "discount": {"amount": "100.00", "currency": "USD"},
    }
    one = f"/deals/{body['id']}"
    patched = api.patch(one, json={"custom_fields": {"discount": None}, "title": "R2"})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["custom_fields"] == {"renewal_on": "2030-01-31"}
    assert_error(api.patch(one, json={"custom_fields": {"renewal_on": None}}), 400,
                 "validation_error", "custom_fields.renewal_on")  # fmt: skip
