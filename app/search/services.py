"""One search box over contacts, companies and deals.

``search`` answers the best few records of each kind that the actor may see, ranked:
exact matches first (a full name, an email, a company name, a phone number), then
records where every word typed starts a word, then records that contain them, then
records that are only similar to the text (typos: "jonh smith" finds John Smith). Each
kind is searched in passes, each costlier than the one before and run only when needed:

1. prefix: B-trees on ``lower(...) COLLATE "C"`` read in order (contact names first-last
   and last-first, company names, deal titles, phone numbers by their end) and the
   index of emails, so that the first few matches of even a two-letter prefix shared by
   half the workspace cost the same as those of a rare one;
2. contains, when pass 1 found fewer than asked (for an email address or a phone
   number: when it found nothing): the query as typed, and every word of it in any
   order, in ``search_text`` (``ILIKE '%...%'``) through its trigram index, and for a
   query that looks like a phone number its digits anywhere in ``phone_digits``;
3. similar, only when passes 1 and 2 found nothing of any kind (a typo, most likely):
   word similarity, ``q <% search_text`` (pg_trgm) above ``SIMILARITY_THRESHOLD``.

Passes 1 and 2 are one statement per kind (pass 2 behind a one-time filter on the count
of pass 1), and the kinds' statements go to PostgreSQL together. Passes 2 and 3 need a
trigram (three letters or digits in a row): two-letter queries are prefix searches.
Passes 2 and 3 take at most ``CANDIDATES`` rows per way of matching, in index order,
and only those are ranked, which bounds the work of a term that half the workspace
contains (docs/search.md has the measurements, and what that costs in ranking).

Scope is applied in SQL in every query (:func:`app.access.policy.apply_record_scope`): a
record outside the actor's scope is never a result, so it can be neither shown nor
counted. The prefix pass reads the index in order and filters by scope on the way,
reading at most ``WALK`` index entries, so that a member who owns none of a
common prefix's records does not walk all of them (pass 2 still finds theirs).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)

from app.access.policy import Actor, apply_record_scope, may, owner_condition, scope_for
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import DbSession
from app.deals import money
from app.deals.models import Deal
from app.errors import InvalidInput
from app.input_rules import CONTROL_ANY, UNSTORABLE
from app.pipelines.models import Stage
from app.search.indexes import (
    CONTACT_LAST_FIRST_SQL,
    CONTACT_NAME_SQL,
    PHONE_SUFFIX_SQL,
    has_trigram,
    prefix_key,
)

log = logging.getLogger(__name__)

Kind = Literal["contact", "company", "deal"]
Match = Literal["exact", "prefix", "contains", "similar"]
KINDS: tuple[Kind, ...] = ("contact", "company", "deal")

MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 200
# Fewer digits than this match too many phone numbers to mean anything.
MIN_PHONE_DIGITS = 3
# Numbers typed with a country or trunk prefix ("+1 555 010 2000", "0049 30 123456")
# also find numbers stored without it, by their last digits.
PHONE_TAIL_DIGITS = 9
# A stored number this long that the typed digits end with is the same number.
MIN_PHONE_TAIL = 7
DEFAULT_LIMIT = 5
MAX_LIMIT = 50
# Rows ranked per kind and pass, at most.
CANDIDATES = 100
# Rows read at most where what an index found is then filtered: by scope in the prefix
# pass, by words the trigram index can not look for in pass 2 (module docstring).
WALK = 1000
# pg_trgm word similarity for "similar" hits (its default, 0.6, misses "jonh smith").
SIMILARITY_THRESHOLD = 0.5
# The similarity search's time, at most (see _run_similar).
SIMILAR_TIMEOUT_MS = 250
# Sorts after every character: ``key < prefix || TOP`` ends the range of ``prefix``.
_TOP = "\U0010ffff"

QUERY_TOO_SHORT = "Type at least 2 characters."
QUERY_TOO_LONG = f"Type at most {MAX_QUERY_LENGTH} characters."
# A phone number as people type it: digits and the usual separators, nothing else.
_PHONE_LIKE = re.compile(r"^[0-9+()\-./\s]*$")
_TIERS: dict[int, Match] = {0: "exact", 1: "prefix", 2: "contains", 3: "similar"}


@dataclass(frozen=True, slots=True)
class Hit:
    """One record found: what to show and how well it matched."""

    kind: Kind
    id: int
    title: str
    subtitle: str
    match: Match


@dataclass(frozen=True, slots=True)
class SearchResults:
    """The hits of one search, per kind, best first. Kinds the actor may not view are
    absent (there is nothing to say about them), kinds without hits are empty."""

    q: str
    by_kind: dict[Kind, list[Hit]] = field(default_factory=dict)

    @property
    def hits(self) -> list[Hit]:
        """Every hit, kind by kind (contacts, companies, deals)."""
        return [hit for kind in KINDS for hit in self.by_kind.get(kind, [])]


def clean_query(raw: object) -> str:
    """The search text as typed, trimmed, with inner whitespace collapsed; refused
    (``InvalidInput`` on ``q``) when shorter than 2 or longer than 200 characters.
    Control characters count as spaces (nobody types them into a search box)."""
    text = raw if isinstance(raw, str) else ""
    text = " ".join(CONTROL_ANY.sub(" ", UNSTORABLE.sub("", text)).split())
    if len(text) < MIN_QUERY_LENGTH:
        raise InvalidInput({"q": [QUERY_TOO_SHORT]}, QUERY_TOO_SHORT)
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput({"q": [QUERY_TOO_LONG]}, QUERY_TOO_LONG)
    return text


def escape_like(text: str) -> str:
    """``text`` for a ``LIKE`` pattern with escape character ``\\``: ``%``, ``_`` and
    the escape itself are taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def phone_digits_of(q: str) -> str | None:
    """The digits of ``q`` when it looks like a phone number with enough of them."""
    if not _PHONE_LIKE.match(q):
        return None
    digits = "".join(ch for ch in q if ch in "0123456789")
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


