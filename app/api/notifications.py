"""REST API: the caller's own notifications (routes on the shared API blueprint).

Every member may read and mark their own notifications, whatever their role; anyone
else's are 404.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from app.api.pagination import parse_limit
from app.api.views import _load, _query_args, bp, member
from app.database import db
from app.errors import not_found, validation_error
from app.notifications import services as notifications
from app.notifications.models import Notification
from app.notifications.schemas import NotificationListArgs, NotificationSchema
from app.time_cursor import BadCursor

_list_args = NotificationListArgs()
_notification = NotificationSchema()
_notifications = NotificationSchema(many=True)


def _data(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "title": notification.title,
        "url": notification.url,
        "data": notification.data,
        "created_at": notification.created_at,
        "read_at": notification.read_at,
        "read": notification.read_at is not None,
    }


@bp.get("/notifications")
def list_notifications() -> Response:
    """The caller's notifications, newest first (``unread=true``: unread ones only)."""
    args = _load(_list_args, _query_args())
    try:
        found = notifications.own_notifications(
            db.session,
            member().actor,
            unread=args["unread"],
            cursor=args["cursor"],
            limit=parse_limit(args["limit"]),
        )
    except BadCursor as exc:
        raise validation_error({"cursor": ["Invalid cursor; start again without it."]}) from exc
    return jsonify(
        {
            "items": _notifications.dump([_data(n) for n in found.items]),
            "next_cursor": found.next_cursor,
        }
    )


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    """Mark one of the caller's notifications read (a read one stays as it is)."""
    actor = member().actor
    found = notifications.get_own_notification(db.session, actor, notification_id)
    if found is None:
        raise not_found()
    notifications.mark_read(db.session, actor, found)
    return jsonify(_notification.dump(_data(found)))


@bp.post("/notifications/read-all")
def read_all_notifications() -> Response:
    """Mark every unread notification of the caller read; answers how many."""
    marked = notifications.mark_all_read(db.session, member().actor)
    return jsonify({"marked": marked})
