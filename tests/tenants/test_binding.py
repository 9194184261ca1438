"""Per-transaction, fail-closed binding of the search path, and schema naming.

No tenant bound: tenant tables do not exist. One Session never serves two tenants.
``SET LOCAL`` lasts exactly one transaction, so a pooled connection carries nothing to
its next user. Platform tables are reachable only schema-qualified.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from psycopg import errors as pg_errors
from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from app.contacts.models import Contact
from app.database import db
from tenants.binding import CrossTenantSession, bind_connection, search_path_sql
from tenants.context import TenantRef, current_tenant, tenant_context
from tenants.models import Tenant
from tenants.naming import (
    RESERVED_SLUGS,
    UNBOUND_SCHEMA,
    InvalidSchemaName,
    is_valid_slug,
    quoted_schema,
    schema_name_for,
    to_base36,
    validate_schema_name,
)
from tests.conftest import Factory, TenantFixture

# Where a search_path comes from when a client set it: SET (session) or the libpq
# ``options`` parameter (client). Both would outlive a transaction on a pooled connection.
SET_BY_CLIENT = ("session", "client")


@dataclass(frozen=True)
class Pair:
    a: TenantRef
    b: TenantRef


def _ref(tf: TenantFixture) -> TenantRef:
    return TenantRef(id=tf.tenant.id, slug=tf.slug, schema_name=tf.tenant.schema_name)


@pytest.fixture(scope="module")
def pair(app: Flask) -> Pair:
    """Two workspaces, each with one contact: both contacts get id 1 in their schema."""
    factory = Factory(app)
    a, b = _ref(factory.tenant("alpha")), _ref(factory.tenant("beta"))
    with app.app_context():
        for ref, name in ((a, "A-ONLY"), (b, "B-ONLY")):
            with tenant_context(ref), Session(db.engine) as session:
                session.add(Contact(first_name=name))
                session.commit()
    return Pair(a, b)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.remove()


def _schemas(conn: Connection | Session) -> list[str]:
    return list(conn.scalar(text("SELECT current_schemas(false)::text[]")))


def _search_path_source(conn: Connection) -> tuple[str, str, str]:
    """(current value, value at connection start, where the current value came from)."""
    row = conn.execute(
        text(
            "SELECT current_setting('search_path'), reset_val, source "
            "FROM pg_catalog.pg_settings WHERE name = 'search_path'"
        )
    ).one()
    return row[0], row[1], row[2]


# ---------------------------------------------------------------------- fail closed


def test_unbound_query_on_a_tenant_table_raises(ctx: Flask, pair: Pair) -> None:
    assert current_tenant() is None
    with pytest.raises(ProgrammingError) as caught:
        db.session.scalars(select(Contact)).all()
    assert isinstance(caught.value.orig, pg_errors.UndefinedTable)
    db.session.rollback()
    with pytest.raises(ProgrammingError) as caught:
        db.session.execute(text("SELECT count(*) FROM contacts"))
    assert isinstance(caught.value.orig, pg_errors.UndefinedTable)
    db.session.rollback()


def test_unbound_search_path_names_a_schema_that_does_not_exist(ctx: Flask) -> None:
    assert db.session.scalar(text("SHOW search_path")) == UNBOUND_SCHEMA
    assert _schemas(db.session) == []
    exists = db.session.scalar(
        text("SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = :n"),
        {"n": UNBOUND_SCHEMA},
    )
    assert exists == 0
    db.session.rollback()


def test_bound_session_sees_its_own_tenant_only(ctx: Flask, pair: Pair) -> None:
    seen = {}
    for ref in (pair.a, pair.b):
        with tenant_context(ref), Session(db.engine) as session:
            rows = session.scalars(select(Contact)).all()
            assert _schemas(session) == [ref.schema_name]
            seen[ref.slug] = [(row.id, row.first_name) for row in rows]
    # Same id in both schemas, different rows: the schema decides, never the id.
    assert seen[pair.a.slug] == [(1, "A-ONLY")]
    assert seen[pair.b.slug] == [(1, "B-ONLY")]


def test_one_session_never_serves_two_tenants(ctx: Flask, pair: Pair) -> None:
    with Session(db.engine) as session:
        with tenant_context(pair.a):
            assert [c.first_name for c in session.scalars(select(Contact))] == ["A-ONLY"]
            session.commit()
            # The same tenant again, in a new transaction, is fine.
            assert session.scalar(select(Contact.first_name)) == "A-ONLY"
            session.commit()
        with tenant_context(pair.b), pytest.raises(CrossTenantSession):
            session.scalars(select(Contact)).all()


def test_request_scoped_session_refuses_a_second_tenant(ctx: Flask, pair: Pair) -> None:
    with tenant_context(pair.a):
        db.session.scalars(select(Contact)).all()
        db.session.commit()
    with tenant_context(pair.b), pytest.raises(CrossTenantSession):
        db.session.scalars(select(Contact)).all()


def test_tenant_ref_refuses_what_is_not_a_schema_name() -> None:
    for name in ("public", 'a"; drop schema public cascade; --', "pg_catalog", "t_"):
        with pytest.raises(InvalidSchemaName):
            TenantRef(id=1, slug="acme", schema_name=name)


# ------------------------------------------------------------- one transaction only


@pytest.fixture
def one_connection(ctx: Flask) -> Iterator[Engine]:
    """An engine with exactly one pooled connection, so every checkout reuses it."""
    engine = create_engine(db.engine.url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def test_set_local_lasts_one_transaction(one_connection: Engine, pair: Pair) -> None:
    engine = one_connection
    with tenant_context(pair.a), Session(engine) as session:
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        assert _schemas(session) == [pair.a.schema_name]
        assert session.scalar(text("SHOW search_path")) == pair.a.schema_name
        session.commit()
        # A new transaction is bound again (after_begin fires for each one).
        assert _schemas(session) == [pair.a.schema_name]
        session.commit()
    with Session(engine) as session:
        # Same connection, no tenant bound: A's path did not survive the commit.
        assert session.scalar(text("SELECT pg_backend_pid()")) == pid
        assert _schemas(session) == []
        session.commit()
    with tenant_context(pair.b), Session(engine) as session:
        assert session.scalar(text("SELECT pg_backend_pid()")) == pid
        assert _schemas(session) == [pair.b.schema_name]
        assert [c.first_name for c in session.scalars(select(Contact))] == ["B-ONLY"]
        session.commit()
    with engine.connect() as conn:
        # A raw checkout of the same connection: the server's own default, nothing set
        # at session level by anyone.
        assert conn.scalar(text("SELECT pg_backend_pid()")) == pid
        current, reset, source = _search_path_source(conn)
        assert current == reset
        assert source not in SET_BY_CLIENT
        schemas = _schemas(conn)
        assert pair.a.schema_name not in schemas
        assert pair.b.schema_name not in schemas


def test_rollback_ends_the_binding_too(one_connection: Engine, pair: Pair) -> None:
    engine = one_connection
    with tenant_context(pair.a), Session(engine) as session:
        assert _schemas(session) == [pair.a.schema_name]
        session.rollback()
    with engine.connect() as conn:
        current, reset, source = _search_path_source(conn)
        assert current == reset
        assert source not in SET_BY_CLIENT


def test_pooled_connections_are_clean_after_tenant_requests(app: Flask, pair: Pair) -> None:
    """Real requests through the app leave nothing on any connection of its pool."""
    tf = Factory(app).tenant("pool")
    client = app.test_client()
    for path in ("/api/v1/contacts", "/api/v1/me", "/api/v1/contacts/1"):
        response = client.get(path, base_url=tf.base_url, headers=tf.auth())
        assert response.status_code in {200, 404}, response.get_data(as_text=True)
    assert current_tenant() is None
    with app.app_context():
        pool = db.engine.pool
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
        idle = pool.checkedin()  # type: ignore[attr-defined]
        assert idle >= 1
        # Check out every idle connection at once: whichever served the requests is here.
        conns = [db.engine.connect() for _ in range(idle)]
        try:
            for conn in conns:
                current, reset, source = _search_path_source(conn)
                assert current == reset
                assert source not in SET_BY_CLIENT
                schemas = _schemas(conn)
                for schema in (tf.tenant.schema_name, pair.a.schema_name, pair.b.schema_name):
                    assert schema not in schemas
        finally:
            for conn in conns:
                conn.close()


def test_bind_connection_needs_an_open_transaction(ctx: Flask, pair: Pair) -> None:
    with db.engine.connect() as conn:
        with pytest.raises(RuntimeError):
            bind_connection(conn, pair.a)
        with conn.begin():
            bind_connection(conn, pair.a)
            assert _schemas(conn) == [pair.a.schema_name]
            assert conn.scalar(select(Contact.first_name)) == "A-ONLY"
        with conn.begin():
            assert pair.a.schema_name not in _schemas(conn)


def test_search_path_sql_is_quoted_and_has_no_fallback(pair: Pair) -> None:
    assert search_path_sql(None) == f'SET LOCAL search_path TO "{UNBOUND_SCHEMA}"'
    statement = search_path_sql(pair.a)
    assert statement == f'SET LOCAL search_path TO "{pair.a.schema_name}"'
    assert "public" not in statement
    assert "," not in statement


# ------------------------------------------------------------------ platform tables


def test_public_tables_are_reachable_schema_qualified_while_bound(ctx: Flask, pair: Pair) -> None:
    with tenant_context(pair.a), Session(db.engine) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.id == pair.b.id)).one()
        assert tenant.slug == pair.b.slug
        assert session.scalar(text("SELECT count(*) FROM public.tenants")) >= 2
        assert session.scalar(select(Contact.first_name)) == "A-ONLY"
        session.commit()
        # No public fallback: an unqualified platform table is not found.
        with pytest.raises(ProgrammingError) as caught:
            session.execute(text("SELECT count(*) FROM tenants"))
        assert isinstance(caught.value.orig, pg_errors.UndefinedTable)


# --------------------------------------------------------------------------- naming


@pytest.mark.parametrize(
    ("number", "digits"),
    [
        (1, "1"),
        (9, "9"),
        (10, "a"),
        (35, "z"),
        (36, "10"),
        (100, "2s"),
        (1295, "zz"),
        (1296, "100"),
    ],
)
def test_to_base36(number: int, digits: str) -> None:
    assert to_base36(number) == digits
    assert int(digits, 36) == number


@pytest.mark.parametrize("number", [0, -1, -36])
def test_to_base36_refuses_non_positive(number: int) -> None:
    with pytest.raises(ValueError):
        to_base36(number)


@pytest.mark.parametrize(
    ("tenant_id", "schema"), [(1, "t_1"), (35, "t_z"), (36, "t_10"), (100, "t_2s")]
)
def test_schema_name_for(tenant_id: int, schema: str) -> None:
    assert schema_name_for(tenant_id) == schema
    assert validate_schema_name(schema) == schema


def test_largest_bigint_id_still_makes_a_valid_schema_name() -> None:
    name = schema_name_for(2**63 - 1)
    assert validate_schema_name(name) == name
    assert len(name) <= 15


@pytest.mark.parametrize(
    "name",
    [
        'a"; drop schema public cascade; --',
        't_1"; drop schema public cascade; --',
        "t_1; drop schema public",
        't_1"',
        "public",
        "pg_catalog",
        "information_schema",
        "pg_toast",
        UNBOUND_SCHEMA,
        "",
        "t_",
        "T_1",
        "t_A",
        "t-1",
        "t_-1",
        " t_1",
        "t_1 ",
        "t_1\n",
        "t_1\x00",
        "t_1.contacts",
        "t_" + "1" * 14,
        "t_ü",
        "t_\u0430",  # Cyrillic a (U+0430)
        "acme",
    ],
)
def test_validate_schema_name_rejects(name: str) -> None:
    with pytest.raises(InvalidSchemaName):
        validate_schema_name(name)
    with pytest.raises(InvalidSchemaName):
        quoted_schema(name)


@pytest.mark.parametrize("value", [None, 1, b"t_1", ["t_1"]])
def test_validate_schema_name_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidSchemaName):
        validate_schema_name(value)  # type: ignore[arg-type]


def test_quoted_schema() -> None:
    assert quoted_schema("t_2s") == '"t_2s"'


@pytest.mark.parametrize("slug", ["abc", "acme", "a-b", "a1-b2-c3", "123", "x" * 40, "ab-c"])
def test_valid_slugs(slug: str) -> None:
    assert is_valid_slug(slug)


@pytest.mark.parametrize(
    "slug",
    [
        *sorted(RESERVED_SLUGS),
        "Acme",
        "ACME",
        "-acme",
        "acme-",
        "ac--me",
        "ab",
        "a",
        "",
        "x" * 41,
        "x" * 64,
        "ac_me",
        "t_1",
        "ac.me",
        "ac me",
        " acme",
        "acme\n",
        "ümlaut",
        "\u0430cme",  # Cyrillic a (U+0430)
        "\u202eacme",
        'a"; drop schema public cascade; --',
        "%61cme",
    ],
)
def test_invalid_slugs(slug: str) -> None:
    assert not is_valid_slug(slug)


@pytest.mark.parametrize("value", [None, 123, b"acme"])
def test_non_string_slugs(value: object) -> None:
    assert not is_valid_slug(value)  # type: ignore[arg-type]