@dataclass(frozen=True)
class _Kind:
    """How one kind of record is searched and shown."""

    kind: Kind
    resource: str
    model: Any
    columns: tuple[Any, ...]
    # The trigram-indexed text (lower case for contacts and companies).
    text: Any
    # Prefix pass: SQL of the texts with a prefix index (see app.search.indexes), and
    # columns looked up by exact value through an index of their own.
    prefix_sql: tuple[str, ...]
    exact_lookup: tuple[Any, ...] = ()
    # The prefix key of the reversed phone digits: "ends with" as a range.
    phone_suffix_sql: str | None = None
    # What an email address typed is looked for in: the whole address (contacts), its
    # domain (a company's), or nothing (deal titles hold no addresses).
    email_part: Literal["address", "domain"] | None = None
    # Ranking: fields that match "exactly" when equal to the query; what a hit is
    # called (ties are ordered by it).
    exact: tuple[Any, ...] = ()
    title: Any = None
    # The phone's digits (None: this kind has no phone).
    phone: Any = None

    def scoped(self, stmt: Select[Any], actor: Actor, owner: Any = None) -> Select[Any]:
        owner_column = self.model.owner_id if owner is None else owner
        return apply_record_scope(stmt, actor, self.resource, "view", owner_column)


_CONTACT_NAME = Contact.first_name + literal(" ") + Contact.last_name
_KINDS: dict[Kind, _Kind] = {
    "contact": _Kind(
        kind="contact",
        resource="contacts",
        model=Contact,
        columns=(
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.phone,
            Contact.company_name,
        ),
        text=Contact.search_text,
        prefix_sql=(CONTACT_NAME_SQL, CONTACT_LAST_FIRST_SQL),
        exact_lookup=(Contact.email,),  # ix_contacts_email_lower
        exact=(_CONTACT_NAME, Contact.email, Contact.company_name),
        title=func.coalesce(func.nullif(func.trim(_CONTACT_NAME), ""), Contact.email, ""),
        phone=Contact.phone_digits,
        phone_suffix_sql=PHONE_SUFFIX_SQL,
        email_part="address",
    ),
    "company": _Kind(
        kind="company",
        resource="companies",
        model=Company,
        columns=(Company.id, Company.name, Company.domain, Company.industry, Company.phone),
        text=Company.search_text,
        prefix_sql=("name",),
        exact=(Company.name, Company.domain),
        title=Company.name,
        phone=Company.phone_digits,
        phone_suffix_sql=PHONE_SUFFIX_SQL,
        email_part="domain",
    ),
    "deal": _Kind(
        kind="deal",
        resource="deals",
        model=Deal,
        columns=(
            Deal.id,
            Deal.title,
            Deal.amount_minor,
            Deal.currency,
        ),
        text=Deal.title,
        prefix_sql=("title",),
        exact=(Deal.title,),
        title=Deal.title,
    ),
}


