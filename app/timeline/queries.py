"""Reading the client timeline for a card or the API.

A card's history is one index range scan: ``(contact_id | company_id | deal_id,
occurred_at, id)`` newest first, continued from an opaque cursor holding the last
``(occurred_at, id)`` shown. Actor names come from ``public.users`` in one query per
page.

Visibility: whoever may see a card sees its whole history, including events about an
activity that is also linked to a record they may not see (a call with a contact of a
company they can not open still shows on the contact's card). The card grants it; the
event only names what the card already is about, plus the activity's own words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import has_request_context, request, url_for
from flask_babel import format_datetime, format_timedelta
from flask_babel import gettext as _
from sqlalchemy import select, tuple_

from app.access.policy import Actor, may
from app.database import DbSession
from app.duplicates.history import merged_lines
from app.errors import validation_error
from app.identity.models import User
from app.time_cursor import BadCursor, decode_time_cursor, encode_time_cursor
from app.timeline.models import TimelineEvent

PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
CARD_ENTITIES = ("contact", "company", "deal")
_CARD_COLUMNS = {
    "contact": TimelineEvent.contact_id,
    "company": TimelineEvent.company_id,
    "deal": TimelineEvent.deal_id,
}


@dataclass(slots=True)
class TimelinePage:
    """One page of a card's history, newest first."""

    events: list[TimelineEvent]
    actor_names: dict[int, str]
    next_cursor: str | None


@dataclass(slots=True)
class EventView:
    """What the panel shows for one event: who, what (lines in people's words), when."""

    id: int
    kind: str
    actor_name: str | None
    lines: list[str]
    occurred_at: dt.datetime
    iso: str
    absolute: str
    relative: str
    detail: str | None = None
    # The actor, when the sentence itself does not name them.
    byline: str | None = None
    activity_id: int | None = None
    icon: str = "event"
    extra: dict[str, Any] = field(default_factory=dict)


def encode_cursor(occurred_at: dt.datetime, event_id: int) -> str:
    """Opaque cursor for the event after which the next page starts."""
    return encode_time_cursor("tl", occurred_at, event_id)


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """The ``(occurred_at, id)`` a cursor holds; :class:`BadCursor` for anything else."""
    return decode_time_cursor("tl", cursor)


def timeline_page(
    session: DbSession,
    *,
    entity: str,
    entity_id: int,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> TimelinePage:
    """One page of the history of card ``entity`` ``entity_id`` (the caller has checked
    that the actor may see the card). Raises :class:`BadCursor` for a foreign cursor."""
    column = _CARD_COLUMNS[entity]
    stmt = select(TimelineEvent).where(column == entity_id)
    if cursor:
        occurred_at, event_id = decode_cursor(cursor)
        # A row comparison keeps this one range scan of the (card, occurred_at, id) index.
        stmt = stmt.where(
            tuple_(TimelineEvent.occurred_at, TimelineEvent.id) < tuple_(occurred_at, event_id)
        )
    stmt = stmt.order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc())
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].occurred_at, rows[-1].id)
    return TimelinePage(
        events=rows,
        actor_names=actor_names(session, {e.actor_id for e in rows if e.actor_id}),
        next_cursor=next_cursor,
    )


def actor_names(session: DbSession, user_ids: set[int]) -> dict[int, str]:
    """Display names (name, else email) of platform users, in one query."""
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(user_ids)))
    return {row.id: (row.name or row.email) for row in rows}


def card_timeline(
    session: DbSession, actor: Actor, *, entity: str, entity_id: int, cursor: str | None = None
) -> dict[str, Any]:
    """The template context of ``timeline/_panel.html`` for the card of ``entity``
    (``"contact"``, ``"company"`` or ``"deal"``) ``entity_id``: its newest events first,
    one page, and the cursor of the next.

    The caller has already shown the card (so the actor may see it). A cursor that is not
    ours shows the first page rather than an error: it only ever comes from a hand-edited
    ``?timeline_cursor=``.
    """
    if entity not in CARD_ENTITIES:
        raise ValueError(f"no timeline for {entity!r}")
    try:
        found = timeline_page(session, entity=entity, entity_id=entity_id, cursor=cursor)
    except BadCursor:
        cursor = None
        found = timeline_page(session, entity=entity, entity_id=entity_id)
    now = dt.datetime.now(dt.UTC)
    events = [describe(e, found.actor_names, now, actor.user_id) for e in found.events]
    return {
        "timeline": {
            "entity": entity,
            "entity_id": entity_id,
            "events": events,
            "next": found.next_cursor,
            "is_first_page": not cursor,
            "log_form": _log_form(session, actor, entity, entity_id),
        }
    }


