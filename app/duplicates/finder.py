"""Finding likely duplicate contacts and companies.

A suggestion is a pair of records that the actor may edit and delete (so that either can
be merged into the other), with the reasons they look alike:

* contacts: ``same_email`` (ignoring case), ``same_phone`` (the same digits, at least
  :data:`MIN_PHONE_DIGITS` of them, however they were typed) and
  ``similar_name_same_company`` (trigram similarity of the full names, linked to the
  same company record);
* companies: ``same_domain`` and ``similar_name`` (trigram similarity of the names
  without their legal form, such as "Inc" or "GmbH", and with the same numbers in them,
  so that "Branch 12" and "Branch 13" stay apart).

The work per page never compares every record with every other. Pages walk the
records in id order ("anchors"), at most :data:`SCAN_LIMITS` of them per page, and find
each anchor's partners through indexes and blocking keys: equal emails and equal phone
digits by one read of the records sharing the page's keys (:func:`_same_key`), equal
domains through their index; similar contact names only among the contacts of the
anchor's company (the blocking key); similar company names only among the
:data:`NAME_WINDOW` names on either side of the anchor's in name order (the "sorted
neighbourhood" method, one range scan of the ``lower(name)`` index each). Each pair is
reported once, from its lower id, and each anchor brings at most :data:`PER_REASON`
partners per reason (an address shared by hundreds of records would otherwise flood
the list). The one part that grows with the workspace is the read of phone digits (see
:func:`_contact_matches`); docs/duplicates.md has the figures.

So a page may hold fewer suggestions than asked for (even none) and still have a next
cursor: it says that records remain to be looked at. The cursor is the last pair shown
(or the last anchor looked at), so paging is stable while records come and go.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    func,
    literal,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import aliased

from app.access.policy import Actor, owner_condition, scope_for
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import DbSession
from app.errors import InvalidInput
from app.input_rules import MAX_BIGINT

# Fewer digits than this are extensions or typing fragments, not a phone number.
MIN_PHONE_DIGITS = 7
# Trigram similarity (0..1) from which two names count as "very similar". Contacts are
# compared within one company only, so a lower bar still finds "Jon Smith" for "John
# Smith" (0.62) and "J Smith" (0.58) without suggesting "Ada Smith" for "Alan Smith"
# (0.50). Company names are compared without their legal form, where 0.6 keeps "Acme
# Industries" and "Acme Industry" (0.67) together.
CONTACT_NAME_SIMILARITY = 0.55
COMPANY_NAME_SIMILARITY = 0.6
# Records looked at per page (companies cost more each: their names are normalised
# and compared with their neighbours'), partners kept per record and reason, and
# company names compared on each side of a company in name order.
SCAN_LIMITS = {"contact": 5000, "company": 2000}
PER_REASON = 10
NAME_WINDOW = 10

CONTACT_REASONS = ("same_email", "same_phone", "similar_name_same_company")
COMPANY_REASONS = ("same_domain", "similar_name")
# Words that say what legal form a company has, not which company it is.
LEGAL_FORMS = (
    *("ab", "ag", "as", "bv", "co", "company", "corp", "corporation", "gmbh", "inc"),
    *("incorporated", "kg", "limited", "llc", "llp", "ltd", "nv", "oy", "plc", "pty"),
    *("sa", "sarl", "sas", "spa", "srl", "the"),
)
_CURSOR_MESSAGE = "Invalid cursor; start again without it."


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Two records that look like one, lower id first, and why (in the order of
    ``CONTACT_REASONS``/``COMPANY_REASONS``: the strongest first)."""

    ids: tuple[int, int]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SuggestionPage:
    """One page of suggestions, and the cursor of the next (None: nothing is left)."""

    items: list[Suggestion]
    next_cursor: str | None


def _similar(left: Any, right: Any, threshold: float) -> ColumnElement[bool]:
    """``left`` and ``right`` are at least ``threshold`` similar (pg_trgm's trigram
    similarity). pg_trgm lives in ``public`` and the search path holds only the tenant's
    schema, hence the qualified name. Not the ``%`` operator as well: no index covers
    these expressions (the blocking keys bound the candidates), and it would compute the
    trigrams a second time."""
    return func.public.similarity(left, right) >= threshold