# --------------------------------------------------------------------------- the query


WordMode = Literal["index", "email", "filter"]


@dataclass(frozen=True, slots=True)
class _Query:
    """The cleaned query, as the statements need it."""

    text: str
    words: tuple[str, ...]
    digits: str | None

    @classmethod
    def of(cls, text: str) -> _Query:
        return cls(text=text, words=tuple(text.split(" ")), digits=phone_digits_of(text))

    @property
    def tails(self) -> list[str]:
        """What a stored number may end with to be the one typed: all its digits, and,
        for a number typed with a country or trunk prefix, its last
        ``PHONE_TAIL_DIGITS``."""
        if self.digits is None:
            return []
        if len(self.digits) > PHONE_TAIL_DIGITS:
            return [self.digits, self.digits[-PHONE_TAIL_DIGITS:]]
        return [self.digits]

    @property
    def email_domain(self) -> str | None:
        """The domain of a query that is one email address ("ann@acme.example")."""
        if len(self.words) != 1 or "@" not in self.text:
            return None
        return self.text.rpartition("@")[2] or None

    @property
    def identifier(self) -> bool:
        """An email address or a phone number: what has exactly that is what is asked."""
        return self.digits is not None or "@" in self.text

    @staticmethod
    def index_key(word: str) -> str:
        """The part of ``word`` to ask the trigram index for: all of it, except for an
        email address its own name rather than its domain, which thousands of addresses
        may share (the index would read the rows of every trigram of it)."""
        if "@" in word:
            local, _, domain = word.partition("@")
            return local if has_trigram(local) else domain
        return word

    def word_mode(self, word: str) -> WordMode:
        """How pass 2 looks for ``word``: through the index, through the index by a part
        of it then checked whole ("email"), or only as a filter (no trigram)."""
        key = self.index_key(word)
        if not has_trigram(key):
            return "filter"
        return "index" if key == word else "email"

    @property
    def shape(self) -> tuple[Any, ...]:
        """What the statements' SQL depends on; the values are parameters."""
        domain = self.email_domain
        return (
            tuple(self.word_mode(w) for w in self.words),
            len(self.tails),
            self.identifier,
            None if domain is None else has_trigram(domain),
        )

    def params(self, limit: int) -> dict[str, Any]:
        """The bound values of the statements."""
        values: dict[str, Any] = {
            "q": self.text,
            "phrase": f"%{escape_like(self.text)}%",
            "limit": limit,
        }
        for i, word in enumerate(self.words):
            values[f"w{i}"] = word
            values[f"k{i}"] = f"%{escape_like(self.index_key(word))}%"
        if self.email_domain is not None:
            values["email_domain"] = f"%{escape_like(self.email_domain)}%"
        if self.digits is not None:
            values["digits"] = self.digits
            values["digits_inside"] = f"%{self.digits}%"
        for i, tail in enumerate(self.tails):
            values[f"t{i}"] = tail[::-1]  # a prefix of the reversed digits
        return values


def _param(name: str) -> Any:
    return bindparam(name, type_=Text)