def _log_form(
    session: DbSession, actor: Actor, entity: str, entity_id: int
) -> dict[str, Any] | None:
    """What the card's "log an activity" form needs (None when the actor may not)."""
    if not may(actor, "activities", "create") or not has_request_context():
        return None
    from app.activities.services import ACTIVITY_TYPE_LABELS, user_zone_name

    link: dict[str, Any] = {f"{entity}_id": entity_id}
    return {
        "action": url_for("activities.activity_new", **link),
        "full_form": url_for("activities.activity_new", **link, next=request.path),
        "next": request.path,
        "types": [(key, str(label)) for key, label in ACTIVITY_TYPE_LABELS.items()],
        "zone": user_zone_name(session, actor.user_id),
        "open": False,
    }


# --- People's words ---------------------------------------------------------------

_FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "title": "Title",
    "company_name": "Company",
    "company_id": "Company",
    "contact_id": "Contact",
    "deal_id": "Deal",
    "notes": "Notes",
    "owner_id": "Owner",
    "name": "Name",
    "domain": "Domain",
    "industry": "Industry",
    "size": "Size",
    "address": "Address",
    "amount_minor": "Amount",
    "currency": "Currency",
    "probability": "Probability",
    "expected_close_date": "Expected close date",
    "status": "Status",
    "source": "Source",
    "tags": "Tags",
    "subject": "Subject",
    "due_at": "Due",
    "assignee_id": "Assignee",
}
_ENTITY_LABELS = {"contact": "contact", "company": "company", "deal": "deal"}
# Text values longer than this are cut in the panel (the record itself has them whole).
_MAX_VALUE = 120


def _field_label(name: str) -> str:
    label = _FIELD_LABELS.get(name)
    if label:
        return _(label)
    # A custom field's change is named custom_fields.<key>: its key reads well enough
    # (the label may have changed since, or the field be gone).
    return name.removeprefix("custom_fields.").replace("_", " ").capitalize()


def _value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return _("(empty)")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict) and "amount" in value:  # a custom money field
        text = f"{value.get('amount')} {value.get('currency') or ''}".strip()
    elif isinstance(value, dict):
        text = str(value.get("name") or value.get("title") or value.get("id") or "")
    else:
        text = str(value)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _minutes(seconds: Any) -> str | None:
    if type(seconds) is not int or seconds < 0:
        return None
    if seconds < 60:
        return _("%(n)s s", n=seconds)
    return _("%(n)s min", n=round(seconds / 60))


def _stage_name(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or value.get("id") or "?")
    return str(value) if value not in (None, "") else "?"


def _days(data: dict[str, Any]) -> int | None:
    for key in ("seconds_in_stage", "time_in_stage_seconds", "duration_seconds"):
        if type(data.get(key)) is int:
            return int(data[key]) // 86400
    if type(data.get("days_in_stage")) is int:
        return int(data["days_in_stage"])
    return None


def _activity_lines(who: str, data: dict[str, Any]) -> tuple[list[str], str]:
    kind = data.get("type")
    action = data.get("action", "created")
    subject = _value(data.get("subject")) if data.get("subject") else ""
    if action == "completed":
        return [_("Task done: %(subject)s", subject=subject or _("(no subject)"))], "done"
    if action == "reopened":
        return [_("%(who)s reopened the task %(subject)s", who=who, subject=subject)], "task"
    if action == "deleted":
        return [
            _(
                "%(who)s deleted a %(type)s: %(subject)s",
                who=who,
                type=_type_word(kind),
                subject=subject,
            )
        ], "deleted"
    if action == "updated":
        return [
            _(
                "%(who)s edited a %(type)s: %(subject)s",
                who=who,
                type=_type_word(kind),
                subject=subject,
            )
        ], str(kind)
    details = []
    if data.get("direction") == "inbound":
        details.append(_("inbound"))
    elif data.get("direction") == "outbound":
        details.append(_("outbound"))
    minutes = _minutes(data.get("duration_seconds"))
    if minutes:
        details.append(minutes)
    if data.get("outcome"):
        details.append(_value(data["outcome"]))
    tail = (" — " + ", ".join(details)) if details else ""
    if kind == "call":
        line = _("%(who)s called", who=who) + tail
    elif kind == "meeting":
        line = _("%(who)s had a meeting", who=who) + tail
    elif kind == "email":
        line = _("%(who)s logged an email", who=who) + tail
    elif kind == "task":
        line = _("%(who)s added a task", who=who)
    else:
        line = _("%(who)s added a note", who=who)
    lines = [line]
    if subject:
        lines.append(subject)
    return lines, str(kind or "note")


