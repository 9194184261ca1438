"""GET /api/v1/search and app.search.services on real PostgreSQL: what is found, in which
order, for whom, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.access.policy import actor_for
from app.errors import InvalidInput
from app.search.services import clean_query, phone_digits_of, search
from tests.api.conftest import APEX_URL, Api, assert_error, tenant_session
from tests.conftest import Factory
from tests.search.conftest import World

# --------------------------------------------------------------------------- what is found


@pytest.mark.parametrize(
    ("q", "first"),
    [
        ("John Smith", "c_john"),  # the full name
        ("smith", "c_john"),  # the last name
        ("smith john", "c_john"),  # last name first
        ("JOHN.SMITH@INITECH.EXAMPLE", "c_john"),  # the email, any case
        ("john.smi", "c_john"),  # the start of the email
        ("initech.example", "c_john"),  # part of the email
        ("initech", "c_john"),  # the company as typed
        ("acme corp", "o_acme"),  # the start of a company name
        ("corporation", "o_acme"),  # a later word of it
        ("acme.example", "o_acme"),  # its domain
        ("renewal", "d_acme"),  # a word of a deal title
        ("zoë müller", "c_zoe"),  # letters beyond ASCII
        ("ZOË MÜLLER", "c_zoe"),  # and their case
    ],
)
def test_finds_by_name_email_company_domain_and_title(world: World, q: str, first: str) -> None:
    assert world.names(q)[0] == first


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("jonh smith", "c_john"),  # transposed letters
        ("john smiht", "c_john"),
        ("acme corporatoin", "o_acme"),
        ("globx", "o_globex"),  # a letter missing
        ("hooli pilt", "d_hooli"),
    ],
)
def test_typos_find_similar_records(world: World, q: str, expected: str) -> None:
    response = world.search(q)
    assert response.status_code == 200
    hits = response.get_json()["items"]
    assert hits, f"nothing found for {q!r}"
    key = world.keyed()[expected]
    best = next(hit for hit in hits if hit["type"] == key[0])
    assert (best["type"], best["id"]) == key
    assert best["match"] == "similar"


def test_similar_records_only_when_nothing_matches(world: World) -> None:
    # "john" is contained in John and in Johnson: no typo search, no noise.
    hits = world.search("john").get_json()["items"]
    assert {hit["match"] for hit in hits} <= {"exact", "prefix", "contains"}
    assert world.names("john")[:2] == ["c_john", "c_johnson"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("+1 (555) 010-2000", ["c_john", "c_email"]),  # exact digits, then the same number
        ("5550102000", ["c_email", "c_john"]),  # stored "+1 (555) 010-2000" contains it
        ("555-010-2000", ["c_email", "c_john"]),
        ("(555) 010 2000", ["c_email", "c_john"]),
        ("010-2000", ["c_email", "c_john"]),  # both contain it: by title
        ("+49 30 1234567", ["c_ann"]),  # a country code, stored "030 1234567"
        ("1234567", ["c_ann"]),
        ("+44 20 7946 0000", ["o_acme"]),
        ("7946", ["o_acme"]),
    ],
)
def test_phone_numbers_match_by_digits_whatever_the_formatting(
    world: World, q: str, expected: list[str]
) -> None:
    found = world.names(q)
    assert sorted(found) == sorted(expected), found
    assert found[0] == expected[0]


def test_an_email_address_finds_the_person_and_their_company(world: World) -> None:
    assert world.names("john.smith@initech.example") == ["c_john"]  # exactly, nothing more
    # Nobody has this address; the company with its domain is found, deals are not asked.
    assert world.names("nobody@acme.example") == ["o_acme"]


def test_two_digits_are_not_a_phone_number(world: World) -> None:
    assert world.names("55") == []


def test_exact_then_prefix_then_contains(world: World) -> None:
    response = world.search("ann lee")
    hits = [(h["match"], world_name(world, h)) for h in response.get_json()["items"]]
    # Every word typed starts a word of Annabel Leeds, and is inside Joanne Lee.
    assert hits == [("exact", "c_ann"), ("prefix", "c_annabel"), ("contains", "c_joanne")]


def world_name(world: World, hit: dict[str, Any]) -> str:
    by_key = {key: name for name, key in world.keyed().items()}
    return by_key[(hit["type"], hit["id"])]


def test_two_characters_search_by_prefix(world: World) -> None:
    found = world.names("an")
    assert found[:2] == ["c_ann", "c_annabel"]
    assert "c_joanne" not in found  # "an" inside a word is no prefix


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("100%", ["c_pct"]),  # % is a character, not a wildcard
        ("0% pure", ["c_pct"]),
        ("pure_g", ["c_pct"]),  # _ likewise
        ("dee_x", ["c_email"]),
        ("abc\\def", ["c_slash"]),  # so is the backslash
        ("abc\\", ["c_slash"]),
        ("abc%def", []),
        ("abc_def", []),
        ("%%", []),
        ("__", []),
        ("\\\\", []),
        ("'; drop table contacts; --", []),
    ],
)
def test_wildcards_and_quotes_are_plain_characters(
    world: World, q: str, expected: list[str]
) -> None:
    response = world.search(q)
    assert response.status_code == 200
    # (A typo search may still offer similar records: "abc%def" looks like "abc\def".)
    matched = [
        world_name(world, hit)
        for hit in response.get_json()["items"]
        if hit["match"] != "similar" and hit["type"] == "contact"
    ]
    assert matched == expected


def test_hits_say_what_they_are_and_link_to_their_page(world: World) -> None:
    response = world.search("acme")
    body = response.get_json()
    assert set(body) == {"items", "next_cursor"} and body["next_cursor"] is None
    by_type = {hit["type"]: hit for hit in body["items"]}
    company, deal = by_type["company"], by_type["deal"]
    assert company == {
        "type": "company",
        "id": world.ids["o_acme"],
        "title": "ACME Corporation",
        "subtitle": "acme.example · +44 20 7946 0000",
        "match": "prefix",
        "url": f"/companies/{world.ids['o_acme']}",
    }
    assert deal["url"] == f"/deals/{world.ids['d_acme']}"
    assert deal["title"] == "ACME renewal 2025" and "1,200.00" in deal["subtitle"]
    john = world.search("john smith").get_json()["items"][0]
    assert john["url"] == f"/contacts/{world.ids['c_john']}"
    assert john["subtitle"] == "john.smith@initech.example · Initech · +1 (555) 010-2000"
    # Contacts, then companies, then deals.
    types = [hit["type"] for hit in body["items"]]
    assert types == sorted(types, key=["contact", "company", "deal"].index)


def test_limit_is_per_kind(world: World, app: Flask) -> None:
    with tenant_session(app, world.tf) as session:
        from app.contacts.models import Contact

        session.add_all(
            Contact(first_name="Lim", last_name=f"Person {n}", owner_id=world.tf.owner_id)
            for n in range(12)
        )
        session.commit()
    assert len(world.found("lim person")) == 5  # the default
    assert len(world.found("lim person", limit=10)) == 10
    assert len(world.found("lim person", limit=50)) == 12


def test_bearer_token_on_the_apex_gets_absolute_links(world: World, client: FlaskClient) -> None:
    apex = Api(client, world.tf, base_url=APEX_URL)
    hit = apex.get("/search", query_string={"q": "globex"}).get_json()["items"][-1]
    assert hit["url"] == f"http://{world.tf.host}/companies/{world.ids['o_globex']}"


# --------------------------------------------------------------------------- who finds what


def test_a_sales_rep_finds_only_their_own_records(world: World) -> None:
    rep = world.rep_api
    assert world.names("ivan petrov", api=rep) == ["c_rep_ivan"]
    assert set(world.names("petrov", api=rep)) == {"c_rep_ivan", "o_rep_petrov", "d_rep_petrov"}
    # The owner's records, however they are searched for: nothing, not even "similar".
    for q in ("john smith", "jonh smith", "smith", "jo", "initech", "+1 555 010 2000", "acme"):
        assert world.found(q, api=rep) == [], q
    # The owner sees everything.
    assert "c_rep_ivan" in world.names("petrov")


def test_kinds_a_role_may_not_view_are_left_out(world: World, app: Flask) -> None:
    permissions = {"contacts": {"view": "all"}, "companies": {"view": "none"}}
    actor = actor_for(world.tf.owner_id, "custom", permissions)
    with app.test_request_context(), tenant_session(app, world.tf) as session:
        results = search(session, actor, "acme")
    assert set(results.by_kind) == {"contact"}
    assert results.hits == []


def test_another_workspace_finds_nothing_and_reaches_nothing(
    world: World, factory: Factory, client: FlaskClient
) -> None:
    other = factory.tenant("searchb", name="Other Co")
    other_api = Api(client, other)
    for q in ("john smith", "acme", "5550102000", "jonh smith"):
        response = other_api.get("/search", query_string={"q": q})
        assert response.status_code == 200
        assert response.get_json()["items"] == []
    # A's token on B's host, or no token at all: not found / unauthorized.
    foreign = Api(client, world.tf, base_url=other.base_url)
    assert foreign.get("/search", query_string={"q": "acme"}).status_code in {401, 404}
    anonymous = client.get("/api/v1/search?q=acme", base_url=world.tf.base_url)
    assert_error(anonymous, 401, "unauthorized")


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "a"}, "q"),
        ({"q": "  a  "}, "q"),  # spaces do not count
        ({"q": "a\x00"}, "q"),
        ({"q": "a" * 201}, "q"),
        ({"q": "ab", "limit": "0"}, "limit"),
        ({"q": "ab", "limit": "51"}, "limit"),
        ({"q": "ab", "limit": "five"}, "limit"),
        ({"q": "ab", "limit": "٣"}, "limit"),  # a digit, but not an ASCII one
        ({"q": "ab", "sort": "name"}, "sort"),
    ],
)
def test_bad_parameters_are_400(world: World, query: dict[str, str], field: str) -> None:
    details = assert_error(world.api.get("/search", query_string=query), 400, "validation_error")
    assert field in details


def test_too_short_says_so(world: World) -> None:
    response = world.search("x")
    assert response.get_json()["error"]["message"] == "Type at least 2 characters."


def test_repeated_q_is_400(world: World) -> None:
    response = world.api.get("/search?q=ann&q=lee")
    assert_error(response, 400, "validation_error", "q")


def test_search_changes_nothing(world: World, app: Flask) -> None:
    with tenant_session(app, world.tf) as session:
        from app.contacts.models import Contact

        before = [(c.id, c.updated_at) for c in session.query(Contact).order_by(Contact.id)]
    for q in ("john", "jonh smith", "5550102000"):
        world.search(q)
    with tenant_session(app, world.tf) as session:
        after = [(c.id, c.updated_at) for c in session.query(Contact).order_by(Contact.id)]
    assert after == before


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [("  ann   lee ", "ann lee"), ("a\tb", "a b"), ("ab\x00", "ab"), ("Zoë", "Zoë")],
)
def test_clean_query(raw: str, cleaned: str) -> None:
    assert clean_query(raw) == cleaned


@pytest.mark.parametrize("raw", [None, 12, "", " ", "x", "\x00x", "x" * 201])
def test_clean_query_refuses(raw: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_query(raw)
    assert "q" in refused.value.details


@pytest.mark.parametrize(
    ("q", "digits"),
    [
        ("+1 (555) 010-2000", "15550102000"),
        ("555.010.2000", "5550102000"),
        ("030/1234567", "0301234567"),
        ("123", "123"),
        ("12", None),
        ("call 555 0100", None),  # words: not a phone number
        ("٣٣٣", None),  # non-ASCII digits are not dialled
    ],
)
def test_phone_digits_of(q: str, digits: str | None) -> None:
    assert phone_digits_of(q) == digits