# --------------------------------------------------------------------------- the SQL


def _tier(spec: _Kind, query: _Query) -> ColumnElement[int]:
    """0 exact (a whole field), 1 prefix (every word of the query starts a word of the
    record; for numbers, one ends with the other), 2 anything else; computed on the few
    candidate rows only."""
    lowered = func.lower(_param("q"))
    exact = [func.lower(column) == lowered for column in spec.exact]
    # " " || text contains " " || word: some word of the text starts with the word.
    spaced = literal(" ") + func.lower(spec.text)
    prefix: ColumnElement[bool] = and_(
        *(
            func.strpos(spaced, literal(" ") + func.lower(_param(f"w{i}"))) > 0
            for i in range(len(query.words))
        )
    )
    if spec.phone is not None and query.digits is not None:
        digits = _param("digits")
        exact.append(spec.phone == digits)
        prefix = or_(
            prefix,
            func.right(spec.phone, func.length(digits)) == digits,
            and_(
                func.length(spec.phone) >= MIN_PHONE_TAIL,
                func.right(digits, func.length(spec.phone)) == spec.phone,
            ),
        )
    return case((or_(*exact), 0), (prefix, 1), else_=2)


def _starting_with(spec: _Kind, actor: Actor, sql: str, start: Any) -> Select[Any]:
    """The first ``limit`` records in scope whose prefix key ``sql`` starts with
    ``start``, reading at most ``WALK`` index entries."""
    model = spec.model
    key = prefix_key(sql)
    walk = (
        select(model.id, model.owner_id)
        .where(key >= start, key < start + literal(_TOP))
        .order_by(key)
        .limit(WALK)
        .subquery()
    )
    scoped = spec.scoped(select(walk.c.id), actor, walk.c.owner_id)
    return scoped.limit(bindparam("limit", type_=Integer))


def _prefix_ids(spec: _Kind, actor: Actor, query: _Query) -> Select[Any]:
    """Pass 1: records whose name (or title) starts with the query, whose email is the
    query, or whose phone number ends with its digits; ``limit`` per key, each key read
    in index order."""
    lowered = func.lower(_param("q"))
    parts = [_starting_with(spec, actor, sql, lowered) for sql in spec.prefix_sql]
    for column in spec.exact_lookup:
        found = select(spec.model.id).where(func.lower(column) == lowered)
        parts.append(spec.scoped(found, actor).limit(bindparam("limit", type_=Integer)))
    if spec.phone_suffix_sql is not None:
        parts += [
            _starting_with(spec, actor, spec.phone_suffix_sql, _param(f"t{i}"))
            for i in range(len(query.tails))
        ]
    return select(union_all(*parts).subquery().c.id)


@dataclass(frozen=True)
class _Way:
    """One way pass 2 finds records: what the trigram index is asked, and what is then
    checked on the text of what it found (None: nothing)."""

    indexed: ColumnElement[bool]
    check: Any = None  # a function of the text column -> condition


def _words_way(spec: _Kind, query: _Query) -> _Way | None:
    """Every word of the query in the record's text, in any order ("ann lee" finds
    Annabel Leeds and Joanne Lee), ignoring case: the index is asked for the words that
    have a trigram (an email address by its own name, see ``_Query.index_key``), and
    the rest is checked on what it finds."""
    modes = [query.word_mode(word) for word in query.words]
    indexed = [
        spec.text.ilike(_param(f"k{i}"), escape="\\")
        for i, mode in enumerate(modes)
        if mode != "filter"
    ]
    if not indexed:
        return None
    checked = [i for i, mode in enumerate(modes) if mode != "index"]
    if not checked:
        return _Way(and_(*indexed))

    def check(text: Any) -> ColumnElement[bool]:
        return and_(
            *(func.strpos(func.lower(text), func.lower(_param(f"w{i}"))) > 0 for i in checked)
        )

    return _Way(and_(*indexed), check)


