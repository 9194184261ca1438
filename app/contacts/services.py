"""Contact services: the only writers of contacts. Each change is audited.

Services enforce the rules that hold whoever calls them (API, pages, imports): a contact
keeps a name or an email, its owner is an active member of the bound workspace and
within the actor's scope, and nothing unstorable reaches the database. A refusal is an
:class:`app.errors.InvalidInput` naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from app.access.policy import Actor, apply_record_scope, record_in_scope
from app.audit.services import record
from app.companies.services import get_visible_company
from app.contacts.models import Contact
from app.custom_fields.services import clean_values, split_changes
from app.database import DbSession
from app.errors import InvalidInput
from app.identity.services import active_membership
from app.input_rules import CONTROL_ANY, MAX_BIGINT, UNSTORABLE, substring_pattern
from app.ownership import count_owned, reassign_owned
from app.search.indexes import has_trigram
from app.tags import normalize_tags
from app.timeline.services import json_value, record_event
from billing import limits
from tenants.context import require_tenant

EDITABLE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company_name",
    "company_id",
    "source",
    "birthday",
    "tags",
    "notes",
    "owner_id",
    "custom_fields",
)
IDENTITY_FIELDS = ("first_name", "last_name", "email")
IDENTITY_MESSAGE = "Give at least a first name, a last name or an email."
COMPANY_MESSAGE = "Choose a company you can see."
# Birthdays before this are typing mistakes, not customers.
EARLIEST_BIRTHDAY = dt.date(1900, 1, 1)
MAX_SOURCE_LENGTH = 100


def _check_storable(values: dict[str, Any]) -> None:
    bad = {
        name: ["Contains characters that are not allowed."]
        for name, value in values.items()
        if isinstance(value, str) and UNSTORABLE.search(value)
    }
    if bad:
        raise InvalidInput(bad)


def _check_identity(values: dict[str, Any]) -> None:
    if not any(values.get(name) for name in IDENTITY_FIELDS):
        raise InvalidInput({"first_name": [IDENTITY_MESSAGE]})


def _latest_today() -> dt.date:
    """Today's date where it is latest (UTC+14): a birthday entered as "today" by
    someone anywhere on earth is never "in the future"."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=14)).date()


def _check_details(session: DbSession, actor: Actor, values: dict[str, Any]) -> None:
    """Check the fields that link or describe a contact (``values`` holds only those
    being set): the company must be one the actor can see, the birthday a real past
    date, the source one short line, the tags per :mod:`app.tags`. Normalises tags and
    blank sources in place."""
    errors: dict[str, list[str]] = {}
    if "company_id" in values and values["company_id"] is not None:
        company_id = values["company_id"]
        if (
            not isinstance(company_id, int)
            or isinstance(company_id, bool)
            or get_visible_company(session, actor, company_id) is None
        ):
            errors["company_id"] = [COMPANY_MESSAGE]
    if "birthday" in values and values["birthday"] is not None:
        birthday = values["birthday"]
        if not isinstance(birthday, dt.date) or isinstance(birthday, dt.datetime):
            errors["birthday"] = ["Not a valid date."]
        elif birthday > _latest_today():
            errors["birthday"] = ["A birthday can not be in the future."]
        elif birthday < EARLIEST_BIRTHDAY:
            errors["birthday"] = ["A birthday can not be before 1900."]
    if "source" in values:
        source = values["source"]
        if isinstance(source, str):
            source = source.strip() or None
            values["source"] = source
        if source is not None and not isinstance(source, str):
            errors["source"] = ["Must be text."]
        elif source is not None and CONTROL_ANY.search(source):
            errors["source"] = ["Contains characters that are not allowed."]
        elif source is not None and len(source) > MAX_SOURCE_LENGTH:
            errors["source"] = [f"Longer than maximum length {MAX_SOURCE_LENGTH}."]
    if "tags" in values:
        try:
            values["tags"] = normalize_tags(values["tags"])
        except InvalidInput as refusal:
            errors.update(refusal.details)
    if errors:
        raise InvalidInput(errors)


