"""Bulk edits of contacts, companies and deals: assign an owner, add or remove a tag,
delete. The only writers of records changed in bulk.

A selection is explicit ids (checked rows) or "everything matching" a filter or a
saved segment. Whatever the selection, each record is checked against the actor's
scope for the action ("edit", or "delete"), exactly as its own page would: records the
actor may see but not change are counted as ``not_allowed`` and left alone, and records
out of their view scope are not even counted.

The work is set-based and chunked: per chunk of :data:`CHUNK` records (walked in id
order, so changes made on the way never shift the walk), one locking read of what the
audit needs, one UPDATE (or DELETE), and one multi-row INSERT each for the audit
entries and the timeline events. An edit of at most :data:`SYNC_LIMIT` records runs in
the request, in one transaction; a larger one is stored as a :class:`BulkEdit`, run by
a Celery worker (``lists.run_bulk_edit``) one committed chunk at a time, and its
progress is polled by the page (or the API client) that started it. Everything a
person can get wrong (the owner, the tag, the filter) is refused before anything
changes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Select,
    Text,
    any_,
    column,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.access.policy import Actor, actor_for, apply_record_scope
from app.audit.models import AuditEntry
from app.audit.services import record
from app.companies import services as company_services
from app.contacts import services as contact_services
from app.database import DbSession, utcnow
from app.deals import services as deal_services
from app.errors import InvalidInput
from app.identity.services import active_membership
from app.input_rules import MAX_BIGINT
from app.lists.filters import ENTITIES, RESOURCES, FilterSpec, filtered_query
from app.lists.models import BULK_ACTIONS, LIST_ENTITIES, BulkEdit
from app.lists.services import clean_filters, get_visible_segment
from app.tags import MAX_TAGS, normalize_tags, tag_key
from app.timeline.models import TimelineEvent
from billing import limits
from tenants.context import require_tenant

log = logging.getLogger(__name__)

# Records per chunk: one round of read, write and audit.
CHUNK = 1000
# Larger selections run in a worker.
SYNC_LIMIT = 10_000
# Explicit ids per request (checked rows of a page; "all matching" has no cap).
MAX_IDS = SYNC_LIMIT
# The scope an action needs on each record.
ACTION_RIGHT = {"assign_owner": "edit", "add_tag": "edit", "remove_tag": "edit", "delete": "delete"}
OWNER_CHECKS = {
    "contact": contact_services.check_owner,
    "company": company_services.check_owner,
    "deal": deal_services.check_owner,
}


@dataclass(frozen=True, slots=True)
class Selection:
    """What a bulk edit applies to: explicit ids, or everything matching filters
    (copied from a segment when one was named)."""

    ids: tuple[int, ...] | None = None
    filters: FilterSpec | None = None
    segment_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        if self.ids is not None:
            return {"ids": list(self.ids)}
        return {"filters": dict(self.filters or {}), "segment_id": self.segment_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Selection:
        if "ids" in data:
            return cls(ids=tuple(int(i) for i in data["ids"]))
        return cls(filters=dict(data.get("filters") or {}), segment_id=data.get("segment_id"))


# --- checking a request --------------------------------------------------------------


def read_selection(
    session: DbSession, actor: Actor, entity: str, data: dict[str, Any]
) -> Selection:
    """The selection a request names: exactly one of ``ids`` (a list of record ids),
    ``filter`` (filter object, as segments store them) or ``segment_id`` (a segment
    the actor may see). Refusals name the key."""
    given = [key for key in ("ids", "filter", "segment_id") if data.get(key) is not None]
    if len(given) != 1:
        raise InvalidInput({"ids": ["Give exactly one of ids, filter or segment_id."]})
    if "ids" in given:
        ids = data["ids"]
        if not isinstance(ids, list) or not ids:
            raise InvalidInput({"ids": ["Give a list of record ids."]})
        if len(ids) > MAX_IDS:
            raise InvalidInput({"ids": [f"At most {MAX_IDS} ids; select all matching instead."]})
        if any(type(i) is not int or not 1 <= i <= MAX_BIGINT for i in ids):
            raise InvalidInput({"ids": ["Every id must be a positive integer."]})
        return Selection(ids=tuple(sorted(set(ids))))
    if "filter" in given:
        try:
            filters = clean_filters(session, entity, data["filter"])
        except InvalidInput as refusal:
            raise InvalidInput(
                {
                    key.replace("filters", "filter", 1): messages
                    for key, messages in refusal.details.items()
                },
                refusal.message,
            ) from refusal
        return Selection(filters=filters)
    segment_id = data["segment_id"]
    segment = get_visible_segment(session, actor, segment_id) if type(segment_id) is int else None
    if segment is None or segment.entity != entity:
        raise InvalidInput({"segment_id": ["No such segment."]})
    return Selection(filters=dict(segment.filters), segment_id=segment.id)


def read_params(
    session: DbSession, actor: Actor, entity: str, action: str, data: dict[str, Any]
) -> dict[str, Any]:
    """The action's parameters, checked the way a single record's edit checks them:
    ``owner_id`` for assign_owner (an active member the actor may assign; null
    unassigns where the actor may), ``tag`` for add_tag and remove_tag."""
    if action not in BULK_ACTIONS:
        raise InvalidInput({"action": [f"Choose one of: {', '.join(BULK_ACTIONS)}."]})
    if action == "assign_owner":
        if "owner_id" not in data:
            raise InvalidInput({"owner_id": ["Choose the new owner."]})
        owner_id = data["owner_id"]
        OWNER_CHECKS[entity](session, actor, owner_id, "edit")
        return {"owner_id": owner_id}
    if action in ("add_tag", "remove_tag"):
        raw = data.get("tag")
        if not isinstance(raw, str) or "," in raw:
            raise InvalidInput({"tag": ["Give one tag."]})
        tags = normalize_tags([raw], "tag")
        if not tags:
            raise InvalidInput({"tag": ["Give one tag."]})
        return {"tag": tags[0]}
    return {}


# --- selecting -----------------------------------------------------------------------


def _among(model: Any, ids: Sequence[int]) -> Any:
    """SQL condition: the record's id is one of ``ids`` (one array parameter, however
    many ids: a chunk's statement stays small and is parsed once)."""
    return model.id == any_(literal(list(ids), ARRAY(BigInteger)))