def _type_word(kind: Any) -> str:
    return {
        "call": _("call"),
        "meeting": _("meeting"),
        "email": _("email"),
        "task": _("task"),
        "note": _("note"),
    }.get(str(kind), _("activity"))


def describe(
    event: TimelineEvent, names: dict[int, str], now: dt.datetime, viewer_id: int | None = None
) -> EventView:
    """One event as the panel shows it: sentences, times, and an optional detail text."""
    name = names.get(event.actor_id) if event.actor_id else None
    who = name or (_("Someone") if event.actor_id else _("The system"))
    data = event.data if isinstance(event.data, dict) else {}
    entity_word = _ENTITY_LABELS.get(event.entity, event.entity)
    detail: str | None = None
    byline: str | None = None
    icon = event.kind
    if event.kind == "activity":
        lines, icon = _activity_lines(who, data)
        if data.get("action") == "completed":
            byline = name
        detail = data.get("result_note") or data.get("body") or None
    elif event.kind == "stage_changed":
        days = _days(data)
        source, target = _stage_name(data.get("from_stage")), _stage_name(data.get("to_stage"))
        if days is None:
            lines = [_("Stage moved from %(a)s to %(b)s", a=source, b=target)]
        else:
            lines = [
                _(
                    "Stage moved from %(a)s to %(b)s after %(n)s days",
                    a=source,
                    b=target,
                    n=days,
                )
            ]
        byline = name
    elif event.kind == "updated":
        raw_changes = data.get("changes")
        changed: dict[str, Any] = raw_changes if isinstance(raw_changes, dict) else {}
        lines = []
        for field_name, pair in changed.items():
            old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
            lines.append(
                _(
                    "%(field)s changed from %(old)s to %(new)s",
                    field=_field_label(str(field_name)),
                    old=_value(old),
                    new=_value(new),
                )
            )
        lines.insert(0, _("%(who)s edited the %(entity)s", who=who, entity=entity_word))
    elif event.kind == "created":
        label = data.get("name") or data.get("title")
        lines = [_("%(who)s added the %(entity)s", who=who, entity=entity_word)]
        if label:
            lines.append(_value(label))
    elif event.kind == "deleted":
        lines = [_("%(who)s deleted the %(entity)s", who=who, entity=entity_word)]
        if data.get("name") or data.get("title"):
            lines.append(_value(data.get("name") or data.get("title")))
    elif event.kind == "comment":
        lines = [_("%(who)s commented", who=who)]
        detail = str(data.get("body") or "") or None
    elif event.kind == "merged":
        lines = merged_lines(who, entity_word, data, _field_label)
    else:
        lines = [event.kind]
    stamp = event.occurred_at
    return EventView(
        id=event.id,
        kind=event.kind,
        actor_name=name,
        lines=lines,
        occurred_at=stamp,
        iso=stamp.isoformat(),
        absolute=format_datetime(stamp, "medium"),
        relative=format_timedelta(stamp - now, add_direction=True),
        detail=detail,
        byline=byline,
        activity_id=event.activity_id,
        icon=icon,
    )


def timeline_cursor_arg(raw: str | None) -> str | None:
    """``?cursor=`` of a timeline API call (400 for one that is not ours)."""
    if not raw:
        return None
    try:
        decode_cursor(raw)
    except BadCursor as exc:
        raise validation_error({"cursor": ["Invalid cursor; start again without it."]}) from exc
    return raw
