"""Company services: the only writers of companies. Each change is audited and appended
to the company's timeline in the same transaction.

The rules live here, not in the forms or the API schemas, so that every door (pages,
API, imports) refuses the same things: a company has a name, its domain is a bare host
name, its size is one of the offered bands, and its owner is an active member of the
bound workspace whom the actor may assign. A refusal is an
:class:`app.errors.InvalidInput` naming each field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, and_, func, or_, select

from app.access.policy import (
    Actor,
    apply_record_scope,
    owner_condition,
    record_in_scope,
    scope_for,
)
from app.audit.services import record
from app.companies.models import COMPANY_SIZES, Company
from app.contacts.models import Contact
from app.custom_fields.services import clean_values, split_changes
from app.database import DbSession
from app.errors import InvalidInput
from app.identity.services import active_membership
from app.input_rules import (
    CONTROL_ANY,
    CONTROL_EXCEPT_LINE_BREAKS,
    MAX_BIGINT,
    UNSTORABLE,
    substring_pattern,
)
from app.search.indexes import has_trigram
from app.tags import has_tag, normalize_tags
from app.timeline.services import changes, json_value, record_event, snapshot
from tenants.context import require_tenant

EDITABLE_FIELDS = (
    "name",
    "domain",
    "industry",
    "size",
    "address",
    "phone",
    "notes",
    "owner_id",
    "tags",
    "custom_fields",
)
# Single-line text and its maximum length; multi-line text is below.
_LINES = {"name": 200, "industry": 100, "phone": 40}
_MULTILINE = {"address": 20000, "notes": 20000}
PHONE_PATTERN = re.compile(r"^[0-9+()\-. /x]*$")
# One DNS label: letters, digits and inner hyphens, at most 63 characters.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_DOMAIN_LENGTH = 253


def normalize_domain(value: str) -> str:
    """The bare host name of what people paste: ``https://www.Acme.com/about`` becomes
    ``acme.com``. Raises ``ValueError`` when the result does not look like a host name
    (at least two labels, a letter-only top-level label; internationalised names are
    taken in their IDNA form)."""
    text = value.strip()
    if not text or CONTROL_ANY.search(text) or UNSTORABLE.search(text) or " " in text:
        raise ValueError("not a host name")
    if "://" not in text:
        text = "//" + text  # so that urlsplit reads the host, not a path
    try:
        host = urlsplit(text).hostname or ""
    except ValueError as exc:
        raise ValueError("not a host name") from exc
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError("not a host name") from exc
    labels = host.split(".")
    if (
        len(host) > MAX_DOMAIN_LENGTH
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not labels[-1].isalpha()
    ):
        raise ValueError("not a host name")
    return host


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise the given fields; raise one InvalidInput with every problem.
    Custom field values pass through (:func:`_clean_with_custom_fields` checks them)."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("tags", "custom_fields", "owner_id"):
            cleaned[name] = value
            continue
        value = _blank_to_none(value)
        if value is not None and not isinstance(value, str):
            errors[name] = ["Must be text."]
            continue
        limit = _LINES.get(name) or _MULTILINE.get(name)
        pattern = CONTROL_EXCEPT_LINE_BREAKS if name in _MULTILINE else CONTROL_ANY
        if value is not None and (UNSTORABLE.search(value) or pattern.search(value)):
            errors[name] = ["Contains characters that are not allowed."]
        elif value is not None and limit is not None and len(value) > limit:
            errors[name] = [f"Longer than maximum length {limit}."]
        elif name == "domain" and value is not None:
            try:
                value = normalize_domain(value)
            except ValueError:
                errors[name] = ["Give a domain such as example.com."]
        elif name == "size" and value is not None and value not in COMPANY_SIZES:
            errors[name] = [f"Choose one of: {', '.join(COMPANY_SIZES)}."]
        elif name == "phone" and value is not None and not PHONE_PATTERN.match(value):
            errors[name] = ["Use digits, spaces and + ( ) - . only."]
        cleaned[name] = value
    if "name" in cleaned and not cleaned["name"] and "name" not in errors:
        errors["name"] = ["Give the company a name."]
    if "tags" in cleaned:
        try:
            cleaned["tags"] = normalize_tags(cleaned["tags"])
        except InvalidInput as refusal:
            errors.update(refusal.details)
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _clean_with_custom_fields(
    session: DbSession, values: dict[str, Any], current: Company | None
) -> dict[str, Any]:
    """:func:`_clean`, and the custom field values of a new company (``current`` None:
    required fields must be there) or of ``current``; one InvalidInput names every
    problem."""
    errors: dict[str, list[str]] = {}
    try:
        cleaned = _clean(values)
    except InvalidInput as refusal:
        errors.update(refusal.details)
        cleaned = dict(values)
    if "custom_fields" in values or current is None:
        try:
            cleaned["custom_fields"] = clean_values(
                session,
                "company",
                values.get("custom_fields"),
                current=current.custom_fields if current is not None else None,
            )
        except InvalidInput as refusal:
            errors.update(refusal.details)
    if errors:
        raise InvalidInput(errors)
    return cleaned


def check_owner(session: DbSession, actor: Actor, owner_id: Any, action: str) -> None:
    """``owner_id`` may own a company that ``actor`` creates or edits (``action``).

    Actors whose scope is narrower than "all" may only name themselves; whoever is
    named must be an active member of the bound workspace.
    """
    if owner_id is not None and (
        not isinstance(owner_id, int)
        or isinstance(owner_id, bool)
        or not 1 <= owner_id <= MAX_BIGINT
    ):
        raise InvalidInput({"owner_id": ["Not an active member of this workspace."]})
    if not record_in_scope(actor, "companies", action, owner_id):
        raise InvalidInput({"owner_id": ["You may only assign companies to yourself."]})
    if owner_id is None:
        return
    if active_membership(session, owner_id, require_tenant().id) is None:
        raise InvalidInput({"owner_id": ["Not an active member of this workspace."]})


def create_company(session: DbSession, actor: Actor, data: dict[str, Any]) -> Company:
    """Create a company owned by ``data['owner_id']`` or, by default, by the actor."""
    values = _clean_with_custom_fields(
        session, {k: v for k, v in data.items() if k in EDITABLE_FIELDS}, None
    )
    if not values.get("name"):
        raise InvalidInput({"name": ["Give the company a name."]})
    values.setdefault("owner_id", actor.user_id)
    values.setdefault("tags", [])
    check_owner(session, actor, values["owner_id"], "create")
    company = Company(created_by_id=actor.user_id, **values)
    session.add(company)
    session.flush()
    created = split_changes(
        {k: [None, json_value(v)] for k, v in values.items() if v not in (None, "", [], {})}
    )
    record(
        session,
        actor_id=actor.user_id,
        action="created",
        entity="company",
        entity_id=company.id,
        changes=created,
    )
    record_event(
        session,
        kind="created",
        entity="company",
        entity_id=company.id,
        actor_id=actor.user_id,
        company_id=company.id,
        data={"name": company.name},
    )
    session.commit()
    return company


def update_company(
    session: DbSession, actor: Actor, company: Company, data: dict[str, Any]
) -> Company:
    """Apply the given fields; the audit entry and the timeline event list only what
    really changed (nothing is written when nothing did)."""
    new = _clean_with_custom_fields(
        session, {k: v for k, v in data.items() if k in EDITABLE_FIELDS}, company
    )
    if "name" in new and not new["name"]:
        raise InvalidInput({"name": ["Give the company a name."]})
    before = snapshot(company, new)
    changed = changes(before, new)
    if "owner_id" in changed:
        check_owner(session, actor, new["owner_id"], "edit")
    if not changed:
        return company
    for name in changed:
        setattr(company, name, new[name])
    changed = split_changes(changed)
    record(
        session,
        actor_id=actor.user_id,
        action="updated",
        entity="company",
        entity_id=company.id,
        changes=changed,
    )
    record_event(
        session,
        kind="updated",
        entity="company",
        entity_id=company.id,
        actor_id=actor.user_id,
        company_id=company.id,
        data={"changes": changed},
    )
    session.commit()
    return company


def delete_company(session: DbSession, actor: Actor, company: Company) -> None:
    """Delete a company. Its contacts and deals stay (their link is cleared by the
    database), and its own history goes with it; the audit log keeps the name."""
    record(
        session,
        actor_id=actor.user_id,
        action="deleted",
        entity="company",
        entity_id=company.id,
        changes={"name": [company.name, None]},
    )
    session.delete(company)
    session.commit()


def get_visible_company(
    session: DbSession, actor: Actor, company_id: int, action: str = "view"
) -> Company | None:
    """The company if it exists and ``actor`` may ``action`` it; None otherwise, so that
    callers answer "not yours" exactly like "not there". Ids outside bigint can not
    exist and never reach SQL."""
    if isinstance(company_id, bool) or not 1 <= company_id <= MAX_BIGINT:
        return None
    company = session.get(Company, company_id)
    if company is None or not record_in_scope(actor, "companies", action, company.owner_id):
        return None
    return company


def search_condition(q: str) -> Any:
    """Case-insensitive substring match on the name or the domain; ``%`` and ``_`` are
    matched literally.

    Index-backed (migration t0006): when ``q`` has a trigram, the trigram index of
    ``search_text`` (name and domain in one lower-case text) narrows the rows first and
    the per-field test runs on those only (a match across the two is no match)."""
    term = substring_pattern(q)
    fields = or_(Company.name.ilike(term, escape="\\"), Company.domain.ilike(term, escape="\\"))
    if has_trigram(q):
        return and_(Company.search_text.ilike(term, escape="\\"), fields)
    return fields


def visible_companies_query(
    actor: Actor,
    q: str | None = None,
    *,
    owner_id: int | None = None,
    industry: str | None = None,
    tag: str | None = None,
) -> Select[tuple[Company]]:
    """Companies ``actor`` may view (scope applied in SQL), optionally matching ``q``
    (name or domain, case-insensitive substring), an owner, an industry (exact,
    case-insensitive) and a tag (case-insensitive)."""
    stmt = apply_record_scope(select(Company), actor, "companies", "view", Company.owner_id)
    if q and q.strip():
        stmt = stmt.where(search_condition(q))
    if owner_id is not None:
        stmt = stmt.where(Company.owner_id == owner_id)
    if industry is not None and industry.strip():
        stmt = stmt.where(func.lower(Company.industry) == industry.strip().lower())
    if tag is not None and tag.strip():
        # Tags keep their case; the filter does not care about it.
        stmt = stmt.where(has_tag(Company.tags, tag))
    return stmt


def contact_counts(session: DbSession, actor: Actor, company_ids: Iterable[int]) -> dict[int, int]:
    """How many contacts ``actor`` may see at each company (one query for a page)."""
    ids = list(set(company_ids))
    if not ids:
        return {}
    stmt = (
        select(Contact.company_id, func.count())
        .where(Contact.company_id.in_(ids))
        .where(owner_condition(actor, scope_for(actor, "contacts", "view"), Contact.owner_id))
        .group_by(Contact.company_id)
    )
    return {
        int(company_id): int(count)
        for company_id, count in session.execute(stmt)
        if company_id is not None
    }


def company_names(session: DbSession, actor: Actor, company_ids: Iterable[int]) -> dict[int, str]:
    """Names of the companies among ``company_ids`` that ``actor`` may view."""
    ids = [i for i in set(company_ids) if i is not None]
    if not ids:
        return {}
    stmt = (
        select(Company.id, Company.name)
        .where(Company.id.in_(ids))
        .where(owner_condition(actor, scope_for(actor, "companies", "view"), Company.owner_id))
    )
    return {int(company_id): str(name) for company_id, name in session.execute(stmt)}


def company_choices(session: DbSession, actor: Actor, limit: int) -> list[Company]:
    """Up to ``limit`` + 1 companies ``actor`` may view, by name (for a choice list: one
    more than fits tells the page to offer typing instead)."""
    stmt = visible_companies_query(actor).order_by(Company.name, Company.id).limit(limit + 1)
    return list(session.scalars(stmt))


def find_visible_companies(session: DbSession, actor: Actor, text: str) -> list[Company]:
    """Companies ``actor`` may view whose name or domain is ``text`` (ignoring case);
    at most two, which is enough to tell "one" from "ambiguous"."""
    wanted = CONTROL_ANY.sub("", UNSTORABLE.sub("", text)).strip().lower()
    if not wanted:
        return []
    stmt = (
        visible_companies_query(actor)
        .where(or_(func.lower(Company.name) == wanted, Company.domain == wanted))
        .order_by(Company.id)
        .limit(2)
    )
    return list(session.scalars(stmt))