def check_owner(session: DbSession, actor: Actor, owner_id: int | None, action: str) -> None:
    """``owner_id`` may own a contact that ``actor`` creates or edits (``action``).

    Actors with "own" (or, until teams exist, "team") scope may only name themselves;
    anyone named must be an active member of the bound workspace.
    """
    if not record_in_scope(actor, "contacts", action, owner_id):
        raise InvalidInput({"owner_id": ["You may only assign contacts to yourself."]})
    if owner_id is None:
        return
    tenant = require_tenant()
    if (
        not isinstance(owner_id, int)
        or not 1 <= owner_id <= MAX_BIGINT
        or active_membership(session, owner_id, tenant.id) is None
    ):
        raise InvalidInput({"owner_id": ["Not an active member of this workspace."]})


def create_contact(session: DbSession, actor: Actor, data: dict[str, Any]) -> Contact:
    """Create a contact owned by ``data['owner_id']`` or by the actor.

    Takes one contact from the plan's allowance in the same transaction (raises
    :class:`billing.limits.PlanLimitExceeded` at the cap)."""
    values = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    values.setdefault("owner_id", actor.user_id)
    values.setdefault("tags", [])
    for name in ("first_name", "last_name"):
        if values.get(name) is None:
            values[name] = ""
    _check_storable(values)
    _check_identity(values)
    _check_details(session, actor, values)
    values["custom_fields"] = clean_values(session, "contact", values.get("custom_fields"))
    check_owner(session, actor, values["owner_id"], "create")
    limits.reserve(session, "contacts")
    contact = Contact(created_by_id=actor.user_id, **values)
    session.add(contact)
    session.flush()
    record(
        session,
        actor_id=actor.user_id,
        action="created",
        entity="contact",
        entity_id=contact.id,
        changes=split_changes(
            {k: [None, _jsonable(v)] for k, v in values.items() if v not in (None, "", [])}
        ),
    )
    # Only the contact's own history: an event naming the company too would stay on
    # the company's card as "created" after the contact is gone (app.timeline.models).
    record_event(
        session,
        kind="created",
        entity="contact",
        entity_id=contact.id,
        actor_id=actor.user_id,
        contact_id=contact.id,
        data={"name": contact.full_name},
    )
    session.commit()
    return contact


def update_contact(
    session: DbSession, actor: Actor, contact: Contact, data: dict[str, Any]
) -> Contact:
    """Apply the given fields; the audit entry lists only what really changed."""
    new = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    for name in ("first_name", "last_name"):
        if name in new and new[name] is None:
            new[name] = ""
    _check_storable(new)
    if "tags" in new:
        new["tags"] = normalize_tags(new["tags"])
    if "source" in new and isinstance(new["source"], str):
        new["source"] = new["source"].strip() or None
    if "custom_fields" in new:
        new["custom_fields"] = clean_values(
            session, "contact", new["custom_fields"], current=contact.custom_fields
        )
    changed = {k: v for k, v in new.items() if getattr(contact, k) != v}
    # A link to a company the actor can no longer see is kept as long as it is not
    # changed: editing a phone number must not fail because of it.
    _check_details(session, actor, changed)
    if any(name in changed for name in IDENTITY_FIELDS):
        _check_identity({name: new.get(name, getattr(contact, name)) for name in IDENTITY_FIELDS})
    if "owner_id" in changed:
        check_owner(session, actor, changed["owner_id"], "edit")
    changes: dict[str, list[Any]] = {}
    for field, value in changed.items():
        changes[field] = [_jsonable(getattr(contact, field)), _jsonable(value)]
        setattr(contact, field, value)
    changes = split_changes(changes)
    if changes:
        record(
            session,
            actor_id=actor.user_id,
            action="updated",
            entity="contact",
            entity_id=contact.id,
            changes=changes,
        )
        record_event(
            session,
            kind="updated",
            entity="contact",
            entity_id=contact.id,
            actor_id=actor.user_id,
            contact_id=contact.id,
            data={"changes": changes},
        )
    session.commit()
    return contact


