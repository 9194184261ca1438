"""Contact services: the only writers of contacts. Each change is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select

from app.access.policy import Actor, apply_record_scope, record_in_scope
from app.audit.services import record
from app.contacts.models import Contact
from app.database import DbSession

EDITABLE_FIELDS = ("first_name", "last_name", "email", "phone", "title", "company_name", "notes", "owner_id")


def create_contact(session: DbSession, actor: Actor, data: dict[str, Any]) -> Contact:
    """Create a contact owned by ``data['owner_id']`` or by the actor."""
    values = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    values.setdefault("owner_id", actor.user_id)
    contact = Contact(created_by_id=actor.user_id, **values)
    session.add(contact)
    session.flush()
    record(
        session, actor_id=actor.user_id, action="created", entity="contact",
        entity_id=contact.id, changes={k: [None, _jsonable(v)] for k, v in values.items()},
    )
    session.commit()
    return contact


def update_contact(session: DbSession, actor: Actor, contact: Contact, data: dict[str, Any]) -> Contact:
    """Apply the given fields; the audit entry lists only what really changed."""
    changes: dict[str, list[Any]] = {}
    for field, value in data.items():
        if field not in EDITABLE_FIELDS:
            continue
        old = getattr(contact, field)
        if old != value:
            changes[field] = [_jsonable(old), _jsonable(value)]
            setattr(contact, field, value)
    if changes:
        record(
            session, actor_id=actor.user_id, action="updated", entity="contact",
            entity_id=contact.id, changes=changes,
        )
    session.commit()
    return contact


def delete_contact(session: DbSession, actor: Actor, contact: Contact) -> None:
    """Delete a contact (hard delete for now; the workspace issue adds a trash)."""
    record(
        session, actor_id=actor.user_id, action="deleted", entity="contact",
        entity_id=contact.id, changes={"name": [contact.full_name, None]},
    )
    session.delete(contact)
    session.commit()


def get_visible_contact(session: DbSession, actor: Actor, contact_id: int, action: str = "view") -> Contact | None:
    """The contact if it exists and ``actor`` may ``action`` it; None otherwise (the
    caller answers 404 either way, so "not yours" looks like "not there")."""
    contact = session.get(Contact, contact_id)
    if contact is None or not record_in_scope(actor, "contacts", action, contact.owner_id):
        return None
    return contact


def search_condition(q: str) -> Any:
    """Case-insensitive match on name, email, phone digits and company."""
    term = f"%{q.strip().lower()}%"
    digits = "".join(ch for ch in q if ch.isdigit())
    conditions = [
        func.lower(Contact.first_name + " " + Contact.last_name).like(term),
        func.lower(func.coalesce(Contact.email, "")).like(term),
        func.lower(func.coalesce(Contact.company_name, "")).like(term),
    ]
    if len(digits) >= 3:
        conditions.append(
            func.regexp_replace(func.coalesce(Contact.phone, ""), "[^0-9]", "", "g").like(f"%{digits}%")
        )
    return or_(*conditions)


def visible_contacts_query(actor: Actor, q: str | None = None) -> Select[tuple[Contact]]:
    """Contacts ``actor`` may view, optionally matching ``q``; scope applied in SQL."""
    stmt = apply_record_scope(select(Contact), actor, "contacts", "view", Contact.owner_id)
    if q and q.strip():
        stmt = stmt.where(search_condition(q))
    return stmt


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
