"""The contacts API end to end: CRUD, validation, search, filters, sorting, cursor
pagination, hostile input, both ways of authenticating, role scopes and the audit trail."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from typing import Any

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEntry
from app.database import db
from app.identity.models import Membership
from tests.api.conftest import (
    APEX_URL,
    Api,
    assert_error,
    seed_contacts,
    set_timestamps,
    tenant_session,
)
from tests.conftest import csrf_token_from, login

BIGINT_OVERFLOW = "99999999999999999999"


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def audit_entries(app: Any, tf: Any, contact_id: int) -> list[AuditEntry]:
    with tenant_session(app, tf) as session:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity == "contact", AuditEntry.entity_id == contact_id)
                .order_by(AuditEntry.id)
            )
        )
        session.expunge_all()
        return rows


# --------------------------------------------------------------------------- create


def test_create_answers_201_with_location_and_the_contact(api: Api) -> None:
    response = api.post(
        "/contacts",
        json={
            "first_name": "  Ann ",
            "last_name": "Lee",
            "email": " Ann.Lee@Example.COM ",
            "phone": "+1 (555) 010-1234",
            "title": "CTO",
            "company_name": "Initech",
            "notes": "Met at the fair.",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/contacts/{body['id']}")
    assert body["first_name"] == "Ann"
    assert body["last_name"] == "Lee"
    assert body["email"] == "ann.lee@example.com"
    assert body["phone"] == "+1 (555) 010-1234"
    assert body["company_name"] == "Initech"
    assert body["owner_id"] == api.tf.owner_id
    assert body["created_at"] and body["updated_at"]
    again = api.get(response.headers["Location"].split("/api/v1", 1)[1])
    assert again.status_code == 200
    assert again.get_json() == body


def test_create_with_only_an_email_gives_empty_names(api: Api) -> None:
    body = api.create(email="solo@example.com")
    assert body["first_name"] == ""
    assert body["last_name"] == ""
    assert body["phone"] is None


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"first_name": "   "},
        {"first_name": "", "last_name": "", "email": ""},
        {"email": None, "phone": "123456"},
    ],
)
def test_create_needs_a_name_or_an_email(api: Api, payload: dict[str, Any]) -> None:
    details = assert_error(api.post("/contacts", json=payload), 400, "validation_error")
    assert details, "the offending field is named"


# --------------------------------------------------------------------------- read


def test_read_of_another_tenants_contact_is_404(api: Api, client: Any, two_tenants: Any) -> None:
    contact = api.create(first_name="Ann")
    other = Api(client, two_tenants[1])
    assert_error(other.get(f"/contacts/{contact['id']}"), 404, "not_found")
    assert_error(
        other.patch(f"/contacts/{contact['id']}", json={"first_name": "X"}), 404, "not_found"
    )
    assert_error(other.delete(f"/contacts/{contact['id']}"), 404, "not_found")
    assert api.get(f"/contacts/{contact['id']}").get_json()["first_name"] == "Ann"


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "contact_id", [BIGINT_OVERFLOW, "9223372036854775808", "0", "9223372036854775807"]
)
def test_ids_out_of_range_are_404(api: Api, method: str, contact_id: str) -> None:
    kwargs: dict[str, Any] = {"json": {"first_name": "X"}} if method == "PATCH" else {}
    response = api._call(method, f"/contacts/{contact_id}", **kwargs)
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("contact_id", ["-1", "abc", "1.5", "%00"])
def test_non_numeric_ids_are_404(api: Api, contact_id: str) -> None:
    assert_error(api.get(f"/contacts/{contact_id}"), 404, "not_found")


# --------------------------------------------------------------------------- update


def test_patch_changes_only_the_given_fields(api: Api) -> None:
    contact = api.create(first_name="Ann", last_name="Lee", email="ann@example.com", phone="123")
    response = api.patch(
        f"/contacts/{contact['id']}", json={"phone": "+44 20 7946 0000", "title": "CEO"}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["phone"] == "+44 20 7946 0000"
    assert body["title"] == "CEO"
    assert (body["first_name"], body["last_name"], body["email"]) == (
        "Ann",
        "Lee",
        "ann@example.com",
    )
    assert api.get(f"/contacts/{contact['id']}").get_json() == body


def test_patch_with_an_empty_object_changes_nothing(api: Api) -> None:
    contact = api.create(first_name="Ann")
    response = api.patch(f"/contacts/{contact['id']}", json={})
    assert response.status_code == 200
    assert response.get_json()["first_name"] == "Ann"


def test_patch_can_clear_optional_fields(api: Api) -> None:
    contact = api.create(first_name="Ann", email="ann@example.com", phone="123", title="CTO")
    body = api.patch(
        f"/contacts/{contact['id']}", json={"email": None, "phone": "", "title": None}
    ).get_json()
    assert (body["email"], body["phone"], body["title"]) == (None, None, None)
    assert body["first_name"] == "Ann"


def test_patch_may_clear_one_name_while_another_identifies_the_contact(api: Api) -> None:
    contact = api.create(first_name="Ann", last_name="Lee")
    response = api.patch(f"/contacts/{contact['id']}", json={"first_name": None})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["first_name"] == ""


@pytest.mark.parametrize(
    "payload",
    [
        {"first_name": "", "email": None},
        {"first_name": None, "email": ""},
        {"first_name": "  ", "email": "  "},
    ],
)
def test_patch_may_not_leave_the_contact_without_identity(
    api: Api, payload: dict[str, Any]
) -> None:
    contact = api.create(first_name="Ann", email="ann@example.com")
    assert_error(api.patch(f"/contacts/{contact['id']}", json=payload), 400, "validation_error")
    assert api.get(f"/contacts/{contact['id']}").get_json()["first_name"] == "Ann"


@pytest.mark.parametrize("field", ["nickname", "id", "created_at", "updated_at", "created_by_id"])
def test_unknown_and_read_only_fields_are_rejected_by_name(api: Api, field: str) -> None:
    contact = api.create(first_name="Ann")
    details = assert_error(
        api.patch(f"/contacts/{contact['id']}", json={"first_name": "Bo", field: 1}),
        400,
        "validation_error",
        field,
    )
    assert "first_name" not in details
    assert_error(
        api.post("/contacts", json={"first_name": "Bo", field: 1}), 400, "validation_error", field
    )
    assert api.get(f"/contacts/{contact['id']}").get_json()["first_name"] == "Ann"


WRONG_TYPES = [
    ("first_name", 123),
    ("first_name", ["Ann"]),
    ("last_name", {"a": 1}),
    ("email", 5),
    ("email", ["a@example.com"]),
    ("phone", 5551234),
    ("title", True),
    ("company_name", 1.5),
    ("notes", ["x"]),
    ("owner_id", "1"),
    ("owner_id", 1.5),
    ("owner_id", True),
    ("owner_id", [1]),
    ("owner_id", {"id": 1}),
]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES)
def test_wrong_types_are_400_on_the_field(api: Api, field: str, value: Any) -> None:
    assert_error(
        api.post("/contacts", json={"first_name": "Ann", field: value}),
        400,
        "validation_error",
        field,
    )
    contact = api.create(first_name="Ann")
    assert_error(
        api.patch(f"/contacts/{contact['id']}", json={field: value}), 400, "validation_error", field
    )


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "a@",
        "@example.com",
        "a b@example.com",
        "a@b@example.com",
        "ann@example..com",
    ],
)
def test_invalid_emails_are_400(api: Api, email: str) -> None:
    assert_error(
        api.post("/contacts", json={"first_name": "Ann", "email": email}),
        400,
        "validation_error",
        "email",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "a" * 101),
        ("last_name", "b" * 101),
        ("email", "a" * 250 + "@example.com"),
        ("phone", "1" * 41),
        ("title", "t" * 151),
        ("company_name", "c" * 201),
        ("notes", "n" * 20001),
    ],
)
def test_too_long_values_are_400(api: Api, field: str, value: str) -> None:
    payload = {"first_name": "Ann", field: value} if field != "first_name" else {field: value}
    assert_error(api.post("/contacts", json=payload), 400, "validation_error", field)
    contact = api.create(first_name="Ann")
    assert_error(
        api.patch(f"/contacts/{contact['id']}", json={field: value}), 400, "validation_error", field
    )


def test_longest_allowed_values_are_stored(api: Api) -> None:
    body = api.create(
        first_name="a" * 100,
        last_name="b" * 100,
        phone="1" * 40,
        title="t" * 150,
        company_name="c" * 200,
        notes="n" * 20000,
    )
    assert len(body["first_name"]) == 100 and len(body["notes"]) == 20000


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "An\x00n"),
        ("email", "ann\x00@example.com"),
        ("notes", "line\x00"),
        ("company_name", "\x00"),
        ("phone", "12\n3"),
        ("title", "CEO\nCTO"),
        ("first_name", "A\x07"),
        ("phone", "12a34"),
    ],
)
def test_unstorable_characters_are_400_not_500(api: Api, field: str, value: str) -> None:
    payload = {"last_name": "Lee", field: value}
    assert_error(api.post("/contacts", json=payload), 400, "validation_error", field)


# --------------------------------------------------------------------------- delete


def test_delete_is_204_then_404(api: Api) -> None:
    contact = api.create(first_name="Ann")
    response = api.delete(f"/contacts/{contact['id']}")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(api.get(f"/contacts/{contact['id']}"), 404, "not_found")
    assert_error(api.delete(f"/contacts/{contact['id']}"), 404, "not_found")
    assert_error(
        api.patch(f"/contacts/{contact['id']}", json={"first_name": "X"}), 404, "not_found"
    )
    assert contact["id"] not in ids(api.get("/contacts"))


# --------------------------------------------------------------------------- search and filters


@pytest.fixture
def people(api: Api, factory: Any) -> dict[str, Any]:
    rep_id, _, rep_token = factory.member(api.tf, role="sales_rep")
    made = {
        "ann": api.create(
            first_name="Ann",
            last_name="Lee",
            email="ann@initech.com",
            phone="+1 (555) 010-1234",
            company_name="Initech",
        ),
        "bob": api.create(
            first_name="Bob",
            last_name="Stone",
            email="bob@globex.com",
            phone="555.777.8888",
            company_name="Globex Corporation",
        ),
        "cy": api.create(
            first_name="Cy", last_name="Annand", company_name="100% Pure", owner_id=rep_id
        ),
        "dee": api.create(email="dee_x@umbrella.io", phone="020 7946 0000", owner_id=rep_id),
    }
    return {"contacts": made, "rep_id": rep_id, "rep_token": rep_token}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ann", {"ann", "cy"}),  # first name of one, last name of the other
        ("ANN LEE", {"ann"}),  # full name, case-insensitive
        ("stone", {"bob"}),
        ("globex.com", {"bob"}),  # email
        ("UMBRELLA", {"dee"}),  # email, case-insensitive
        ("initech", {"ann"}),  # company (and email)
        ("corporation", {"bob"}),  # company only
        ("5550101", {"ann"}),  # phone digits, whatever the formatting
        ("(555) 010", {"ann"}),
        ("777-8888", {"bob"}),
        ("79460000", {"dee"}),
        ("100%", {"cy"}),  # % is a character, not a wildcard
        ("dee_", {"dee"}),  # _ likewise
        ("%", {"cy"}),
        ("_", {"dee"}),
        ("zzz", set()),
        ("   ", {"ann", "bob", "cy", "dee"}),  # blank: no search
    ],
)
def test_q_searches_name_email_company_and_phone_digits(
    api: Api, people: dict[str, Any], q: str, expected: set[str]
) -> None:
    by_id = {c["id"]: name for name, c in people["contacts"].items()}
    found = {by_id[i] for i in ids(api.get("/contacts", query_string={"q": q}))}
    assert found == expected


def test_filters_owner_id_and_email(api: Api, people: dict[str, Any]) -> None:
    made = people["contacts"]
    rep = {made["cy"]["id"], made["dee"]["id"]}
    assert set(ids(api.get("/contacts", query_string={"owner_id": people["rep_id"]}))) == rep
    assert set(ids(api.get("/contacts", query_string={"owner_id": api.tf.owner_id}))) == {
        made["ann"]["id"],
        made["bob"]["id"],
    }
    assert ids(api.get("/contacts", query_string={"email": "Bob@Globex.com "})) == [
        made["bob"]["id"]
    ]
    assert ids(api.get("/contacts", query_string={"email": "nobody@example.com"})) == []
    both = api.get("/contacts", query_string={"owner_id": people["rep_id"], "q": "ann"})
    assert ids(both) == [made["cy"]["id"]]
    assert ids(api.get("/contacts", query_string={"owner_id": 424242})) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"owner_id": "abc"}, "owner_id"),
        ({"owner_id": "1.5"}, "owner_id"),
        ({"owner_id": BIGINT_OVERFLOW}, "owner_id"),
        ({"owner_id": "9" * 5000}, "owner_id"),
        ({"owner_id": "-1"}, "owner_id"),
        ({"q": "a" * 201}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"email": "a\x00@example.com"}, "email"),
        ({"email": "e" * 255}, "email"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "\u00b2"}, "limit"),
        ({"limit": "\u0661\u0662"}, "limit"),
        ({"limit": "9" * 5000}, "limit"),
        ({"sort": "phone"}, "sort"),
        ({"sort": "id"}, "sort"),
        ({"sort": "--email"}, "sort"),
        ({"sort": "-"}, "sort"),
        ({"sort": "email,first_name"}, "sort"),
        ({"sort": "x" * 5000}, "sort"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "!!!!"}, "cursor"),
        ({"cursor": "x" * 600}, "cursor"),
        ({"bogus": "1"}, "bogus"),
    ],
)
def test_bad_list_parameters_are_400_on_the_parameter(
    api: Api, params: dict[str, str], field: str
) -> None:
    assert_error(api.get("/contacts", query_string=params), 400, "validation_error", field)


def test_a_parameter_given_twice_is_400(api: Api) -> None:
    response = api.get("/contacts?owner_id=1&owner_id=2&limit=5")
    details = assert_error(response, 400, "validation_error", "owner_id")
    assert "limit" not in details


def _cursor(payload: Any) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe not json",
        b"\x80",
        {"a": 1},
        42,
        None,
        [],
        ["created_at", True, "2024-01-01T00:00:00+00:00"],
        ["created_at", True, "not a date", 1],
        ["created_at", True, "2024-01-01T00:00:00", 1],  # naive timestamp
        ["created_at", True, 12, 1],
        ["created_at", True, "2024-01-01T00:00:00+00:00", "1"],
        ["created_at", True, "2024-01-01T00:00:00+00:00", True],
        ["created_at", True, "2024-01-01T00:00:00+00:00", 10**20],
        ["created_at", True, "2024-01-01T00:00:00+00:00", -(10**20)],
        ["created_at", "yes", "2024-01-01T00:00:00+00:00", 1],
        ["last_name", False, "a", 1],  # sort is -created_at
        ["created_at", False, "2024-01-01T00:00:00+00:00", 1],  # other direction
    ],
)
def test_malformed_or_foreign_cursors_are_400(api: Api, payload: Any) -> None:
    api.create(first_name="Ann")
    response = api.get("/contacts", query_string={"cursor": _cursor(payload)})
    assert_error(response, 400, "validation_error", "cursor")


@pytest.mark.parametrize(
    ("sort", "payload"),
    [
        ("last_name", ["last_name", False, "a\x00", 1]),
        ("last_name", ["last_name", False, 12, 1]),
        ("email", ["email", False, ["x"], 1]),
    ],
)
def test_cursor_values_that_can_not_reach_sql_are_400(api: Api, sort: str, payload: Any) -> None:
    response = api.get("/contacts", query_string={"sort": sort, "cursor": _cursor(payload)})
    assert_error(response, 400, "validation_error", "cursor")


def test_a_cursor_from_another_sort_is_400(api: Api) -> None:
    for name in ("a", "b", "c"):
        api.create(first_name=name, email=f"{name}@example.com")
    first = api.get("/contacts", query_string={"sort": "email", "limit": 1}).get_json()
    assert first["next_cursor"]
    for other in ("-email", "first_name", "-created_at"):
        response = api.get(
            "/contacts", query_string={"sort": other, "cursor": first["next_cursor"], "limit": 1}
        )
        assert_error(response, 400, "validation_error", "cursor")
    same = api.get(
        "/contacts", query_string={"sort": "email", "cursor": first["next_cursor"], "limit": 1}
    )
    assert same.status_code == 200


# --------------------------------------------------------------------------- sorting and pagination

ALPHABET = "abc"


def _word(rng: random.Random) -> str:
    # Same-length lowercase words: their order is the same under any collation.
    return "".join(rng.choice(ALPHABET) for _ in range(3))


@pytest.fixture
def many(app: Any, api: Api) -> list[dict[str, Any]]:
    """120 contacts in 4 insert transactions (ties in created_at), names and emails
    drawn from 27 words (ties everywhere), every 5th email NULL, updated_at spread out
    with ties."""
    rng = random.Random(7)
    created: list[int] = []
    for _batch in range(4):
        rows = []
        for _ in range(30):
            n = len(created) + len(rows)
            rows.append(
                {
                    "first_name": _word(rng),
                    "last_name": _word(rng),
                    "email": None if n % 5 == 0 else f"{_word(rng)}@example.com",
                }
            )
        created += seed_contacts(app, api.tf, rows)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    set_timestamps(
        app, api.tf, {cid: base + dt.timedelta(minutes=rng.randint(0, 40)) for cid in created}
    )
    every: list[dict[str, Any]] = []
    cursor = None
    while True:
        query: dict[str, Any] = {"limit": 200, "sort": "created_at"}
        if cursor:
            query["cursor"] = cursor
        body = api.get("/contacts", query_string=query).get_json()
        every += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(c["id"] for c in every) == sorted(created)
    return every


def _expected(rows: list[dict[str, Any]], key: str, descending: bool) -> list[int]:
    def parse(value: Any) -> Any:
        return dt.datetime.fromisoformat(value) if key.endswith("_at") else value

    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    present.sort(key=lambda r: (parse(r[key]), r["id"]), reverse=descending)
    missing.sort(key=lambda r: r["id"], reverse=descending)
    return [r["id"] for r in present + missing]  # NULLs last in both directions


def _walk(api: Api, limit: int, **query: Any) -> tuple[list[int], int]:
    seen: list[int] = []
    pages = 0
    cursor = None
    while True:
        params = {"limit": limit, **query}
        if cursor:
            params["cursor"] = cursor
        response = api.get("/contacts", query_string=params)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        pages += 1
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert isinstance(cursor, str) and len(cursor) <= 500
        assert pages < 100, "pagination does not terminate"


@pytest.mark.parametrize("key", ["created_at", "updated_at", "last_name", "first_name", "email"])
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_cursor_pagination_returns_every_row_once_in_order(
    api: Api, many: list[dict[str, Any]], key: str, descending: bool
) -> None:
    sort = ("-" if descending else "") + key
    seen, pages = _walk(api, 7, sort=sort)
    assert len(seen) == len(set(seen)) == 120
    assert seen == _expected(many, key, descending)
    assert pages == 18  # 17 full pages of 7 and one of 1, and no empty trailing page


def test_default_sort_is_newest_first_and_default_limit_50(
    api: Api, many: list[dict[str, Any]]
) -> None:
    body = api.get("/contacts").get_json()
    assert [c["id"] for c in body["items"]] == _expected(many, "created_at", True)[:50]
    assert body["next_cursor"]


def test_exact_multiple_of_the_limit_has_no_empty_last_page(api: Api) -> None:
    for n in range(6):
        api.create(first_name=f"n{n}")
    first = api.get("/contacts", query_string={"limit": 3}).get_json()
    second = api.get(
        "/contacts", query_string={"limit": 3, "cursor": first["next_cursor"]}
    ).get_json()
    assert len(second["items"]) == 3 and second["next_cursor"] is None
    assert api.get("/contacts", query_string={"limit": 6}).get_json()["next_cursor"] is None


def test_pagination_of_a_search_and_under_concurrent_inserts(api: Api, app: Any) -> None:
    seeded = seed_contacts(
        app,
        api.tf,
        [{"first_name": f"match{i:02}"} for i in range(20)]
        + [{"first_name": f"other{i:02}"} for i in range(20)],
    )
    matches = set(seeded[:20])
    first = api.get(
        "/contacts", query_string={"q": "match", "limit": 6, "sort": "first_name"}
    ).get_json()
    # Rows created while someone pages do not shift or repeat what they see.
    api.create(first_name="match00")
    api.create(first_name="aaa-match")
    seen = [c["id"] for c in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        body = api.get(
            "/contacts",
            query_string={"q": "match", "limit": 6, "sort": "first_name", "cursor": cursor},
        ).get_json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
    # Both new rows sort before the cursor of the first page, so they are not seen.
    assert len(seen) == len(set(seen)) == 20
    assert set(seen) == matches


def test_sales_rep_pages_only_through_their_own(
    api: Api, app: Any, client: Any, factory: Any
) -> None:
    rep_id, _, rep_token = factory.member(api.tf, role="sales_rep")
    seed_contacts(app, api.tf, [{"first_name": f"o{i}"} for i in range(10)])
    mine = seed_contacts(
        app, api.tf, [{"first_name": f"r{i:02}", "owner_id": rep_id} for i in range(11)]
    )
    rep = Api(client, api.tf, token=rep_token)
    seen, pages = _walk(rep, 4, sort="first_name")
    assert seen == mine
    assert pages == 3


# --------------------------------------------------------------------------- request bodies


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("first_name=Ann", "application/x-www-form-urlencoded"),
        ('{"first_name": "Ann"}', "text/plain"),
        ('{"first_name": "Ann"}', None),
        ("<contact/>", "application/xml"),
    ],
)
def test_non_json_bodies_are_415(api: Api, data: str, content_type: str | None) -> None:
    kwargs: dict[str, Any] = {"data": data}
    if content_type:
        kwargs["content_type"] = content_type
    assert_error(api.post("/contacts", **kwargs), 415, "unsupported_media_type")
    contact = api.create(first_name="Ann")
    assert_error(api.patch(f"/contacts/{contact['id']}", **kwargs), 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "raw",
    [b"[]", b'[{"first_name": "Ann"}]', b'"Ann"', b"42", b"null", b"true"],
)
def test_json_that_is_not_an_object_is_400(api: Api, raw: bytes) -> None:
    assert_error(
        api.post("/contacts", data=raw, content_type="application/json"), 400, "validation_error"
    )
    contact = api.create(first_name="Ann")
    assert_error(
        api.patch(f"/contacts/{contact['id']}", data=raw, content_type="application/json"),
        400,
        "validation_error",
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"first_name": }',
        b"{'first_name': 'Ann'}",
        b'{"first_name": "Ann"} trailing',
        b'{"first_name": "\xff\xfe"}',
        b"\xff\xfe\x00{",
        b'{"first_name": "\\ud800"}',  # a lone surrogate
        b'{"owner_id": 1' + b"0" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
    ids=[
        "empty",
        "open-brace",
        "missing-value",
        "single-quotes",
        "trailing",
        "bad-utf8",
        "bom-garbage",
        "lone-surrogate",
        "huge-int",
        "deep-array",
        "deep-object",
    ],
)
def test_malformed_json_is_400_not_500(api: Api, raw: bytes) -> None:
    assert_error(
        api.post("/contacts", data=raw, content_type="application/json"), 400, "validation_error"
    )


def test_json_with_a_charset_is_accepted(api: Api) -> None:
    response = api.post(
        "/contacts",
        data='{"first_name": "Zo\u00eb"}'.encode(),
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 201
    assert response.get_json()["first_name"] == "Zo\u00eb"


def test_huge_bodies_are_refused(api: Api) -> None:
    huge = b'{"notes": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    assert_error(
        api.post("/contacts", data=huge, content_type="application/json"), 413, "payload_too_large"
    )
    contact = api.create(first_name="Ann")
    assert_error(
        api.patch(f"/contacts/{contact['id']}", data=huge, content_type="application/json"),
        413,
        "payload_too_large",
    )
    # Big but acceptable bodies are judged on their content.
    big = {"first_name": "Ann", "notes": "x" * 200_000}
    assert_error(api.post("/contacts", json=big), 400, "validation_error", "notes")


# --------------------------------------------------------------------------- routing errors


def test_method_not_allowed_is_a_json_405(api: Api) -> None:
    contact = api.create(first_name="Ann")
    response = api._call("PUT", f"/contacts/{contact['id']}", json={"first_name": "X"})
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH", "DELETE"}
    assert_error(api._call("DELETE", "/contacts"), 405, "method_not_allowed")
    assert_error(api._call("POST", "/me", json={}), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/nope", "/contacts/1/nope", "/", ""])
def test_unknown_api_paths_are_json_404(api: Api, client: Any, path: str) -> None:
    assert_error(api.get(path), 404, "not_found")
    assert_error(
        client.get("/api/v1" + path, base_url=APEX_URL, headers=api.tf.auth()), 404, "not_found"
    )


def test_unknown_workspace_host_is_json_404(client: Any, api: Api) -> None:
    response = client.get(
        "/api/v1/contacts", base_url="http://no-such-workspace.crm.test", headers=api.tf.auth()
    )
    assert_error(response, 404, "not_found")


# --------------------------------------------------------------------------- authentication


def test_no_or_bad_credentials_are_401(client: Any, api: Api, two_tenants: Any) -> None:
    a, b = two_tenants
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer " + "x" * 5000},
    ):
        response = client.get("/api/v1/contacts", base_url=a.base_url, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert_error(
            client.get("/api/v1/contacts", base_url=APEX_URL, headers=headers), 401, "unauthorized"
        )
    # B's token on A's host.
    assert_error(
        client.get("/api/v1/contacts", base_url=a.base_url, headers=b.auth()), 401, "unauthorized"
    )
    assert_error(
        client.post(
            "/api/v1/contacts", base_url=a.base_url, headers=b.auth(), json={"first_name": "X"}
        ),
        401,
        "unauthorized",
    )


def test_a_token_works_on_the_apex_host(client: Any, two_tenants: Any) -> None:
    a, b = two_tenants
    on_apex = Api(client, a, base_url=APEX_URL)
    response = on_apex.post("/contacts", json={"first_name": "Apex"})
    assert response.status_code == 201
    location = response.headers["Location"]
    assert location.endswith(f"/api/v1/contacts/{response.get_json()['id']}")
    assert on_apex.get(location.split("/api/v1", 1)[1]).status_code == 200
    assert ids(on_apex.get("/contacts")) == [response.get_json()["id"]]
    # B's token on the apex host sees B's (empty) workspace only.
    assert ids(Api(client, b, base_url=APEX_URL).get("/contacts")) == []
    me = on_apex.get("/me").get_json()
    assert me["tenant"]["slug"] == a.slug and me["auth"] == "token"


def test_session_cookie_on_the_workspace_host(client: Any, api: Api) -> None:
    tf = api.tf
    assert login(client, tf).status_code == 302
    listing = client.get("/api/v1/contacts", base_url=tf.base_url)
    assert listing.status_code == 200 and listing.get_json() == {"items": [], "next_cursor": None}
    me = client.get("/api/v1/me", base_url=tf.base_url).get_json()
    assert me["email"] == tf.owner_email and me["auth"] == "session"

    # Writes need the CSRF token in X-CSRFToken.
    no_token = client.post("/api/v1/contacts", base_url=tf.base_url, json={"first_name": "Ann"})
    assert_error(no_token, 403, "forbidden")
    bad_token = client.post(
        "/api/v1/contacts",
        base_url=tf.base_url,
        json={"first_name": "Ann"},
        headers={"X-CSRFToken": "forged"},
    )
    assert_error(bad_token, 403, "forbidden")
    token = csrf_token_from(client.get("/contacts", base_url=tf.base_url).get_data(as_text=True))
    created = client.post(
        "/api/v1/contacts",
        base_url=tf.base_url,
        json={"first_name": "Ann"},
        headers={"X-CSRFToken": token},
    )
    assert created.status_code == 201, created.get_json()
    cid = created.get_json()["id"]
    assert_error(
        client.patch(f"/api/v1/contacts/{cid}", base_url=tf.base_url, json={"last_name": "Lee"}),
        403,
        "forbidden",
    )
    assert_error(client.delete(f"/api/v1/contacts/{cid}", base_url=tf.base_url), 403, "forbidden")
    patched = client.patch(
        f"/api/v1/contacts/{cid}",
        base_url=tf.base_url,
        json={"last_name": "Lee"},
        headers={"X-CSRFToken": token},
    )
    assert patched.status_code == 200 and patched.get_json()["last_name"] == "Lee"
    deleted = client.delete(
        f"/api/v1/contacts/{cid}", base_url=tf.base_url, headers={"X-CSRFToken": token}
    )
    assert deleted.status_code == 204

    # The cookie means nothing on the apex host.
    assert_error(client.get("/api/v1/contacts", base_url=APEX_URL), 401, "unauthorized")


def test_me_describes_the_caller_and_the_workspace(api: Api, client: Any, factory: Any) -> None:
    me = api.get("/me").get_json()
    assert me["id"] == api.tf.owner_id
    assert me["email"] == api.tf.owner_email
    assert me["role"] == "owner"
    assert me["auth"] == "token"
    assert me["tenant"] == {"id": api.tf.tenant.id, "slug": api.tf.slug, "name": api.tf.tenant.name}
    rep_id, rep_email, rep_token = factory.member(api.tf, role="sales_rep")
    rep = Api(client, api.tf, token=rep_token).get("/me").get_json()
    assert (rep["id"], rep["email"], rep["role"]) == (rep_id, rep_email, "sales_rep")


# --------------------------------------------------------------------------- scopes


@pytest.fixture
def rep(api: Api, client: Any, factory: Any) -> tuple[int, Api]:
    rep_id, _, rep_token = factory.member(api.tf, role="sales_rep")
    return rep_id, Api(client, api.tf, token=rep_token)


def test_sales_rep_sees_and_changes_only_their_own(api: Api, rep: tuple[int, Api]) -> None:
    rep_id, rep_api = rep
    owners = api.create(first_name="Owners", email="owners@example.com")
    theirs = api.create(first_name="Reps", owner_id=rep_id)
    assert ids(rep_api.get("/contacts")) == [theirs["id"]]
    assert ids(rep_api.get("/contacts", query_string={"owner_id": api.tf.owner_id})) == []
    assert ids(rep_api.get("/contacts", query_string={"email": "owners@example.com"})) == []
    assert ids(rep_api.get("/contacts", query_string={"q": "owners"})) == []
    assert_error(rep_api.get(f"/contacts/{owners['id']}"), 404, "not_found")
    assert_error(
        rep_api.patch(f"/contacts/{owners['id']}", json={"first_name": "X"}), 404, "not_found"
    )
    assert_error(rep_api.delete(f"/contacts/{owners['id']}"), 404, "not_found")
    assert api.get(f"/contacts/{owners['id']}").get_json()["first_name"] == "Owners"
    assert rep_api.patch(f"/contacts/{theirs['id']}", json={"title": "CFO"}).status_code == 200
    assert rep_api.delete(f"/contacts/{theirs['id']}").status_code == 204


def test_sales_rep_creates_for_themselves_only(api: Api, rep: tuple[int, Api]) -> None:
    rep_id, rep_api = rep
    created = rep_api.create(first_name="Mine")
    assert created["owner_id"] == rep_id
    assert rep_api.create(first_name="Also mine", owner_id=rep_id)["owner_id"] == rep_id
    assert_error(
        rep_api.post("/contacts", json={"first_name": "X", "owner_id": api.tf.owner_id}),
        400,
        "validation_error",
        "owner_id",
    )
    assert_error(
        rep_api.post("/contacts", json={"first_name": "X", "owner_id": None}),
        400,
        "validation_error",
        "owner_id",
    )
    # Nor can they give their own contact away (and lose sight of it).
    assert_error(
        rep_api.patch(f"/contacts/{created['id']}", json={"owner_id": api.tf.owner_id}),
        400,
        "validation_error",
        "owner_id",
    )
    assert_error(
        rep_api.patch(f"/contacts/{created['id']}", json={"owner_id": None}),
        400,
        "validation_error",
        "owner_id",
    )
    assert rep_api.get(f"/contacts/{created['id']}").get_json()["owner_id"] == rep_id
    assert sorted(ids(api.get("/contacts", query_string={"owner_id": api.tf.owner_id}))) == []


def test_owner_assigns_contacts_to_active_members_of_this_workspace(
    api: Api, app: Any, client: Any, factory: Any, two_tenants: Any
) -> None:
    rep_id, _, _ = factory.member(api.tf, role="sales_rep")
    other_tenant_owner = two_tenants[1].owner_id
    assert api.create(first_name="Rep's", owner_id=rep_id)["owner_id"] == rep_id
    contact = api.create(first_name="Ann")
    for bad in (other_tenant_owner, 987654321, 2**63 - 1, 2**63, 10**30, 0, -5):
        assert_error(
            api.post("/contacts", json={"first_name": "X", "owner_id": bad}),
            400,
            "validation_error",
            "owner_id",
        )
        assert_error(
            api.patch(f"/contacts/{contact['id']}", json={"owner_id": bad}),
            400,
            "validation_error",
            "owner_id",
        )
    # Unowned contacts are allowed for roles that see everything.
    assert (
        api.patch(f"/contacts/{contact['id']}", json={"owner_id": None}).get_json()["owner_id"]
        is None
    )
    # A deactivated member can no longer be given contacts.
    with app.app_context():
        db.session.execute(
            update(Membership)
            .where(Membership.user_id == rep_id, Membership.tenant_id == api.tf.tenant.id)
            .values(is_active=False)
        )
        db.session.commit()
        db.session.remove()
    assert_error(
        api.patch(f"/contacts/{contact['id']}", json={"owner_id": rep_id}),
        400,
        "validation_error",
        "owner_id",
    )


def test_viewer_reads_but_never_writes(api: Api, client: Any, factory: Any) -> None:
    _, _, token = factory.member(api.tf, role="viewer")
    viewer = Api(client, api.tf, token=token)
    contact = api.create(first_name="Ann")
    assert ids(viewer.get("/contacts")) == [contact["id"]]
    assert viewer.get(f"/contacts/{contact['id']}").status_code == 200
    assert_error(viewer.post("/contacts", json={"first_name": "X"}), 403, "forbidden")
    assert_error(
        viewer.patch(f"/contacts/{contact['id']}", json={"first_name": "X"}), 403, "forbidden"
    )
    assert_error(viewer.delete(f"/contacts/{contact['id']}"), 403, "forbidden")
    # Forbidden comes before anything else about the request.
    assert_error(viewer.post("/contacts", data="x", content_type="text/plain"), 403, "forbidden")
    assert_error(viewer.patch(f"/contacts/{BIGINT_OVERFLOW}", json={}), 403, "forbidden")
    assert api.get(f"/contacts/{contact['id']}").get_json()["first_name"] == "Ann"


# --------------------------------------------------------------------------- audit


def test_every_change_is_audited_with_the_changed_fields(api: Api, app: Any) -> None:
    contact = api.create(first_name="Ann", email="ann@example.com")
    api.patch(
        f"/contacts/{contact['id']}",
        json={"first_name": "Anne", "email": "ann@example.com", "title": "CTO"},
    )
    api.patch(f"/contacts/{contact['id']}", json={"first_name": "Anne"})  # no change: no entry
    api.delete(f"/contacts/{contact['id']}")
    entries = audit_entries(app, api.tf, contact["id"])
    assert [e.action for e in entries] == ["created", "updated", "deleted"]
    assert all(e.actor_id == api.tf.owner_id for e in entries)
    created, updated, deleted = entries
    assert created.changes["first_name"] == [None, "Ann"]
    assert created.changes["email"] == [None, "ann@example.com"]
    assert created.changes["owner_id"] == [None, api.tf.owner_id]
    assert updated.changes == {"first_name": ["Ann", "Anne"], "title": [None, "CTO"]}
    assert deleted.changes["name"] == ["Anne", None]


def test_audit_stays_in_the_tenant_schema(
    api: Api, app: Any, client: Any, two_tenants: Any
) -> None:
    contact = api.create(first_name="Ann")
    other = two_tenants[1]
    with tenant_session(app, other) as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.entity == "contact")).all() == []
    assert len(audit_entries(app, api.tf, contact["id"])) == 1


def test_rejected_requests_write_nothing(api: Api, app: Any, rep: tuple[int, Api]) -> None:
    contact = api.create(first_name="Ann")
    api.patch(f"/contacts/{contact['id']}", json={"first_name": "X" * 500})
    api.patch(f"/contacts/{contact['id']}", json={"owner_id": 987654321})
    _, rep_api = rep
    rep_api.delete(f"/contacts/{contact['id']}")
    assert [e.action for e in audit_entries(app, api.tf, contact["id"])] == ["created"]


# --------------------------------------------------------------------------- company link


def test_contact_company_source_birthday_and_tags(api: Api) -> None:
    company = api.post("/companies", json={"name": "Initech"}).get_json()
    created = api.create(
        first_name="Ann",
        company_id=company["id"],
        source=" Trade fair ",
        birthday="1990-05-17",
        tags=["VIP", "vip", "Partner"],
    )
    assert created["company_id"] == company["id"]
    assert created["company"] == {"id": company["id"], "name": "Initech"}
    assert created["source"] == "Trade fair"
    assert created["birthday"] == "1990-05-17"
    assert created["tags"] == ["VIP", "Partner"]
    bare = api.create(first_name="Bo")
    assert bare["company"] is None and bare["company_id"] is None
    assert bare["tags"] == [] and bare["birthday"] is None and bare["source"] is None
    cleared = api.patch(
        f"/contacts/{created['id']}", json={"company_id": None, "birthday": None, "tags": []}
    ).get_json()
    assert cleared["company"] is None and cleared["birthday"] is None and cleared["tags"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"birthday": "2999-01-01"}, "birthday"),
        ({"birthday": "1899-12-31"}, "birthday"),
        ({"birthday": "17.05.1990"}, "birthday"),
        ({"source": "x" * 101}, "source"),
        ({"source": "a\x00"}, "source"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"tags": "VIP"}, "tags"),
        ({"company_id": 987654321}, "company_id"),
        ({"company_id": 0}, "company_id"),
        ({"company_id": "1"}, "company_id"),
        ({"company": {"id": 1}}, "company"),
    ],
)
def test_bad_company_link_and_details_are_refused(
    api: Api, body: dict[str, Any], field: str
) -> None:
    assert_error(
        api.post("/contacts", json={"first_name": "A", **body}), 400, "validation_error", field
    )