def _contains_ways(spec: _Kind, query: _Query) -> list[_Way]:
    """Pass 2's ways to find a record, each taking its own candidates: the whole query
    as typed (for a query of several words, so that "company 39" finds Company 39 among
    thousands of "Company ..." that also contain a 39 somewhere); every word of it (see
    :func:`_words_way`); for a phone-like query (digits and separators only), its digits
    anywhere in a number, for the kinds that have one; for an email address, companies
    by its domain (the person's company)."""
    if spec.phone is not None and query.digits is not None:
        # A phone number is looked for among phone numbers (their text holds none).
        return [_Way(spec.phone.like(_param("digits_inside")))]
    if query.email_domain is not None and spec.email_part != "address":
        # An email address: a company by its domain; no deal has one.
        if spec.email_part == "domain" and has_trigram(query.email_domain):
            return [_Way(spec.text.ilike(_param("email_domain"), escape="\\"))]
        return []
    ways = []
    if len(query.words) > 1 and has_trigram(query.text):
        ways.append(_Way(spec.text.ilike(_param("phrase"), escape="\\")))
    words = _words_way(spec, query)
    if words is not None:
        ways.append(words)
    return ways


def _strict_ids(spec: _Kind, actor: Actor, query: _Query) -> Select[Any]:
    """Passes 1 and 2 in one statement. Pass 2 takes at most ``CANDIDATES`` records per
    way (see :func:`_contains_ways`), in index order, and runs only when pass 1 found
    fewer than ``limit`` (a "One-Time Filter" on its count); for an email address or a
    phone number, only when it found nothing: what has exactly that address or number
    is what was asked for, and looking for more inside other addresses is the costliest
    search there is. What is checked beyond the index is checked on at most ``WALK``
    rows: a common word with a rare other one must not read every row of the common."""
    model = spec.model
    prefix = _prefix_ids(spec, actor, query).cte("prefix")
    found = select(func.count(distinct(prefix.c.id))).scalar_subquery()
    gate = found == 0 if query.identifier else found < bindparam("limit", type_=Integer)
    parts: list[Select[Any]] = [select(prefix.c.id)]
    for way in _contains_ways(spec, query):
        if way.check is None:
            more = spec.scoped(select(model.id).where(way.indexed, gate), actor)
            parts.append(more.where(model.id.not_in(select(prefix.c.id))).limit(CANDIDATES))
            continue
        walk = (
            spec.scoped(select(model.id, spec.text.label("text")).where(way.indexed, gate), actor)
            .limit(WALK)
            .subquery()
        )
        parts.append(
            select(walk.c.id)
            .where(way.check(walk.c.text), walk.c.id.not_in(select(prefix.c.id)))
            .limit(CANDIDATES)
        )
    if len(parts) == 1:
        return parts[0]
    return select(union(*parts).subquery().c.id)


def _similar_ids(spec: _Kind, actor: Actor) -> Select[Any]:
    """Pass 3: records with a stretch of text similar to the query (index-backed
    ``q <% text``; the threshold is set for the transaction by :func:`_prepare`)."""
    similar: ColumnElement[bool] = _param("q").op("OPERATOR(public.<%)", is_comparison=True)(
        spec.text
    )
    return spec.scoped(select(spec.model.id).where(similar), actor).limit(CANDIDATES)


def _shown(spec: _Kind, actor: Actor) -> list[Any]:
    """What a hit shows besides its own columns, in the same statement: a contact's
    linked company (only if the actor may see it), a deal's stage."""
    if spec.kind == "contact":
        visible = owner_condition(actor, scope_for(actor, "companies", "view"), Company.owner_id)
        linked = select(Company.name).where(Company.id == Contact.company_id, visible)
        return [linked.scalar_subquery().label("linked_company")]
    if spec.kind == "deal":
        stage = select(Stage.name).where(Stage.id == Deal.stage_id)
        return [stage.scalar_subquery().label("stage_name")]
    return []