def _actionable(actor: Actor, resource: str, owner_column: Any) -> ColumnElement[bool]:
    """Records ``actor`` may both edit and delete: only those can be merged away or
    into, whichever of the pair is kept."""
    return and_(
        owner_condition(actor, scope_for(actor, resource, "edit"), owner_column),
        owner_condition(actor, scope_for(actor, resource, "delete"), owner_column),
    )


def encode_cursor(entity: str, anchor_id: int, other_id: int) -> str:
    """Opaque cursor: the last pair shown (or ``(anchor, MAX_BIGINT)`` after the last
    record looked at)."""
    raw = json.dumps(["dup", entity, anchor_id, other_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(entity: str, cursor: str) -> tuple[int, int]:
    """The pair a cursor of ``entity`` holds; :class:`InvalidInput` (``cursor``) for
    anything this module did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True))
        if not isinstance(data, list) or len(data) != 4 or data[:2] != ["dup", entity]:
            raise ValueError("not a duplicates cursor")
        anchor_id, other_id = data[2], data[3]
        if type(anchor_id) is not int or type(other_id) is not int:
            raise ValueError("bad ids")
        if not 0 <= anchor_id <= MAX_BIGINT or not 0 <= other_id <= MAX_BIGINT:
            raise ValueError("ids out of range")
        return anchor_id, other_id
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError) as exc:
        raise InvalidInput({"cursor": [_CURSOR_MESSAGE]}) from exc


def contact_name(model: Any) -> Any:
    """The full name as the contact search reads it (so that a trigram index made for
    the search also serves this comparison)."""
    return model.first_name + " " + model.last_name


def company_name_key(name: Any) -> Any:
    """The name as compared: lower case, punctuation as spaces, legal forms dropped.
    Plain ``replace()`` of each " form " (not one regular expression with every form:
    that costs several times more, and this runs for every neighbour of every anchor)."""
    spaced = func.regexp_replace(func.lower(name), "[^[:alnum:]]+", " ", "g")
    key: Any = func.concat(" ", spaced, " ")
    for form in LEGAL_FORMS:
        key = func.replace(key, f" {form} ", " ")
    return func.btrim(key)


def _numbers(name: Any) -> Any:
    return func.regexp_replace(name, "[^0-9]+", "", "g")  # runs, not characters: faster


def _window_end(
    session: DbSession, id_column: Any, actionable: ColumnElement[bool], start: int, size: int
) -> int | None:
    """The id of the ``size``-th record from ``start`` on (None: fewer remain)."""
    stmt = (
        select(id_column)
        .where(id_column >= start, actionable)
        .order_by(id_column)
        .offset(size - 1)
        .limit(1)
    )
    found = session.scalar(stmt)
    return int(found) if found is not None else None


def _contact_matches(actor: Actor, start: int, end: int | None) -> Subquery:
    """(anchor_id, other_id, reason) for every anchor id in ``start..end``."""
    window = [Contact.id >= start] + ([Contact.id <= end] if end is not None else [])
    anchors = (
        select(
            Contact.id.label("id"),
            func.lower(Contact.email).label("email"),
            Contact.phone_digits.label("digits"),
            Contact.company_id.label("company_id"),
            contact_name(Contact).label("name"),
        )
        .where(*window, _actionable(actor, "contacts", Contact.owner_id))
        .cte("anchors")
    )
    other = aliased(Contact, name="other")

    def partners(reason: str, condition: ColumnElement[bool]) -> Select[Any]:
        found = (
            select(other.id.label("other_id"))
            .where(condition, other.id > anchors.c.id)
            .where(_actionable(actor, "contacts", other.owner_id))
            .order_by(other.id)
            .limit(PER_REASON)
            .lateral(f"by_{reason}")
        )
        return select(
            anchors.c.id.label("anchor_id"),
            found.c.other_id,
            literal(reason).label("reason"),
        ).select_from(anchors.join(found, true()))

    return union_all(
        _same_key(actor, anchors.c.email, lambda c: func.lower(c.email), "same_email", 1),
        # Not the trigram index of phone_digits: it answers the equality of digit strings
        # slowly (digits make few distinct trigrams, each with a long posting list, about
        # 17 ms a lookup at 100,000 contacts); a pass over the column costs less. nullif()
        # is a no-op on the value (the column is never "") that keeps that index out.
        _same_key(
            actor,
            anchors.c.digits,
            lambda c: func.nullif(c.phone_digits, ""),
            "same_phone",
            MIN_PHONE_DIGITS,
        ),
        partners(
            "similar_name_same_company",
            and_(
                anchors.c.company_id.is_not(None),
                other.company_id == anchors.c.company_id,
                func.btrim(anchors.c.name) != "",
                _similar(contact_name(other), anchors.c.name, CONTACT_NAME_SIMILARITY),
            ),
        ),
    ).subquery("matches")


def _same_key(
    actor: Actor, anchor_key: Any, key_of: Callable[[Any], Any], reason: str, min_length: int
) -> Select[Any]:
    """(anchor_id, other_id, ``reason``): each anchor (a contact of the ``anchors`` CTE
    that ``anchor_key`` belongs to) with the next ``PER_REASON`` contacts, by id, whose
    ``key_of(contact)`` equals its key (keys shorter than ``min_length`` never match).

    One read collects every contact whose key is among the page's and numbers them per
    key in id order; each anchor whose key is shared is then joined to the contacts
    numbered 1 to ``PER_REASON`` after it, by equality on (key, number). So a value
    shared by thousands (a placeholder address, a switchboard) costs one read of its
    rows per page, never thousands of rows per anchor, and unshared keys (most of them)
    cost nothing after that read.
    """
    anchors = anchor_key.table
    other = aliased(Contact, name=f"{reason}_other")
    wanted = select(anchor_key).where(func.length(anchor_key) >= min_length)
    keyed = (
        select(
            other.id.label("id"),
            key_of(other).label("key"),
            func.row_number().over(partition_by=key_of(other), order_by=other.id).label("position"),
            func.count().over(partition_by=key_of(other)).label("size"),
        )
        .where(key_of(other).in_(wanted), _actionable(actor, "contacts", other.owner_id))
        .cte(f"{reason}_keyed")
    )
    mine, theirs = keyed.alias(f"{reason}_mine"), keyed.alias(f"{reason}_theirs")
    step = func.generate_series(1, PER_REASON).table_valued("n").render_derived(name="step")
    # Materialized, so that the planner joins (anchor, step) pairs to their partner by
    # both keys instead of pairing every two rows of a crowded key first.
    targets = (
        select(
            mine.c.id.label("anchor_id"),
            mine.c.key.label("key"),
            (mine.c.position + step.c.n).label("wanted"),
        )
        .select_from(
            anchors.join(mine, and_(mine.c.id == anchors.c.id, mine.c.size > 1)).join(
                step, step.c.n <= mine.c.size - mine.c.position
            )
        )
        .cte(f"{reason}_targets")
        .prefix_with("MATERIALIZED")
    )
    return select(
        targets.c.anchor_id,
        theirs.c.id.label("other_id"),
        literal(reason).label("reason"),
    ).select_from(
        targets.join(
            theirs, and_(theirs.c.key == targets.c.key, theirs.c.position == targets.c.wanted)
        )
    )


def _company_matches(actor: Actor, start: int, end: int | None) -> Subquery:
    """(anchor_id, other_id, reason) for every anchor id in ``start..end``."""
    window = [Company.id >= start] + ([Company.id <= end] if end is not None else [])
    anchors = (
        select(
            Company.id.label("id"),
            Company.domain.label("domain"),
            func.lower(Company.name).label("sort_name"),
            company_name_key(Company.name).label("name_key"),
            _numbers(Company.name).label("numbers"),
        )
        .where(*window, _actionable(actor, "companies", Company.owner_id))
        .cte("anchors")
    )
    other = aliased(Company, name="other")
    same_domain = (
        select(other.id.label("other_id"))
        .where(
            anchors.c.domain.is_not(None),
            other.domain == anchors.c.domain,
            other.id > anchors.c.id,
            _actionable(actor, "companies", other.owner_id),
        )
        .order_by(other.id)
        .limit(PER_REASON)
        .lateral("by_domain")
    )
    by_domain = select(
        anchors.c.id.label("anchor_id"),
        same_domain.c.other_id,
        literal("same_domain").label("reason"),
    ).select_from(anchors.join(same_domain, true()))

    def neighbours(after: bool) -> Select[Any]:
        """The ``NAME_WINDOW`` companies next to the anchor in name order (one range
        scan of the ``lower(name), id`` index), then the ones that really are alike."""
        position = tuple_(func.lower(other.name), other.id)
        anchor_position = tuple_(anchors.c.sort_name, anchors.c.id)
        order = [func.lower(other.name), other.id]
        if not after:
            order = [column.desc() for column in order]
        window_rows = (
            select(other.id.label("other_id"), other.name.label("name"), other.owner_id)
            .where(position > anchor_position if after else position < anchor_position)
            .order_by(*order)
            .limit(NAME_WINDOW)
            .lateral("after" if after else "before")
        )
        return (
            select(
                anchors.c.id.label("anchor_id"),
                window_rows.c.other_id,
                literal("similar_name").label("reason"),
            )
            .select_from(anchors.join(window_rows, true()))
            .where(
                window_rows.c.other_id > anchors.c.id,
                _actionable(actor, "companies", window_rows.c.owner_id),
                anchors.c.name_key != "",
                _numbers(window_rows.c.name) == anchors.c.numbers,
                _similar(
                    company_name_key(window_rows.c.name),
                    anchors.c.name_key,
                    COMPANY_NAME_SIMILARITY,
                ),
            )
        )

    return union_all(by_domain, neighbours(True), neighbours(False)).subquery("matches")


@dataclass(frozen=True, slots=True)
class _Kind:
    entity: str
    resource: str
    id_column: Any
    owner_column: Any
    reasons: tuple[str, ...]
    matches: Callable[[Actor, int, int | None], Subquery]


_CONTACTS = _Kind(
    "contact", "contacts", Contact.id, Contact.owner_id, CONTACT_REASONS, _contact_matches
)
_COMPANIES = _Kind(
    "company", "companies", Company.id, Company.owner_id, COMPANY_REASONS, _company_matches
)


def _find(
    session: DbSession, actor: Actor, kind: _Kind, cursor: str | None, limit: int
) -> SuggestionPage:
    start, after_other = decode_cursor(kind.entity, cursor) if cursor else (0, 0)
    actionable = _actionable(actor, kind.resource, kind.owner_column)
    end = _window_end(session, kind.id_column, actionable, start, SCAN_LIMITS[kind.entity])
    # The planner can not know how few rows the per-key joins make; on its estimates it
    # would spend seconds compiling the query (JIT) to save nothing. For this
    # transaction only.
    session.execute(select(func.set_config("jit", "off", True)))
    matches = kind.matches(actor, start, end)
    stmt = (
        select(matches.c.anchor_id, matches.c.other_id, func.array_agg(matches.c.reason))
        .where(tuple_(matches.c.anchor_id, matches.c.other_id) > tuple_(start, after_other))
        .group_by(matches.c.anchor_id, matches.c.other_id)
        .order_by(matches.c.anchor_id, matches.c.other_id)
        .limit(limit + 1)
    )
    rows = session.execute(stmt).all()
    items = [
        Suggestion(
            ids=(int(anchor_id), int(other_id)),
            reasons=tuple(reason for reason in kind.reasons if reason in set(reasons)),
        )
        for anchor_id, other_id, reasons in rows[:limit]
    ]
    if len(rows) > limit:
        last = items[-1].ids
        next_cursor: str | None = encode_cursor(kind.entity, last[0], last[1])
    elif end is not None:
        # Everything up to ``end`` was looked at; the next page starts after it.
        next_cursor = encode_cursor(kind.entity, end, MAX_BIGINT)
    else:
        next_cursor = None
    return SuggestionPage(items=items, next_cursor=next_cursor)


def find_contact_duplicates(
    session: DbSession, actor: Actor, cursor: str | None = None, limit: int = 50
) -> SuggestionPage:
    """A page of likely duplicate contacts among those ``actor`` may edit and delete.
    Raises :class:`InvalidInput` (``cursor``) for a cursor that is not ours."""
    return _find(session, actor, _CONTACTS, cursor, limit)


def find_company_duplicates(
    session: DbSession, actor: Actor, cursor: str | None = None, limit: int = 50
) -> SuggestionPage:
    """A page of likely duplicate companies among those ``actor`` may edit and delete.
    Raises :class:`InvalidInput` (``cursor``) for a cursor that is not ours."""
    return _find(session, actor, _COMPANIES, cursor, limit)