def delete_contact(session: DbSession, actor: Actor, contact: Contact) -> None:
    """Delete a contact (hard delete for now; the workspace issue adds a trash) and
    give its place in the plan's allowance back."""
    record(
        session,
        actor_id=actor.user_id,
        action="deleted",
        entity="contact",
        entity_id=contact.id,
        changes={"name": [contact.full_name, None]},
    )
    session.delete(contact)
    limits.release(session, "contacts")
    session.commit()


def count_owned_contacts(session: DbSession, owner_id: int) -> int:
    """How many contacts of the bound workspace ``owner_id`` owns."""
    return count_owned(session, Contact.owner_id, owner_id)


def reassign_contacts(
    session: DbSession, *, from_owner_id: int, to_owner_id: int, actor_id: int
) -> int:
    """Hand every contact of ``from_owner_id`` to ``to_owner_id`` (caller's
    transaction); returns how many moved."""
    return reassign_owned(
        session,
        Contact.owner_id,
        entity="contact",
        from_id=from_owner_id,
        to_id=to_owner_id,
        actor_id=actor_id,
    )


def get_visible_contact(
    session: DbSession, actor: Actor, contact_id: int, action: str = "view"
) -> Contact | None:
    """The contact if it exists and ``actor`` may ``action`` it; None otherwise (the
    caller answers 404 either way, so "not yours" looks like "not there"). Ids that can
    not exist (outside bigint) are simply not found."""
    if not 1 <= contact_id <= MAX_BIGINT:
        return None
    contact = session.get(Contact, contact_id)
    if contact is None or not record_in_scope(actor, "contacts", action, contact.owner_id):
        return None
    return contact


def search_condition(q: str) -> Any:
    """Case-insensitive substring match on name, email and company, and on the phone's
    digits when ``q`` holds at least three. ``%`` and ``_`` are matched literally.

    Index-backed (migration t0006): when ``q`` has a trigram, the trigram index of
    ``search_text`` (name, email and company in one lower-case text) narrows the rows
    first and the per-field test runs on those only, so a match across two fields (the
    end of the last name and the start of the email) still is no match. The digits
    have their own index on ``phone_digits``."""
    q = UNSTORABLE.sub("", q)
    term = substring_pattern(q)
    digits = "".join(ch for ch in q if ch in "0123456789")
    fields = or_(
        (Contact.first_name + " " + Contact.last_name).ilike(term, escape="\\"),
        Contact.email.ilike(term, escape="\\"),
        Contact.company_name.ilike(term, escape="\\"),
    )
    if has_trigram(q):
        fields = and_(Contact.search_text.ilike(term, escape="\\"), fields)
    if len(digits) >= 3:
        return or_(fields, Contact.phone_digits.like(f"%{digits}%"))
    return fields


def visible_contacts_query(
    actor: Actor,
    q: str | None = None,
    *,
    owner_id: int | None = None,
    email: str | None = None,
    company_id: int | None = None,
) -> Select[tuple[Contact]]:
    """Contacts ``actor`` may view, optionally matching ``q`` and the filters; scope is
    applied in SQL."""
    stmt = apply_record_scope(select(Contact), actor, "contacts", "view", Contact.owner_id)
    if q and q.strip():
        stmt = stmt.where(search_condition(q))
    if owner_id is not None:
        stmt = stmt.where(Contact.owner_id == owner_id)
    if company_id is not None:
        stmt = stmt.where(Contact.company_id == company_id)
    if email is not None and email.strip():
        wanted = UNSTORABLE.sub("", email).strip().lower()
        stmt = stmt.where(func.lower(Contact.email) == wanted)
    return stmt


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, list, dict, dt.date)):
        return json_value(value)
    return str(value)
