"""Merging two contacts (or two companies) into one, keeping everything of both.

The kept record takes, field by field, the value the person chose; by default its own,
or the other's where its own is empty (notes written on both are kept, one after the
other). Tags are united and custom field values merged (the kept record's win unless
the other's are chosen). Every row that points at the other record, found through the
foreign keys of the tenant tables so that a relation added later (comments, ...) comes
along without a change here, is moved to the kept one: activities, deals, timeline
events, the contacts of a company. Then the other record is deleted (giving its place in
the plan's allowance back), the kept record's history gets a "merged" event saying what
came over, and the audit log keeps the merged record's values under both ids. All in one
transaction: a refusal changes nothing.

Both rows are locked (``FOR UPDATE``, in id order, so that two merges of the same pair
wait for each other instead of deadlocking) and re-read before anything is decided; a
merge that finds one of them gone raises :class:`MergeConflict` rather than lose what
the first merge moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, func, select, update

import app.models  # noqa: F401  (every tenant table, so that every relation is moved)
from app.access.policy import Actor, record_in_scope
from app.audit.services import record
from app.companies import services as companies
from app.companies.models import Company
from app.contacts import services as contacts
from app.contacts.models import Contact
from app.database import DbSession, TenantBase, utcnow
from app.errors import InvalidInput
from app.lists.last_contact import refresh_last_contacted
from app.tags import normalize_tags
from app.timeline.services import json_value, record_event
from billing import limits

KEEP, OTHER, BOTH = "keep", "other", "both"
CUSTOM_PREFIX = "custom_fields."
# Notes written on both records are kept, the kept record's first.
NOTES_SEPARATOR = "\n\n"
MAX_NOTES = 20000


class MergeConflict(Exception):
    """One of the two records was merged or deleted by someone else meanwhile."""

    def __init__(self) -> None:
        super().__init__("One of the records was merged or deleted meanwhile; nothing changed.")
        self.message = str(self)


@dataclass(frozen=True, slots=True)
class MergeKind:
    """What differs between merging contacts and merging companies."""

    entity: str  # "contact" or "company"
    model: Any
    resource: str
    fields: tuple[str, ...]
    # Usage counter given back when one record goes (None: not counted).
    counted: str | None


# Tags and custom fields are merged as wholes (united, then per key), not chosen; every
# other field a person can edit is chosen one by one.
_MERGED_WHOLE = ("tags", "custom_fields")


def _chosen_fields(editable: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in editable if name not in _MERGED_WHOLE)


CONTACT_MERGE = MergeKind(
    entity="contact",
    model=Contact,
    resource="contacts",
    fields=_chosen_fields(contacts.EDITABLE_FIELDS),
    counted="contacts",
)
COMPANY_MERGE = MergeKind(
    entity="company",
    model=Company,
    resource="companies",
    fields=_chosen_fields(companies.EDITABLE_FIELDS),
    counted=None,
)


@dataclass(frozen=True, slots=True)
class FieldChoice:
    """A field whose values differ: what each record holds, what is taken unless the
    person chooses otherwise, and what may be chosen."""

    name: str  # a field name, or "custom_fields.<key>"
    keep_value: Any
    other_value: Any
    default: str
    options: tuple[str, ...]


def is_empty(value: Any) -> bool:
    """No value worth keeping: None, blank text, an empty list or object."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or value == [] or value == {}


def merge_values(kind: MergeKind, record_: Any) -> dict[str, Any]:
    """The choosable values of a record: its fields, then its custom field values (as
    ``custom_fields.<key>``)."""
    values = {name: getattr(record_, name) for name in kind.fields}
    for key, value in sorted((record_.custom_fields or {}).items()):
        values[CUSTOM_PREFIX + key] = value
    return values


def field_choices(kind: MergeKind, keep: Any, other: Any) -> list[FieldChoice]:
    """The fields (and custom field values) on which ``keep`` and ``other`` differ, in
    form order, with the default choice for each."""
    mine, theirs = merge_values(kind, keep), merge_values(kind, other)
    names = list(mine) + [name for name in theirs if name not in mine]
    found = []
    for name in names:
        a, b = mine.get(name), theirs.get(name)
        if json_value(a) == json_value(b) or (is_empty(a) and is_empty(b)):
            continue
        both_written = name == "notes" and not is_empty(a) and not is_empty(b)
        found.append(
            FieldChoice(
                name=name,
                keep_value=a,
                other_value=b,
                default=BOTH if both_written else (OTHER if is_empty(a) else KEEP),
                options=(KEEP, OTHER, BOTH) if both_written else (KEEP, OTHER),
            )
        )
    return found


def _references(kind: MergeKind) -> list[Column[Any]]:
    """Every column of a tenant table that points at ``kind``'s table."""
    table = kind.model.__table__
    return [
        fk.parent
        for other in TenantBase.metadata.sorted_tables
        for fk in other.foreign_keys
        if fk.column.table is table
    ]


