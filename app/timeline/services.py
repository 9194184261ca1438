"""Writing the client timeline. Services call :func:`record_event` inside their own
transaction, once per change, naming every client record the change concerns."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

from app.database import DbSession
from app.timeline.models import EVENT_KINDS, TimelineEvent


def json_value(value: Any) -> Any:
    """``value`` as JSON can hold it (dates as ISO text, decimals as strings)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


def snapshot(record: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The JSON-safe values of ``fields`` of ``record`` (taken before a change)."""
    return {name: json_value(getattr(record, name)) for name in fields}


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every field whose value differs."""
    return {
        name: [before.get(name), json_value(value)]
        for name, value in after.items()
        if json_value(value) != before.get(name)
    }


def record_event(
    session: DbSession,
    *,
    kind: str,
    entity: str,
    entity_id: int | None,
    actor_id: int | None,
    contact_id: int | None = None,
    company_id: int | None = None,
    deal_id: int | None = None,
    activity_id: int | None = None,
    data: Mapping[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> TimelineEvent:
    """Append one event to the histories of the records it names (caller's
    transaction)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown timeline event kind {kind!r}")
    event = TimelineEvent(
        kind=kind,
        entity=entity,
        entity_id=entity_id,
        actor_id=actor_id,
        contact_id=contact_id,
        company_id=company_id,
        deal_id=deal_id,
        activity_id=activity_id,
        data=json_value(dict(data or {})),
    )
    if occurred_at is not None:
        event.occurred_at = occurred_at
    session.add(event)
    return event
