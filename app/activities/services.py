"""Activity services: the only writers of calls, meetings, emails, tasks and notes.

Every write is one transaction with an audit entry and a timeline event (kind
``activity``) naming every client record the activity concerns, so that the contact,
company and deal cards each show it. Refusals are :class:`app.errors.InvalidInput`
naming the field, whoever called (API, pages).

Scope: resource ``activities``, decided by ``owner_id`` (who logged it). The assignee of
a task may also see it and mark it done or reopen it, even with "own" scope: a task
handed to someone has to reach them. Teams arrive with the access-rights issue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, func, or_, select

from app.access.policy import Actor, owner_condition, record_in_scope, scope_for
from app.activities.models import ACTIVITY_TYPES, PRIORITIES, Activity
from app.audit.services import record
from app.companies.models import Company
from app.contacts.models import Contact
from app.contacts.services import get_visible_contact
from app.database import DbSession
from app.deals.models import Deal
from app.errors import InvalidInput
from app.identity.models import User
from app.identity.services import active_membership
from app.input_rules import MAX_BIGINT, UNSTORABLE
from app.lists.last_contact import CONTACT_TYPES, refresh_last_contacted
from app.timeline.services import json_value, record_event
from tenants.context import require_tenant

# The order the "log an activity" choices appear in.
ACTIVITY_TYPE_LABELS = {
    "call": _l("Call"),
    "meeting": _l("Meeting"),
    "email": _l("Email"),
    "note": _l("Note"),
    "task": _l("Task"),
}
assert tuple(sorted(ACTIVITY_TYPE_LABELS)) == tuple(sorted(ACTIVITY_TYPES))

COMMON_FIELDS = ("subject", "body", "occurred_at", "contact_id", "company_id", "deal_id")
# Fields that only some types have; giving one to another type is refused (a note has no
# direction), so that what is stored always means something.
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "call": ("direction", "duration_seconds", "outcome"),
    "email": ("direction", "outcome"),
    "meeting": ("ends_at", "location", "attendees", "duration_seconds", "outcome"),
    "task": ("due_at", "priority", "done", "remind_at", "assignee_id", "result_note"),
    "note": (),
}
ALL_TYPE_FIELDS = frozenset(f for names in TYPE_FIELDS.values() for f in names)
SUBJECT_REQUIRED = frozenset({"task", "meeting", "call"})
MAX_SUBJECT = 300
MAX_BODY = 20000
MAX_OUTCOME = 100
MAX_LOCATION = 300
MAX_ATTENDEES = 50
MAX_ATTENDEE = 200
MAX_DURATION = 86400
DIRECTIONS = ("inbound", "outbound")
# Text copied into timeline events (the activity keeps the whole text).
EVENT_TEXT = 500
LINK_MESSAGE = "Not found, or not visible to you."


def utcnow() -> dt.datetime:
    """Now, in UTC (one place, so tests and services agree)."""
    return dt.datetime.now(dt.UTC)


# --- Time zones ----------------------------------------------------------------------


def zone_of(name: str | None) -> ZoneInfo:
    """The zone named ``name``, or UTC for none or an unknown name."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def user_zone(session: DbSession, user_id: int) -> ZoneInfo:
    """The member's time zone (``users.timezone``), UTC when unset."""
    return zone_of(session.scalar(select(User.timezone).where(User.id == user_id)))


def user_zone_name(session: DbSession, user_id: int) -> str:
    """The name of :func:`user_zone`, for hints next to time inputs."""
    return user_zone(session, user_id).key


# --- Reading -------------------------------------------------------------------------


def _visible_condition(actor: Actor, action: str) -> ColumnElement[bool]:
    scope = scope_for(actor, "activities", action)
    condition = owner_condition(actor, scope, Activity.owner_id)
    if scope in {"own", "team"}:
        condition = or_(condition, Activity.assignee_id == actor.user_id)
    return condition


def may_touch(actor: Actor, activity: Activity, action: str) -> bool:
    """Whether ``actor`` may ``action`` this loaded activity (owner scope, or its
    assignee for viewing and completing a task)."""
    if record_in_scope(actor, "activities", action, activity.owner_id):
        return True
    return (
        action in {"view", "edit"}
        and activity.assignee_id == actor.user_id
        and scope_for(actor, "activities", action) != "none"
    )