def relation_counts(session: DbSession, kind: MergeKind, record_id: int) -> dict[str, int]:
    """How many rows of each table point at the record (what a merge would move), by
    table name; tables with none are left out. One indexed count per relation."""
    counts: dict[str, int] = {}
    for column in _references(kind):
        n = int(
            session.scalar(
                select(func.count()).select_from(column.table).where(column == record_id)
            )
            or 0
        )
        if n:
            counts[column.table.name] = counts.get(column.table.name, 0) + n
    return counts


def _move_relations(
    session: DbSession, kind: MergeKind, from_id: int, to_id: int
) -> dict[str, int]:
    """Point every row that names ``from_id`` at ``to_id``; returns how many moved per
    table. Core UPDATEs: the rows are not loaded, and their ``updated_at`` is set."""
    moved: dict[str, int] = {}
    for column in _references(kind):
        result = session.execute(
            update(column.table)
            .where(column == from_id)
            .values({column.name: to_id})
            .execution_options(synchronize_session=False)
        )
        n = int(result.rowcount or 0)  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        if n:
            moved[column.table.name] = moved.get(column.table.name, 0) + n
    return moved


def _lock_pair(session: DbSession, kind: MergeKind, keep: Any, other: Any) -> None:
    """Lock both rows in id order and re-read them; :class:`MergeConflict` when one is
    gone."""
    model = kind.model
    stmt = (
        select(model)
        .where(model.id.in_([keep.id, other.id]))
        .order_by(model.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if len(session.scalars(stmt).all()) != 2:
        raise MergeConflict()


def _check_pair(kind: MergeKind, keep: Any, other: Any) -> None:
    label = kind.entity
    if not isinstance(keep, kind.model) or not isinstance(other, kind.model):
        raise InvalidInput(
            {"other_id": [f"Only a {label} can be merged with a {label}."]},
            "These records can not be merged.",
        )
    if keep.id == other.id:
        raise InvalidInput(
            {"other_id": [f"Choose another {label}: a {label} can not be merged with itself."]},
            "These records can not be merged.",
        )


def _check_rights(kind: MergeKind, actor: Actor, keep: Any, other: Any) -> None:
    """Re-checked on the locked rows: an owner may have changed since the page showed
    them."""
    allowed = (
        record_in_scope(actor, kind.resource, "edit", keep.owner_id)
        and record_in_scope(actor, kind.resource, "edit", other.owner_id)
        and record_in_scope(actor, kind.resource, "delete", other.owner_id)
    )
    if not allowed:
        raise InvalidInput(
            {"other_id": [f"You may only merge {kind.resource} you may edit and delete."]},
            "These records can not be merged.",
        )


def _resolve(kind: MergeKind, keep: Any, other: Any, choices: Mapping[str, Any]) -> dict[str, Any]:
    """The kept record's new values, by field and ``custom_fields.<key>``, from the
    choices (``keep``, ``other``, ``both`` for notes written on both) and the
    defaults. Raises :class:`InvalidInput` naming ``fields.<name>`` for a field that can
    not be chosen or a choice that does not exist."""
    offered = {choice.name: choice for choice in field_choices(kind, keep, other)}
    choosable = set(kind.fields) | {
        CUSTOM_PREFIX + key for key in (*(keep.custom_fields or {}), *(other.custom_fields or {}))
    }
    errors: dict[str, list[str]] = {}
    for name, value in choices.items():
        if name not in choosable:
            errors[f"fields.{name}"] = ["Not a field that can be chosen."]
            continue
        options = offered[name].options if name in offered else (KEEP, OTHER)
        if value not in options:
            errors[f"fields.{name}"] = [f"Choose one of: {', '.join(options)}."]
    if errors:
        raise InvalidInput(errors)
    result = merge_values(kind, keep)
    theirs = merge_values(kind, other)
    for name, choice in offered.items():
        taken = choices.get(name, choice.default)
        if taken == OTHER:
            result[name] = theirs.get(name)
        elif taken == BOTH:
            result[name] = f"{choice.keep_value.rstrip()}{NOTES_SEPARATOR}{choice.other_value}"
    if isinstance(result.get("notes"), str) and len(result["notes"]) > MAX_NOTES:
        raise InvalidInput(
            {"fields.notes": [f"Together the notes are longer than {MAX_NOTES} characters."]}
        )
    return result


def _check_contact(session: DbSession, actor: Actor, keep: Contact, new: dict[str, Any]) -> None:
    """The merged contact keeps a name or an email, and a new owner is one the actor
    may assign. The company link is not re-checked: taking the other contact's link
    keeps a link that existed, as an edit that leaves it alone does."""
    if not any(new.get(name) for name in contacts.IDENTITY_FIELDS):
        raise InvalidInput({"fields.first_name": [contacts.IDENTITY_MESSAGE]})
    if new["owner_id"] != keep.owner_id:
        try:
            contacts.check_owner(session, actor, new["owner_id"], "edit")
        except InvalidInput as refusal:
            raise InvalidInput({"fields.owner_id": refusal.details["owner_id"]}) from refusal


def _check_company(session: DbSession, actor: Actor, keep: Company, new: dict[str, Any]) -> None:
    if new["owner_id"] != keep.owner_id:
        try:
            companies.check_owner(session, actor, new["owner_id"], "edit")
        except InvalidInput as refusal:
            raise InvalidInput({"fields.owner_id": refusal.details["owner_id"]}) from refusal


def _label(kind: MergeKind, record_: Any) -> str:
    return str(record_.full_name if kind.entity == "contact" else record_.name)


def _snapshot(kind: MergeKind, record_: Any) -> dict[str, Any]:
    """Every value of the record, as the audit log keeps it."""
    return {
        column.key: json_value(getattr(record_, column.key))
        for column in kind.model.__table__.columns
    }


def _merge(
    session: DbSession,
    actor: Actor,
    kind: MergeKind,
    keep: Any,
    other: Any,
    choices: Mapping[str, Any],
) -> Any:
    _check_pair(kind, keep, other)
    _lock_pair(session, kind, keep, other)
    _check_rights(kind, actor, keep, other)
    new = _resolve(kind, keep, other, choices)
    if kind.entity == "contact":
        _check_contact(session, actor, keep, new)
    else:
        _check_company(session, actor, keep, new)
    tags = normalize_tags([*keep.tags, *other.tags])
    custom = {
        name.removeprefix(CUSTOM_PREFIX): value
        for name, value in new.items()
        if name.startswith(CUSTOM_PREFIX) and value is not None
    }
    gone = _snapshot(kind, other)
    other_id, other_label = other.id, _label(kind, other)

    moved = _move_relations(session, kind, other.id, keep.id)
    session.delete(other)
    session.flush()  # the other row is gone before the kept one may take its values

    changes: dict[str, list[Any]] = {}
    for name in kind.fields:
        if json_value(getattr(keep, name)) != json_value(new[name]):
            changes[name] = [json_value(getattr(keep, name)), json_value(new[name])]
            setattr(keep, name, new[name])
    if tags != list(keep.tags):
        changes["tags"] = [list(keep.tags), tags]
        keep.tags = tags
    if custom != (keep.custom_fields or {}):
        changes["custom_fields"] = [json_value(keep.custom_fields or {}), json_value(custom)]
        keep.custom_fields = custom
    keep.updated_at = utcnow()  # it changed even when only relations came over
    if kind.counted is not None:
        limits.release(session, kind.counted)
    # The activities that came over may hold a later call, meeting or email.
    refresh_last_contacted(
        session,
        contact_ids=[keep.id] if kind.entity == "contact" else [],
        company_ids=[keep.id] if kind.entity == "company" else [],
    )

    merged = {"id": other_id, "name": other_label}
    record(
        session,
        actor_id=actor.user_id,
        action="merged",
        entity=kind.entity,
        entity_id=keep.id,
        changes={**changes, "merged": [gone, None], "moved": [None, moved]},
    )
    record(
        session,
        actor_id=actor.user_id,
        action="merged_into",
        entity=kind.entity,
        entity_id=other_id,
        changes={"merged_into": [None, keep.id], "record": [gone, None]},
    )
    record_event(
        session,
        kind="merged",
        entity=kind.entity,
        entity_id=keep.id,
        actor_id=actor.user_id,
        contact_id=keep.id if kind.entity == "contact" else None,
        company_id=keep.id if kind.entity == "company" else None,
        data={"merged": merged, "moved": moved, "changes": changes},
    )
    session.commit()
    return keep


def merge_contacts(
    session: DbSession, actor: Actor, keep: Contact, other: Contact, choices: Mapping[str, Any]
) -> Contact:
    """Merge ``other`` into ``keep`` (see the module's description) and commit.

    ``choices`` maps a field (or ``custom_fields.<key>``) to ``"keep"`` or ``"other"``
    (``"both"`` for notes written on both). The actor must be allowed to edit both and
    to delete ``other`` (the caller answers 404/403 before; this re-checks on the locked
    rows). Raises :class:`InvalidInput` (nothing changed) or :class:`MergeConflict`.
    """
    merged: Contact = _merge(session, actor, CONTACT_MERGE, keep, other, choices)
    return merged


def merge_companies(
    session: DbSession, actor: Actor, keep: Company, other: Company, choices: Mapping[str, Any]
) -> Company:
    """Merge company ``other`` into ``keep``: as :func:`merge_contacts`, and the other
    company's contacts become the kept company's."""
    merged: Company = _merge(session, actor, COMPANY_MERGE, keep, other, choices)
    return merged