def _selected(session: DbSession, actor: Actor, entity: str, selection: Selection) -> Select[Any]:
    """The selected records ``actor`` may view (ids and/or filters), unordered."""
    model = ENTITIES[entity]
    if selection.ids is not None:
        stmt = apply_record_scope(select(model), actor, RESOURCES[entity], "view", model.owner_id)
        return stmt.where(_among(model, selection.ids))
    return filtered_query(session, actor, entity, selection.filters or {})


def count_selected(session: DbSession, actor: Actor, entity: str, selection: Selection) -> int:
    """How many records the selection holds for ``actor`` (what a confirmation states)."""
    model = ENTITIES[entity]
    stmt = _selected(session, actor, entity, selection).with_only_columns(func.count(model.id))
    return int(session.scalar(stmt) or 0)


def _chunks(
    session: DbSession, actor: Actor, entity: str, selection: Selection, after: int
) -> Iterator[list[int]]:
    """Ids of the selected records in id order, :data:`CHUNK` at a time, after ``after``."""
    model = ENTITIES[entity]
    base = _selected(session, actor, entity, selection).with_only_columns(model.id)
    while True:
        ids = list(session.scalars(base.where(model.id > after).order_by(model.id).limit(CHUNK)))
        if not ids:
            return
        yield ids
        after = ids[-1]


# --- doing one chunk -----------------------------------------------------------------


@dataclass(slots=True)
class ChunkResult:
    changed: int = 0
    unchanged: int = 0
    not_allowed: int = 0