def _statement(spec: _Kind, actor: Actor, query: _Query, similar: bool) -> Select[Any]:
    """The one statement that finds a kind's candidates, with what the hits show, their
    tier and their similarity."""
    tier: ColumnElement[int]
    if similar:
        ids, tier = _similar_ids(spec, actor), literal(3)
    else:
        ids, tier = _strict_ids(spec, actor, query), _tier(spec, query)
    score = func.public.word_similarity(_param("q"), spec.text, type_=Float)
    # Ranked here so that what only the hits show is computed for them alone.
    return (
        select(*spec.columns, *_shown(spec, actor), tier.label("tier"), score.label("score"))
        .where(spec.model.id.in_(ids))
        .order_by(tier, score.desc(), func.lower(spec.title), spec.model.id)
        .limit(bindparam("limit", type_=Integer))
    )


# Compiled statements by what their SQL depends on (see :func:`_compiled`).
_COMPILED: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
_COMPILED_MAX = 512


def _compiled(
    session: DbSession, spec: _Kind, actor: Actor, query: _Query, similar: bool
) -> tuple[str, dict[str, Any]]:
    """A kind's statement as SQL, and the values of its constants. Building and
    compiling it costs SQLAlchemy more than PostgreSQL needs to answer it (some ten
    subqueries: measured 15-50 ms against under 5 ms), and a search box is typed into,
    so each shape of statement is compiled once per process and then run with new
    values. What varies with the actor is part of the key: the scopes the statement
    applies, and the actor's id when one of them depends on it."""
    scopes = (scope_for(actor, spec.resource, "view"), scope_for(actor, "companies", "view"))
    key = (
        spec.kind,
        query.shape,
        similar,
        scopes,
        None if scopes == ("all", "all") else actor.user_id,
    )
    compiled = _COMPILED.get(key)
    if compiled is None:
        done = _statement(spec, actor, query, similar).compile(dialect=session.get_bind().dialect)
        compiled = (done.string, dict(done.params))
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[key] = compiled
    return compiled


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement a search runs: for one kind, its SQL and its values."""

    kind: Kind
    sql: str
    params: dict[str, Any]


# Run before the similarity statements, in their transaction only.
SIMILARITY_SETTING = "SELECT set_config('pg_trgm.word_similarity_threshold', %(t)s, true)"


def statements(
    session: DbSession,
    actor: Actor,
    q: object,
    *,
    limit_per_kind: int = DEFAULT_LIMIT,
    similar: bool = False,
) -> list[Statement]:
    """The statements a search for ``q`` runs, one per kind ``actor`` may view: passes 1
    and 2, or with ``similar`` pass 3 (after :data:`SIMILARITY_SETTING`). What
    :func:`search` sends; public so that tests and benchmarks can EXPLAIN them."""
    query = _Query.of(clean_query(q))
    values = query.params(limit_per_kind)
    found = []
    for spec in _KINDS.values():
        if may(actor, spec.resource, "view"):
            sql, constants = _compiled(session, spec, actor, query, similar)
            found.append(Statement(spec.kind, sql, {**constants, **values}))
    return found


def _driver(session: DbSession) -> psycopg.Connection[Any]:
    """The session's psycopg connection, in its transaction (bound to the tenant)."""
    return cast(psycopg.Connection[Any], session.connection().connection.dbapi_connection)


def _send(driver: psycopg.Connection[Any], jobs: Sequence[Statement]) -> list[Any]:
    """The statements, sent together in one round trip (psycopg's pipeline mode); the
    cursors to read their rows from once the pipeline is done.

    Each is planned for its own values (``prepare=False``): psycopg would otherwise
    prepare a statement run five times on a connection, and PostgreSQL could then keep
    one generic plan for it; but a search wants an index for a rare text and a
    sequential read for a text half the rows contain."""
    cursors = []
    for job in jobs:
        cursor = driver.cursor(row_factory=namedtuple_row)
        cursor.execute(job.sql, job.params, prepare=False)
        cursors.append((job.kind, cursor))
    return cursors


