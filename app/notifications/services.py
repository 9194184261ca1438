"""Notification services: the only writers of notifications.

:func:`notify` adds one in the caller's transaction (whoever calls it: mentions,
overdue tasks); reading and marking read are the recipient's own business, so every
lookup is by the actor's user id and anyone else's notification is "not found".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import url_for
from sqlalchemy import ColumnElement, and_, delete, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB

from app.access.policy import Actor
from app.database import DbSession, utcnow
from app.input_rules import CONTROL_ANY, MAX_BIGINT, UNSTORABLE
from app.notifications.models import Notification
from app.time_cursor import decode_time_cursor, encode_time_cursor
from app.timeline.services import json_value
from tenants.context import require_tenant

MAX_KIND = 30
MAX_TITLE = 300
MAX_URL = 500
# The bell shows "99+" beyond this: counting further costs time and tells nobody more.
COUNT_CAP = 99
_KIND = re.compile(r"^[a-z][a-z_]{0,29}$")


def local_path(url: str) -> bool:
    """Whether ``url`` is a path on this host (what a notification may link to: never
    another site, so following one can not be turned into an open redirect)."""
    if not url.startswith("/") or url.startswith("//") or len(url) > MAX_URL:
        return False
    if CONTROL_ANY.search(url) or UNSTORABLE.search(url) or "\\" in url or " " in url:
        return False
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc


def workspace_path(endpoint: str, **values: Any) -> str:
    """The path (with query and fragment) of ``endpoint`` on the bound workspace's host,
    wherever the caller runs: a page, the API on the apex host, or a Celery task."""
    url = url_for(endpoint, tenant_slug=require_tenant().slug, _external=True, **values)
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def notify(
    session: DbSession,
    *,
    user_id: int,
    kind: str,
    title: str,
    url: str | None,
    data: Mapping[str, Any] | None = None,
) -> Notification:
    """Add a notification for member ``user_id`` in the caller's transaction.

    ``title`` is what the list shows (in the recipient's language; cut to
    :data:`MAX_TITLE` characters), ``url`` a path on the workspace host (see
    :func:`workspace_path`). Arguments come from code, not from people: a malformed one
    is a programming error (``ValueError``).
    """
    if type(user_id) is not int or not 1 <= user_id <= MAX_BIGINT:
        raise ValueError(f"not a user id: {user_id!r}")
    if not _KIND.match(kind):
        raise ValueError(f"not a notification kind: {kind!r}")
    if url is not None and not local_path(url):
        raise ValueError(f"a notification links to a path on the workspace host: {url!r}")
    text = " ".join(CONTROL_ANY.sub(" ", UNSTORABLE.sub("", title)).split())
    if not text:
        raise ValueError("a notification needs a title")
    if len(text) > MAX_TITLE:
        text = text[: MAX_TITLE - 1].rstrip() + "…"
    notification = Notification(
        user_id=user_id, kind=kind, title=text, url=url, data=json_value(dict(data or {}))
    )
    session.add(notification)
    return notification


def _matching(kind: str, user_ids: Iterable[int], ref: Mapping[str, Any]) -> ColumnElement[bool]:
    """Notifications of ``kind`` for ``user_ids`` whose data contains ``ref`` (the
    recipients narrow the scan to their rows of the user index)."""
    return and_(
        Notification.kind == kind,
        Notification.user_id.in_(list(user_ids)),
        Notification.data.contains(dict(ref)),
    )


def withdraw(
    session: DbSession, *, kind: str, user_ids: Iterable[int], ref: Mapping[str, Any]
) -> None:
    """Delete the notifications of ``kind`` sent to ``user_ids`` about ``ref`` (e.g.
    ``{"comment_id": 7}``): what they pointed at is gone. Caller's transaction."""
    ids = list(user_ids)
    if ids:
        session.execute(
            delete(Notification)
            .where(_matching(kind, ids, ref))
            .execution_options(synchronize_session=False)
        )


def revise(
    session: DbSession,
    *,
    kind: str,
    user_ids: Iterable[int],
    ref: Mapping[str, Any],
    data: Mapping[str, Any],
) -> None:
    """Merge ``data`` into the notifications of ``kind`` sent to ``user_ids`` about
    ``ref`` (an edited comment's new excerpt). Caller's transaction."""
    ids = list(user_ids)
    patch = json_value(dict(data))
    if ids:
        session.execute(
            update(Notification)
            .where(_matching(kind, ids, ref))
            .values(data=Notification.data.op("||", return_type=JSONB)(literal(patch, JSONB)))
            .execution_options(synchronize_session=False)
        )


def unread_count(session: DbSession, actor: Actor) -> int:
    """How many unread notifications the actor has, up to :data:`COUNT_CAP` + 1 (the
    bell shows "99+"): the newest rows of the partial unread index, never more."""
    capped = (
        select(Notification.id)
        .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
        # The index's own order, so that the scan stops after COUNT_CAP + 1 entries.
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


@dataclass(frozen=True, slots=True)
class NotificationPage:
    """One page of a member's notifications, newest first."""

    items: list[Notification]
    next_cursor: str | None


def _encode_cursor(created_at: dt.datetime, notification_id: int) -> str:
    return encode_time_cursor("nt", created_at, notification_id)


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    return decode_time_cursor("nt", cursor)


def own_notifications(
    session: DbSession,
    actor: Actor,
    *,
    unread: bool = False,
    cursor: str | None = None,
    limit: int = 30,
) -> NotificationPage:
    """One page of the actor's notifications (unread ones only when ``unread``), newest
    first, after ``cursor``. One range scan of ``(user_id, created_at, id)`` (or of the
    partial unread index) at any depth: the cursor is a row comparison, and the order is
    the index's own. Raises :class:`BadCursor` for a cursor that is not ours."""
    stmt = select(Notification).where(Notification.user_id == actor.user_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if cursor:
        created_at, notification_id = _decode_cursor(cursor)
        stmt = stmt.where(
            tuple_(Notification.created_at, Notification.id) < tuple_(created_at, notification_id)
        )
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].created_at, rows[-1].id)
    return NotificationPage(items=rows, next_cursor=next_cursor)


def get_own_notification(
    session: DbSession, actor: Actor, notification_id: int
) -> Notification | None:
    """The notification if it is the actor's, else None (callers answer 404 either way)."""
    if type(notification_id) is not int or not 1 <= notification_id <= MAX_BIGINT:
        return None
    found = session.get(Notification, notification_id)
    if found is None or found.user_id != actor.user_id:
        return None
    return found


def mark_read(session: DbSession, actor: Actor, notification: Notification) -> Notification:
    """Mark one of the actor's notifications read (a read one keeps its time). Commits."""
    if notification.user_id != actor.user_id:
        raise ValueError("only the recipient marks a notification read")
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.commit()
    return notification


def mark_all_read(session: DbSession, actor: Actor) -> int:
    """Mark every unread notification of the actor read; returns how many. Commits."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