def _lock(session: DbSession, actor: Actor, entity: str, action: str, ids: list[int]) -> list[Any]:
    """The chunk's records the actor may ``action``, locked, with what the audit needs."""
    model = ENTITIES[entity]
    wanted = [model.id, model.owner_id, model.tags]
    if entity == "contact":
        wanted += [model.first_name, model.last_name, model.email]
    elif entity == "company":
        wanted.append(model.name)
    else:
        wanted += [model.title, model.contact_id, model.company_id]
    stmt = select(*wanted).where(_among(model, ids)).order_by(model.id).with_for_update()
    stmt = apply_record_scope(stmt, actor, RESOURCES[entity], ACTION_RIGHT[action], model.owner_id)
    return list(session.execute(stmt))


def _label(entity: str, row: Any) -> str:
    if entity == "contact":
        return f"{row.first_name} {row.last_name}".strip() or (row.email or "")
    return str(row.name if entity == "company" else row.title)


def _links(entity: str, row: Any) -> dict[str, Any]:
    """The histories an event about ``row`` belongs to (as the record services do)."""
    if entity == "contact":
        return {"contact_id": row.id}
    if entity == "company":
        return {"company_id": row.id}
    return {"deal_id": row.id, "contact_id": row.contact_id, "company_id": row.company_id}


