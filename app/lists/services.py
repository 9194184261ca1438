"""Saved segments: the only writers of segments. Each change is audited.

Who sees what: a private segment only its owner; a shared one every member who may
view that kind of record. Who changes what: the owner, and for a shared segment also a
workspace admin (whoever may edit the workspace's settings), so that a team's shared
lists can be tidied when their author is away. A segment applies its filters *and* the
viewer's own record scope: sharing a filter never shares records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from app.access.policy import Actor, may
from app.api.pagination import parse_sort
from app.audit.services import record
from app.database import DbSession
from app.errors import ApiError, InvalidInput
from app.input_rules import CONTROL_ANY, MAX_BIGINT, UNSTORABLE
from app.lists.filters import (
    CONTROL_PARAMS,
    RESOURCES,
    FilterSpec,
    filtered_query,
    parse_filters,
    sort_options,
)
from app.lists.models import LIST_ENTITIES, Segment

MAX_NAME = 100
# A person's own segments per kind of record (menus stay usable).
MAX_SEGMENTS = 200
NAME_TAKEN = "You already have a segment with this name."


def _visible(actor: Actor) -> Any:
    """SQL condition: the segments ``actor`` may see (entity rights checked apart)."""
    return or_(Segment.owner_id == actor.user_id, Segment.shared.is_(True))


def may_view_entity(actor: Actor, entity: str) -> bool:
    """Whether ``actor`` may see any ``entity`` records (and so its segments)."""
    return entity in RESOURCES and may(actor, RESOURCES[entity], "view")


def visible_segments_query(actor: Actor, entity: str | None = None) -> Select[Any]:
    """Segments ``actor`` may see, of one entity or of every entity they may view."""
    entities = [e for e in LIST_ENTITIES if may_view_entity(actor, e)]
    if entity is not None:
        entities = [e for e in entities if e == entity]
    return select(Segment).where(_visible(actor), Segment.entity.in_(entities))


def segments_for(session: DbSession, actor: Actor, entity: str) -> list[Segment]:
    """The segments menu of a list: the actor's own and the shared ones, by name."""
    stmt = visible_segments_query(actor, entity).order_by(func.lower(Segment.name), Segment.id)
    return list(session.scalars(stmt))


def get_visible_segment(session: DbSession, actor: Actor, segment_id: int) -> Segment | None:
    """The segment if ``actor`` may see it; None otherwise (answered as "not found",
    whether it is missing, private to someone else or of records they may not view)."""
    if type(segment_id) is not int or not 1 <= segment_id <= MAX_BIGINT:
        return None
    segment = session.get(Segment, segment_id)
    if segment is None or not may_view_entity(actor, segment.entity):
        return None
    if segment.owner_id != actor.user_id and not segment.shared:
        return None
    return segment


def may_edit_segment(actor: Actor, segment: Segment) -> bool:
    """The owner edits and deletes a segment; a workspace admin a shared one too."""
    return segment.owner_id == actor.user_id or (segment.shared and may(actor, "settings", "edit"))


def segment_query(
    session: DbSession, actor: Actor, segment: Segment, *, action: str = "view"
) -> Select[Any]:
    """The records of ``segment`` that ``actor`` may ``action`` (its filters and the
    actor's own scope), unordered."""
    return filtered_query(session, actor, segment.entity, segment.filters, action=action)


# --- checking input ------------------------------------------------------------------


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput({"name": ["Give the segment a name."]})
    name = " ".join(value.split())
    if UNSTORABLE.search(name) or CONTROL_ANY.search(name):
        raise InvalidInput({"name": ["Contains characters that are not allowed."]})
    if not name:
        raise InvalidInput({"name": ["Give the segment a name."]})
    if len(name) > MAX_NAME:
        raise InvalidInput({"name": [f"At most {MAX_NAME} characters."]})
    return name