def get_visible_activity(
    session: DbSession, actor: Actor, activity_id: int, action: str = "view"
) -> Activity | None:
    """The activity if it exists and ``actor`` may ``action`` it, else None (the caller
    answers 404 either way)."""
    if type(activity_id) is not int or not 1 <= activity_id <= MAX_BIGINT:
        return None
    found = session.get(Activity, activity_id)
    if found is None or not may_touch(actor, found, action):
        return None
    return found


def visible_activities_query(
    actor: Actor,
    *,
    type: str | None = None,
    contact_id: int | None = None,
    company_id: int | None = None,
    deal_id: int | None = None,
    assignee_id: int | None = None,
    done: bool | None = None,
    due_before: dt.datetime | None = None,
    due_after: dt.datetime | None = None,
) -> Select[Any]:
    """Activities ``actor`` may see, narrowed by the given filters (SQL, not Python)."""
    stmt = select(Activity).where(_visible_condition(actor, "view"))
    for column, value in (
        (Activity.type, type),
        (Activity.contact_id, contact_id),
        (Activity.company_id, company_id),
        (Activity.deal_id, deal_id),
        (Activity.assignee_id, assignee_id),
        (Activity.done, done),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if due_before is not None:
        stmt = stmt.where(Activity.due_at < due_before)
    if due_after is not None:
        stmt = stmt.where(Activity.due_at >= due_after)
    return stmt


# --- Checking input ------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.details: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.details.setdefault(name, []).append(message)

    def raise_any(self) -> None:
        if self.details:
            raise InvalidInput(self.details)


def _check_text(errors: _Errors, name: str, value: Any, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        errors.add(name, "Not a valid string.")
    elif UNSTORABLE.search(value):
        errors.add(name, "Contains characters that are not allowed.")
    elif len(value) > limit:
        errors.add(name, f"Longer than maximum length {limit}.")


def _check_time(errors: _Errors, name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        errors.add(name, "Give a date and time with a time zone.")


def _check_values(values: Mapping[str, Any], errors: _Errors) -> None:
    """Rules about each value on its own (types, lengths, ranges)."""
    _check_text(errors, "subject", values.get("subject"), MAX_SUBJECT)
    _check_text(errors, "body", values.get("body"), MAX_BODY)
    _check_text(errors, "outcome", values.get("outcome"), MAX_OUTCOME)
    _check_text(errors, "location", values.get("location"), MAX_LOCATION)
    _check_text(errors, "result_note", values.get("result_note"), MAX_BODY)
    for name in ("occurred_at", "ends_at", "due_at", "remind_at"):
        _check_time(errors, name, values.get(name))
    direction = values.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        errors.add("direction", "Must be inbound or outbound.")
    duration = values.get("duration_seconds")
    if duration is not None and (type(duration) is not int or not 0 <= duration <= MAX_DURATION):
        errors.add("duration_seconds", f"Must be between 0 and {MAX_DURATION} seconds.")
    priority = values.get("priority")
    if priority is not None and priority not in PRIORITIES:
        errors.add("priority", "Must be low, normal or high.")
    attendees = values.get("attendees")
    if attendees is not None:
        if not isinstance(attendees, list) or len(attendees) > MAX_ATTENDEES:
            errors.add("attendees", f"Give a list of at most {MAX_ATTENDEES} names.")
        elif any(
            not isinstance(a, str) or not a.strip() or len(a) > MAX_ATTENDEE or UNSTORABLE.search(a)
            for a in attendees
        ):
            errors.add(
                "attendees", f"Each attendee is a name of at most {MAX_ATTENDEE} characters."
            )


def _check_shape(
    kind: str, merged: Mapping[str, Any], given: Mapping[str, Any], errors: _Errors
) -> None:
    """Rules across fields, for the activity as it will be stored."""
    if kind in SUBJECT_REQUIRED and not (merged.get("subject") or "").strip():
        errors.add("subject", "Give a subject.")
    allowed = TYPE_FIELDS[kind]
    for name in sorted(ALL_TYPE_FIELDS - set(allowed)):
        value = given.get(name)
        if value not in (None, "", [], False) and not (name == "priority" and value == "normal"):
            errors.add(name, f"A {kind} has no {name.replace('_', ' ')}.")
    start, end = merged.get("occurred_at"), merged.get("ends_at")
    if (
        isinstance(start, dt.datetime)
        and isinstance(end, dt.datetime)
        and start.tzinfo is not None
        and end.tzinfo is not None
        and end <= start
    ):
        errors.add("ends_at", "Must be after the start.")


def _visible_record(
    session: DbSession,
    actor: Actor,
    model: Any,
    resource: str,
    record_id: Any,
) -> int | None:
    """The id of the company or deal ``record_id`` if ``actor`` may see it."""
    if type(record_id) is not int or not 1 <= record_id <= MAX_BIGINT:
        return None
    found: int | None = session.scalar(
        select(model.id).where(model.id == record_id, _scope(actor, resource, model))
    )
    return found


def card_visible(session: DbSession, actor: Actor, entity: str, entity_id: int) -> bool:
    """Whether ``actor`` may see the contact, company or deal card ``entity_id`` (and so
    its whole timeline)."""
    if entity == "contact":
        if type(entity_id) is not int or not 1 <= entity_id <= MAX_BIGINT:
            return False
        return get_visible_contact(session, actor, entity_id) is not None
    model, resource = {"company": (Company, "companies"), "deal": (Deal, "deals")}[entity]
    return _visible_record(session, actor, model, resource, entity_id) is not None


def _resolve_links(
    session: DbSession, actor: Actor, links: dict[str, Any], errors: _Errors
) -> dict[str, int | None]:
    """The record ids to store; each given id must be visible to ``actor`` (missing and
    out of scope read the same). A contact alone also brings its company."""
    resolved: dict[str, int | None] = {}
    contact: Contact | None = None
    if "contact_id" in links:
        value = links["contact_id"]
        if value is not None:
            contact = (
                get_visible_contact(session, actor, value)
                if type(value) is int and 1 <= value <= MAX_BIGINT
                else None
            )
            if contact is None:
                errors.add("contact_id", LINK_MESSAGE)
        resolved["contact_id"] = contact.id if contact else None
    for name, model, resource in (
        ("company_id", Company, "companies"),
        ("deal_id", Deal, "deals"),
    ):
        if name not in links:
            continue
        value = links[name]
        found = None
        if value is not None:
            found = _visible_record(session, actor, model, resource, value)
            if found is None:
                errors.add(name, LINK_MESSAGE)
        resolved[name] = found
    if contact is not None and resolved.get("company_id") is None and not links.get("company_id"):
        # The person's company sees the call too, even when the actor can not open that
        # company: its card is where colleagues who may look for it will look.
        resolved["company_id"] = contact.company_id
    return resolved


def _check_assignee(session: DbSession, assignee_id: Any, errors: _Errors) -> None:
    tenant = require_tenant()
    if (
        type(assignee_id) is not int
        or not 1 <= assignee_id <= MAX_BIGINT
        or active_membership(session, assignee_id, tenant.id) is None
    ):
        errors.add("assignee_id", "Not an active member of this workspace.")


# --- Writing -------------------------------------------------------------------------


def _event_data(activity: Activity, action: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": action,
        "type": activity.type,
        "subject": activity.subject,
        "done": activity.done,
    }
    if activity.type in {"call", "email", "meeting"}:
        for name in ("direction", "duration_seconds", "outcome"):
            if getattr(activity, name) is not None:
                data[name] = getattr(activity, name)
    if activity.type == "meeting" and activity.ends_at is not None:
        data["ends_at"] = activity.ends_at
    if activity.type == "task":
        data["due_at"] = activity.due_at
        data["assignee_id"] = activity.assignee_id
    if activity.type == "note" and activity.body and action == "created":
        data["body"] = activity.body[:EVENT_TEXT]
    data.update(extra)
    return data


def _record(
    session: DbSession,
    actor: Actor,
    activity: Activity,
    action: str,
    *,
    changes: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
) -> None:
    """The audit entry and the timeline event of one write (caller's transaction)."""
    record(
        session,
        actor_id=actor.user_id,
        action=action,
        entity="activity",
        entity_id=activity.id,
        changes=changes,
    )
    if activity.contact_id or activity.company_id or activity.deal_id:
        record_event(
            session,
            kind="activity",
            entity="activity",
            entity_id=activity.id,
            actor_id=actor.user_id,
            contact_id=activity.contact_id,
            company_id=activity.company_id,
            deal_id=activity.deal_id,
            activity_id=None if action == "deleted" else activity.id,
            data=event if event is not None else _event_data(activity, action),
            # A call logged afterwards takes its place in the history when it happened;
            # tasks and later changes are news of the moment they are written.
            occurred_at=(
                activity.occurred_at if action == "created" and activity.type != "task" else None
            ),
        )


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Blank optional text is stored as NULL; subject is never NULL."""
    for name in ("body", "outcome", "location", "result_note", "direction"):
        if isinstance(values.get(name), str) and not values[name].strip():
            values[name] = None
    if "subject" in values:
        values["subject"] = (values["subject"] or "").strip()
    if isinstance(values.get("attendees"), list):
        values["attendees"] = [a.strip() for a in values["attendees"] if isinstance(a, str)]
    return values


def create_activity(session: DbSession, actor: Actor, data: Mapping[str, Any]) -> Activity:
    """Log an activity (or add a task) owned by the actor; commits.

    Tasks are assigned to ``assignee_id`` (an active member) or to the actor; a task
    created done gets ``done_at`` now. Other types happened at ``occurred_at`` (now when
    not given).
    """
    errors = _Errors()
    kind = data.get("type")
    if kind not in ACTIVITY_TYPES:
        raise InvalidInput({"type": [f"Choose one of: {', '.join(ACTIVITY_TYPES)}."]})
    allowed = (*COMMON_FIELDS, *TYPE_FIELDS[kind])
    values = _clean({k: v for k, v in data.items() if k in allowed})
    _check_values(values, errors)
    _check_shape(kind, values, data, errors)
    link_input: dict[str, Any] = {
        k: values.pop(k) for k in ("contact_id", "company_id", "deal_id") if k in values
    }
    links = _resolve_links(session, actor, link_input, errors)
    if kind == "task":
        values.setdefault("assignee_id", None)
        if values["assignee_id"] is None:
            values["assignee_id"] = actor.user_id
        elif values["assignee_id"] != actor.user_id:
            _check_assignee(session, values["assignee_id"], errors)
    errors.raise_any()
    now = utcnow()
    values["occurred_at"] = values.get("occurred_at") or now
    values.setdefault("subject", "")
    if values.get("priority") is None:
        values.pop("priority", None)
    if values.get("done"):
        values["done_at"] = now
    else:
        values.pop("done", None)
    activity = Activity(
        type=kind, owner_id=actor.user_id, created_by_id=actor.user_id, **values, **links
    )
    session.add(activity)
    session.flush()
    _record(
        session,
        actor,
        activity,
        "created",
        changes={
            k: [None, json_value(v)]
            for k, v in {**values, **links, "type": kind}.items()
            if v not in (None, "", [])
        },
    )
    if kind in CONTACT_TYPES:
        refresh_last_contacted(
            session, contact_ids=[activity.contact_id], company_ids=[activity.company_id]
        )
    session.commit()
    return activity


EDITABLE = frozenset((*COMMON_FIELDS, *ALL_TYPE_FIELDS)) - {"done"}


def update_activity(
    session: DbSession, actor: Actor, activity: Activity, data: Mapping[str, Any]
) -> Activity:
    """Change some fields (the type stays what it is); ``done`` goes through
    :func:`complete_task` / :func:`reopen_task`. A new due time (or reminder time) makes
    the overdue notice (or the reminder) due again. Commits."""
    errors = _Errors()
    if "type" in data and data["type"] != activity.type:
        raise InvalidInput({"type": ["The type of an activity can not change."]})
    kind = activity.type
    allowed = (*COMMON_FIELDS, *TYPE_FIELDS[kind])
    given = _clean({k: v for k, v in data.items() if k in allowed and k != "done"})
    _check_values(given, errors)
    merged = {name: getattr(activity, name) for name in EDITABLE} | given
    _check_shape(kind, merged, data, errors)
    if "occurred_at" in given and given["occurred_at"] is None:
        errors.add("occurred_at", "Give a date and time with a time zone.")
    link_input: dict[str, Any] = {
        k: given.pop(k) for k in ("contact_id", "company_id", "deal_id") if k in given
    }
    # Unchanged links need no check (a contact that moved out of scope stays linked).
    link_input = {k: v for k, v in link_input.items() if v != getattr(activity, k)}
    links = _resolve_links(session, actor, link_input, errors)
    if kind == "task" and "assignee_id" in given:
        if given["assignee_id"] is None:
            given["assignee_id"] = actor.user_id
        if given["assignee_id"] not in (activity.assignee_id, actor.user_id):
            _check_assignee(session, given["assignee_id"], errors)
    if "priority" in given and given["priority"] is None:
        given["priority"] = "normal"
    errors.raise_any()
    new = {**given, **links}
    changed = {k: v for k, v in new.items() if getattr(activity, k) != v}
    linked_before = (activity.contact_id, activity.company_id)
    if "due_at" in changed:
        activity.overdue_notified_at = None
    if "remind_at" in changed:
        activity.reminded_at = None
    audit: dict[str, list[Any]] = {}
    for name, value in changed.items():
        audit[name] = [json_value(getattr(activity, name)), json_value(value)]
        setattr(activity, name, value)
    if audit:
        session.flush()
        _record(
            session,
            actor,
            activity,
            "updated",
            changes=audit,
            event=_event_data(activity, "updated", fields=sorted(audit)),
        )
    if kind in CONTACT_TYPES and {"occurred_at", "contact_id", "company_id"} & set(changed):
        refresh_last_contacted(
            session,
            contact_ids=[linked_before[0], activity.contact_id],
            company_ids=[linked_before[1], activity.company_id],
        )
    want_done = data.get("done")
    session.commit()
    if kind == "task" and isinstance(want_done, bool) and want_done != activity.done:
        if want_done:
            complete_task(session, actor, activity, data.get("result_note"))
        else:
            reopen_task(session, actor, activity)
    return activity


def delete_activity(session: DbSession, actor: Actor, activity: Activity) -> None:
    """Delete an activity; the cards keep a "deleted" line (their history is
    append-only). Commits."""
    _record(
        session,
        actor,
        activity,
        "deleted",
        changes={"type": [activity.type, None], "subject": [activity.subject, None]},
    )
    session.delete(activity)
    if activity.type in CONTACT_TYPES:
        session.flush()  # the recount must not see the deleted activity
        refresh_last_contacted(
            session, contact_ids=[activity.contact_id], company_ids=[activity.company_id]
        )
    session.commit()


def complete_task(
    session: DbSession, actor: Actor, activity: Activity, result_note: str | None = None
) -> Activity:
    """Mark a task done (now), with an optional result note; a done task stays as it
    is, so a repeated click changes nothing. Commits."""
    if activity.type != "task":
        raise InvalidInput({"type": ["Only tasks can be marked done."]})
    errors = _Errors()
    _check_text(errors, "result_note", result_note, MAX_BODY)
    errors.raise_any()
    if activity.done:
        return activity
    note = result_note.strip() if isinstance(result_note, str) and result_note.strip() else None
    activity.done = True
    activity.done_at = utcnow()
    if note is not None:
        activity.result_note = note
    extra: dict[str, Any] = {"result_note": note[:EVENT_TEXT]} if note else {}
    _record(
        session,
        actor,
        activity,
        "completed",
        changes={"done": [False, True], **({"result_note": [None, note]} if note else {})},
        event=_event_data(activity, "completed", **extra),
    )
    session.commit()
    return activity


def reopen_task(session: DbSession, actor: Actor, activity: Activity) -> Activity:
    """Mark a done task open again (its result note stays). Commits."""
    if activity.type != "task":
        raise InvalidInput({"type": ["Only tasks can be reopened."]})
    if not activity.done:
        return activity
    activity.done = False
    activity.done_at = None
    _record(session, actor, activity, "reopened", changes={"done": [True, False]})
    session.commit()
    return activity


# --- My tasks ------------------------------------------------------------------------

MY_TASKS_LIMIT = 200
RECENTLY_DONE = dt.timedelta(days=7)


@dataclass(slots=True)
class TaskBuckets:
    """A member's tasks as "my tasks" groups them, in their time zone."""

    zone: ZoneInfo
    overdue: list[Activity] = field(default_factory=list)
    today: list[Activity] = field(default_factory=list)
    upcoming: list[Activity] = field(default_factory=list)
    someday: list[Activity] = field(default_factory=list)
    done: list[Activity] = field(default_factory=list)


def end_of_today(zone: ZoneInfo, now: dt.datetime) -> dt.datetime:
    """The first instant of tomorrow in ``zone`` (what "due today" runs up to)."""
    local = now.astimezone(zone)
    tomorrow = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return tomorrow.astimezone(dt.UTC)


def my_tasks(session: DbSession, actor: Actor, now: dt.datetime | None = None) -> TaskBuckets:
    """Open tasks assigned to the actor (overdue, due today, upcoming, no due time) and
    those done in the last week, so that one done by mistake can be reopened."""
    now = now or utcnow()
    zone = user_zone(session, actor.user_id)
    boundary = end_of_today(zone, now)
    buckets = TaskBuckets(zone=zone)
    open_tasks = session.scalars(
        select(Activity)
        .where(
            Activity.type == "task",
            Activity.done.is_(False),
            Activity.assignee_id == actor.user_id,
            _visible_condition(actor, "view"),
        )
        .order_by(Activity.due_at.asc().nulls_last(), Activity.id)
        .limit(MY_TASKS_LIMIT)
    )
    for task in open_tasks:
        if task.due_at is None:
            buckets.someday.append(task)
        elif task.due_at < now:
            buckets.overdue.append(task)
        elif task.due_at < boundary:
            buckets.today.append(task)
        else:
            buckets.upcoming.append(task)
    buckets.done = list(
        session.scalars(
            select(Activity)
            .where(
                Activity.type == "task",
                Activity.done.is_(True),
                Activity.assignee_id == actor.user_id,
                Activity.done_at >= now - RECENTLY_DONE,
                _visible_condition(actor, "view"),
            )
            .order_by(Activity.done_at.desc(), Activity.id.desc())
            .limit(50)
        )
    )
    return buckets


def count_due_tasks(session: DbSession, actor: Actor, now: dt.datetime | None = None) -> int:
    """Open tasks assigned to the actor that are overdue or due today (the nav badge);
    one count over the open-tasks index."""
    now = now or utcnow()
    boundary = end_of_today(user_zone(session, actor.user_id), now)
    stmt = select(func.count()).where(
        Activity.type == "task",
        Activity.done.is_(False),
        Activity.assignee_id == actor.user_id,
        Activity.due_at < boundary,
        _visible_condition(actor, "view"),
    )
    return int(session.scalar(stmt) or 0)


def _scope(actor: Actor, resource: str, model: Any) -> ColumnElement[bool]:
    return owner_condition(actor, scope_for(actor, resource, "view"), model.owner_id)


def link_labels(
    session: DbSession, actor: Actor, activities: list[Activity]
) -> dict[str, dict[int, str]]:
    """Names of the contacts, companies and deals the activities link to that ``actor``
    may see (three small queries at most), for lists that show "with whom"; records
    out of the actor's scope are left out rather than named."""
    ids: dict[str, set[int]] = {"contact": set(), "company": set(), "deal": set()}
    for a in activities:
        if a.contact_id:
            ids["contact"].add(a.contact_id)
        if a.company_id:
            ids["company"].add(a.company_id)
        if a.deal_id:
            ids["deal"].add(a.deal_id)
    labels: dict[str, dict[int, str]] = {"contact": {}, "company": {}, "deal": {}}
    if ids["contact"]:
        for c in session.scalars(
            select(Contact).where(
                Contact.id.in_(ids["contact"]), _scope(actor, "contacts", Contact)
            )
        ):
            labels["contact"][c.id] = c.full_name
    if ids["company"]:
        rows = session.execute(
            select(Company.id, Company.name).where(
                Company.id.in_(ids["company"]), _scope(actor, "companies", Company)
            )
        )
        labels["company"] = {r.id: r.name for r in rows}
    if ids["deal"]:
        rows = session.execute(
            select(Deal.id, Deal.title).where(
                Deal.id.in_(ids["deal"]), _scope(actor, "deals", Deal)
            )
        )
        labels["deal"] = {r.id: r.title for r in rows}
    return labels