def _insert_rows(session: DbSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts of the same columns) in one statement: the values travel
    as one JSON document read by ``jsonb_to_recordset``, not as a statement per row."""
    if not rows:
        return
    names = list(rows[0])
    table = model.__table__
    values = (
        func.jsonb_to_recordset(literal(rows, JSONB))
        .table_valued(*(column(name, _RECORD_TYPES.get(name, BigInteger)) for name in names))
        .render_derived(name="new_rows", with_types=True)
    )
    session.execute(insert(table).from_select(names, select(*(values.c[name] for name in names))))


# Column types of the audit and timeline rows as jsonb_to_recordset reads them.
_RECORD_TYPES: dict[str, Any] = {
    "action": Text,
    "entity": Text,
    "kind": Text,
    "changes": JSONB,
    "data": JSONB,
}


def _write_log(
    session: DbSession,
    actor: Actor,
    entity: str,
    action: str,
    rows: list[Any],
    changes: list[dict[str, Any]],
    events: Sequence[dict[str, Any] | None],
) -> None:
    """One audit entry per record and its timeline events, one INSERT each."""
    _insert_rows(
        session,
        AuditEntry,
        [
            {
                "actor_id": actor.user_id,
                "action": action,
                "entity": entity,
                "entity_id": row.id,
                "changes": change,
            }
            for row, change in zip(rows, changes, strict=True)
        ],
    )
    _insert_rows(session, TimelineEvent, [event for event in events if event is not None])


def _event(kind: str, entity: str, actor: Actor, row: Any, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "entity": entity,
        "entity_id": row.id,
        "actor_id": actor.user_id,
        "deal_id": None,
        "contact_id": None,
        "company_id": None,
        "activity_id": None,
        **_links(entity, row),
        "data": data,
    }


def _assign_owner(
    session: DbSession, actor: Actor, entity: str, rows: list[Any], owner_id: int | None
) -> int:
    model = ENTITIES[entity]
    moving = [row for row in rows if row.owner_id != owner_id]
    if not moving:
        return 0
    session.execute(
        update(model)
        .where(_among(model, [row.id for row in moving]))
        .values(owner_id=owner_id, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    changes = [{"owner_id": [row.owner_id, owner_id]} for row in moving]
    events = [
        _event("updated", entity, actor, row, {"changes": change})
        for row, change in zip(moving, changes, strict=True)
    ]
    _write_log(session, actor, entity, "updated", moving, changes, events)
    return len(moving)


def _retag(
    session: DbSession, actor: Actor, entity: str, rows: list[Any], tag: str, adding: bool
) -> int:
    """Add or remove ``tag`` by the one tag rule (app.tags): an existing spelling in
    another case counts as the tag, and a record never passes :data:`MAX_TAGS`."""
    model = ENTITIES[entity]
    key = tag_key(tag)
    new_tags: dict[int, list[str]] = {}
    for row in rows:
        current = list(row.tags or [])
        has = any(tag_key(t) == key for t in current)
        if adding and not has and len(current) < MAX_TAGS:
            new_tags[row.id] = [*current, tag]
        elif not adding and has:
            new_tags[row.id] = [t for t in current if tag_key(t) != key]
    if not new_tags:
        return 0
    if adding:
        # Each new list is the old one plus the tag: one constant expression.
        tags: Any = func.array_append(model.tags, literal(tag, model.tags.type.item_type))
        stmt = update(model).where(_among(model, list(new_tags)))
    else:
        # Each new list is the old one less some spellings: they travel as one JSON
        # document, so that what is stored is exactly what the audit says.
        document = [{"id": record_id, "tags": kept} for record_id, kept in new_tags.items()]
        values = (
            func.jsonb_to_recordset(literal(document, JSONB))
            .table_valued(column("id", BigInteger), column("tags", JSONB))
            .render_derived(name="new_tags", with_types=True)
        )
        elements = (
            func.jsonb_array_elements_text(values.c.tags)
            .table_valued("value", with_ordinality="position")
            .render_derived()
        )
        tags = func.array(select(elements.c.value).order_by(elements.c.position).scalar_subquery())
        stmt = update(model).where(model.id == values.c.id)
    session.execute(
        stmt.values(tags=tags, updated_at=func.now()).execution_options(synchronize_session=False)
    )
    changed = [row for row in rows if row.id in new_tags]
    changes = [{"tags": [list(row.tags or []), new_tags[row.id]]} for row in changed]
    events = [
        _event("updated", entity, actor, row, {"changes": change})
        for row, change in zip(changed, changes, strict=True)
    ]
    _write_log(session, actor, entity, "updated", changed, changes, events)
    return len(changed)


def _delete(session: DbSession, actor: Actor, entity: str, rows: list[Any]) -> int:
    model = ENTITIES[entity]
    name_field = "title" if entity == "deal" else "name"
    changes = [{name_field: [_label(entity, row), None]} for row in rows]
    # A deleted record's own history goes with it; a deal's contact and company keep a
    # line about it (as delete_deal does).
    events: list[dict[str, Any] | None] = [
        {
            **_event("deleted", entity, actor, row, {"title": row.title}),
            "deal_id": None,
        }
        if entity == "deal" and (row.contact_id or row.company_id)
        else None
        for row in rows
    ]
    _write_log(session, actor, entity, "deleted", rows, changes, events)
    session.execute(
        delete(model)
        .where(_among(model, [row.id for row in rows]))
        .execution_options(synchronize_session=False)
    )
    if entity == "contact":
        limits.release(session, "contacts", len(rows))
    return len(rows)


def _apply(session: DbSession, actor: Actor, job: BulkEdit, ids: list[int]) -> ChunkResult:
    """One chunk of ``job`` in the caller's transaction."""
    rows = _lock(session, actor, job.entity, job.action, ids)
    result = ChunkResult(not_allowed=len(ids) - len(rows))
    if rows:
        if job.action == "assign_owner":
            changed = _assign_owner(session, actor, job.entity, rows, job.params.get("owner_id"))
        elif job.action in ("add_tag", "remove_tag"):
            changed = _retag(
                session, actor, job.entity, rows, job.params["tag"], job.action == "add_tag"
            )
        else:
            changed = _delete(session, actor, job.entity, rows)
        result.changed = changed
        result.unchanged = len(rows) - changed
    return result


def _run(session: DbSession, actor: Actor, job: BulkEdit, *, commit_each: bool) -> None:
    """Walk the selection from ``job.last_id`` on, chunk by chunk, counting."""
    selection = Selection.from_json(job.selection)
    for ids in _chunks(session, actor, job.entity, selection, job.last_id):
        result = _apply(session, actor, job, ids)
        job.processed += len(ids)
        job.changed += result.changed
        job.unchanged += result.unchanged
        job.not_allowed += result.not_allowed
        job.last_id = ids[-1]
        if commit_each:
            session.commit()
    job.status = "done"
    job.finished_at = utcnow()
    record(
        session,
        actor_id=actor.user_id,
        action="bulk_edit",
        entity=job.entity,
        entity_id=None,
        changes={
            "bulk_edit_id": job.id,
            "action": job.action,
            **job.params,
            "changed": job.changed,
            "unchanged": job.unchanged,
            "not_allowed": job.not_allowed,
        },
    )
    session.commit()