def clean_filters(session: DbSession, entity: str, value: Any) -> FilterSpec:
    """A segment's (or a bulk edit's) filter object: the list grammar, as a JSON object
    of parameter -> text; refusals are keyed ``filters.<parameter>``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput({"filters": ["Give the filters as an object."]})
    control = sorted(CONTROL_PARAMS & set(value))
    if control:
        raise InvalidInput({f"filters.{name}": ["Not a filter."] for name in control})
    try:
        return parse_filters(session, entity, value)
    except InvalidInput as refusal:
        raise InvalidInput(
            {f"filters.{name}": messages for name, messages in refusal.details.items()},
            refusal.message,
        ) from refusal


def _sort(session: DbSession, entity: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidInput({"sort": ["Give a sort such as -created_at."]})
    try:
        key = parse_sort(value, sort_options(session, entity, value), value)
    except ApiError as refusal:
        raise InvalidInput({"sort": list(refusal.details.get("sort", []))}) from refusal
    return ("-" if key.descending else "") + key.name


def _shared(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput({"shared": ["Give true or false."]})
    return value


def _check_name_free(
    session: DbSession, owner_id: int, entity: str, name: str, segment_id: int | None
) -> None:
    stmt = select(Segment.id).where(
        Segment.owner_id == owner_id,
        Segment.entity == entity,
        func.lower(Segment.name) == name.lower(),
    )
    if segment_id is not None:
        stmt = stmt.where(Segment.id != segment_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise InvalidInput({"name": [NAME_TAKEN]})


def _flush(session: DbSession) -> None:
    """Flush, turning a lost race for a name into the same refusal as a seen one."""
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if "uq_segments_owner_entity_name" in str(exc.orig):
            raise InvalidInput({"name": [NAME_TAKEN]}) from exc
        raise


def _snapshot(segment: Segment) -> dict[str, Any]:
    return {
        "name": segment.name,
        "filters": dict(segment.filters),
        "sort": segment.sort,
        "shared": segment.shared,
    }


# --- writing -------------------------------------------------------------------------


def create_segment(session: DbSession, actor: Actor, data: dict[str, Any]) -> Segment:
    """Save a named filter of ``data['entity']`` owned by the actor; commits."""
    entity = data.get("entity")
    if entity not in LIST_ENTITIES:
        raise InvalidInput({"entity": [f"Choose one of: {', '.join(LIST_ENTITIES)}."]})
    if not may_view_entity(actor, entity):
        raise InvalidInput({"entity": ["You may not view these records."]})
    name = _name(data.get("name"))
    filters = clean_filters(session, entity, data.get("filters"))
    sort = _sort(session, entity, data.get("sort"))
    shared = _shared(data.get("shared", False))
    _check_name_free(session, actor.user_id, entity, name, None)
    owned = session.scalar(
        select(func.count())
        .select_from(Segment)
        .where(Segment.owner_id == actor.user_id, Segment.entity == entity)
    )
    if (owned or 0) >= MAX_SEGMENTS:
        raise InvalidInput({"name": [f"You have {MAX_SEGMENTS} segments here; delete one first."]})
    segment = Segment(
        entity=entity,
        name=name,
        filters=filters,
        sort=sort,
        shared=shared,
        owner_id=actor.user_id,
    )
    session.add(segment)
    _flush(session)
    record(
        session,
        actor_id=actor.user_id,
        action="created",
        entity="segment",
        entity_id=segment.id,
        changes={k: [None, v] for k, v in {"entity": entity, **_snapshot(segment)}.items()},
    )
    session.commit()
    return segment


def update_segment(
    session: DbSession, actor: Actor, segment: Segment, data: dict[str, Any]
) -> Segment:
    """Rename, re-filter, re-sort or (un)share a segment; only what is given changes.
    The caller checked :func:`may_edit_segment`. Commits."""
    if "entity" in data and data["entity"] != segment.entity:
        raise InvalidInput({"entity": ["A segment's kind of record can not change."]})
    new: dict[str, Any] = {}
    if "name" in data:
        new["name"] = _name(data["name"])
    if "filters" in data:
        new["filters"] = clean_filters(session, segment.entity, data["filters"])
    if "sort" in data:
        new["sort"] = _sort(session, segment.entity, data["sort"])
    if "shared" in data:
        new["shared"] = _shared(data["shared"])
    if "name" in new:
        _check_name_free(session, segment.owner_id, segment.entity, new["name"], segment.id)
    before = _snapshot(segment)
    changed = {k: [before[k], v] for k, v in new.items() if before[k] != v}
    if not changed:
        return segment
    for name, (_old, value) in changed.items():
        setattr(segment, name, value)
    _flush(session)
    record(
        session,
        actor_id=actor.user_id,
        action="updated",
        entity="segment",
        entity_id=segment.id,
        changes=changed,
    )
    session.commit()
    return segment


def delete_segment(session: DbSession, actor: Actor, segment: Segment) -> None:
    """Delete a segment (its records stay, of course). The caller checked
    :func:`may_edit_segment`. Commits."""
    record(
        session,
        actor_id=actor.user_id,
        action="deleted",
        entity="segment",
        entity_id=segment.id,
        changes={"name": [segment.name, None], "entity": [segment.entity, None]},
    )
    session.delete(segment)
    session.commit()