def _run(session: DbSession, jobs: Sequence[Statement]) -> dict[Kind, list[Any]]:
    """Passes 1 and 2 of every kind, in one round trip."""
    driver = _driver(session)
    with driver.pipeline():
        cursors = _send(driver, jobs)
    return {kind: cursor.fetchall() for kind, cursor in cursors}


def _run_similar(session: DbSession, jobs: Sequence[Statement]) -> dict[Kind, list[Any]]:
    """Pass 3 of every kind, given at most ``SIMILAR_TIMEOUT_MS``: its cost grows with
    how common the trigrams typed are, and a search box must not hang on a typo, so past
    that it answers nothing similar rather than late. A savepoint keeps a cancelled
    statement from spoiling the request's transaction; the threshold and the timeout
    are set for this transaction only, and the timeout is put back."""
    driver = _driver(session)
    try:
        with driver.transaction():
            row = driver.execute("SELECT current_setting('statement_timeout')").fetchone()
            previous = row[0] if row else "0"
            with driver.pipeline():
                driver.execute(
                    "SELECT set_config('statement_timeout', %(ms)s, true)",
                    {"ms": f"{SIMILAR_TIMEOUT_MS}ms"},
                )
                driver.execute(SIMILARITY_SETTING, {"t": str(SIMILARITY_THRESHOLD)})
                cursors = _send(driver, jobs)
                driver.execute(
                    "SELECT set_config('statement_timeout', %(ms)s, true)", {"ms": previous}
                )
            return {kind: cursor.fetchall() for kind, cursor in cursors}
    except psycopg.errors.QueryCanceled:
        log.info("similarity search gave up after %d ms", SIMILAR_TIMEOUT_MS)
        return {job.kind: [] for job in jobs}


def _join(parts: Iterable[str | None]) -> str:
    return " · ".join(part for part in parts if part)


def _contact_hit(row: Any) -> Hit:
    name = f"{row.first_name} {row.last_name}".strip()
    company = row.company_name or row.linked_company
    return Hit(
        kind="contact",
        id=row.id,
        title=name or row.email or "",
        subtitle=_join((row.email if name else None, company, row.phone)),
        match=_TIERS[row.tier],
    )


def _company_hit(row: Any) -> Hit:
    return Hit(
        kind="company",
        id=row.id,
        title=row.name,
        subtitle=_join((row.domain, row.industry, row.phone)),
        match=_TIERS[row.tier],
    )


def _deal_hit(row: Any) -> Hit:
    amount = money.format_minor(row.amount_minor, row.currency)
    return Hit(
        kind="deal",
        id=row.id,
        title=row.title,
        subtitle=_join((amount, row.stage_name)),
        match=_TIERS[row.tier],
    )


_HIT = {"contact": _contact_hit, "company": _company_hit, "deal": _deal_hit}


def search(
    session: DbSession, actor: Actor, q: object, *, limit_per_kind: int = DEFAULT_LIMIT
) -> SearchResults:
    """The best ``limit_per_kind`` contacts, companies and deals matching ``q`` that
    ``actor`` may view (see the module docstring for the ranking). Raises
    :class:`InvalidInput` on ``q`` for a query shorter than 2 or longer than 200
    characters, and on ``limit`` outside 1-50. Reads only."""
    text = clean_query(q)
    if not 1 <= limit_per_kind <= MAX_LIMIT:
        raise InvalidInput({"limit": [f"Must be between 1 and {MAX_LIMIT}."]})
    found = _run(session, statements(session, actor, text, limit_per_kind=limit_per_kind))
    if not any(found.values()) and has_trigram(text):
        # Nothing contains the text: probably a typo. Only now the costlier similarity
        # search, rather than "similar" noise under good hits.
        similar = statements(session, actor, text, limit_per_kind=limit_per_kind, similar=True)
        found = _run_similar(session, similar)
    return SearchResults(
        q=text,
        by_kind={kind: [_HIT[kind](row) for row in rows] for kind, rows in found.items()},
    )