# --- starting and running ------------------------------------------------------------


def start_bulk_edit(
    session: DbSession, actor: Actor, entity: str, data: dict[str, Any]
) -> BulkEdit:
    """Check a bulk edit request (``action``, the action's parameters and the
    selection, see :func:`read_selection`) and run it: in this transaction when it
    selects at most :data:`SYNC_LIMIT` records (the returned edit is ``done``), else
    queued for a worker (``queued``). Nothing changes when anything is refused."""
    if entity not in LIST_ENTITIES:
        raise ValueError(f"unknown list entity {entity!r}")
    action = data.get("action")
    params = read_params(session, actor, entity, action if isinstance(action, str) else "", data)
    selection = read_selection(session, actor, entity, data)
    total = count_selected(session, actor, entity, selection)
    job = BulkEdit(
        entity=entity,
        action=action,
        params=params,
        selection=selection.as_json(),
        total=total,
        status="running" if total <= SYNC_LIMIT else "queued",
        created_by_id=actor.user_id,
    )
    session.add(job)
    session.flush()
    if total <= SYNC_LIMIT:
        _run(session, actor, job, commit_each=False)
        return job
    session.commit()
    _dispatch(session, job)
    return job


def _dispatch(session: DbSession, job: BulkEdit) -> None:
    """Queue a stored edit for a worker; a broker that can not take it fails the edit
    (saying so) rather than leaving it queued forever."""
    from app.lists.tasks import run_bulk_edit_task

    try:
        run_bulk_edit_task.delay(job.id)
    except Exception:
        log.exception("could not queue bulk edit %s", job.id)
        session.rollback()
        job.status = "failed"
        job.error = "The edit could not be queued; try again."
        job.finished_at = utcnow()
        session.commit()


def run_bulk_edit(session: DbSession, job_id: int) -> None:
    """Run (or go on with) a queued edit of the bound workspace, committing chunk by
    chunk. The member is re-read: one who left (or whose role changed) since gets
    their current rights, or the edit fails."""
    job = session.get(BulkEdit, job_id, with_for_update={"skip_locked": True})
    if job is None or job.status in ("done", "failed"):
        return
    membership = active_membership(session, job.created_by_id, require_tenant().id)
    if membership is None:
        job.status = "failed"
        job.error = "The member who started this edit has left the workspace."
        job.finished_at = utcnow()
        session.commit()
        return
    actor = actor_for(membership.user_id, membership.role)
    job.status = "running"
    session.commit()
    try:
        _run(session, actor, job, commit_each=True)
    except Exception:
        session.rollback()
        log.exception("bulk edit %s failed", job_id)
        failed = session.get(BulkEdit, job_id)
        if failed is not None:
            failed.status = "failed"
            failed.error = "The edit stopped; the records changed so far keep their changes."
            failed.finished_at = utcnow()
            session.commit()
        raise


def in_background(job: BulkEdit) -> bool:
    """Whether ``job`` was handed to a worker (its page polls) rather than done in the
    request that started it."""
    return job.total > SYNC_LIMIT


def get_own_bulk_edit(session: DbSession, actor: Actor, job_id: int) -> BulkEdit | None:
    """A bulk edit the actor started (others' are "not found")."""
    if type(job_id) is not int or not 1 <= job_id <= MAX_BIGINT:
        return None
    job = session.get(BulkEdit, job_id)
    if job is None or job.created_by_id != actor.user_id:
        return None
    return job


def progress(job: BulkEdit) -> dict[str, Any]:
    """The edit's state as the API and the progress page show it."""
    percent = (
        100 if job.status == "done" else (int(job.processed * 100 / job.total) if job.total else 0)
    )
    return {
        "id": job.id,
        "entity": job.entity,
        "action": job.action,
        "status": job.status,
        "total": job.total,
        "processed": job.processed,
        "changed": job.changed,
        "unchanged": job.unchanged,
        "not_allowed": job.not_allowed,
        "percent": min(percent, 100),
        "error": job.error,
    }
