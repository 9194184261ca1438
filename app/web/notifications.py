"""Workspace pages: the member's notifications, and the bell's unread count.

Every member has their own notifications whatever their role; anyone else's are 404.
Opening one marks it read and goes where it points (a path on this host only). Thin
views: the services read and write.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField

from app.database import db
from app.hosts import workspace_blueprint
from app.notifications import services
from app.notifications.models import Notification
from app.time_cursor import BadCursor
from app.web import guards
from app.web.workspace import member, safe_next

bp = workspace_blueprint("notifications", __name__)
guards.install(bp)

PAGE_SIZE = 30


class NotificationActionForm(FlaskForm):
    """A bare CSRF-protected form (open, mark read, mark all read), with where to go
    back to."""

    next = HiddenField()


@bp.app_context_processor
def _bell() -> dict[str, Any]:
    # A callable, so that only pages that draw the navigation ask for the count.
    return {"unread_notification_count": _unread_count, "count_cap": services.COUNT_CAP}


def _unread_count() -> int:
    if not current_user.is_authenticated or g.get("tenant") is None:
        return 0
    cached: int | None = g.get("_unread_notifications")
    if cached is None:
        cached = services.unread_count(db.session, member().actor)
        g._unread_notifications = cached
    return cached


def _own_or_404(notification_id: int) -> Notification:
    found = services.get_own_notification(db.session, member().actor, notification_id)
    if found is None:
        abort(404)
    return found


def _back(form: NotificationActionForm) -> str:
    """The list page the form was on (a path on this host), else the first page."""
    target = form.next.data
    return safe_next(target) if target else url_for("notifications.notification_list")


@bp.get("/notifications")
@login_required
def notification_list() -> str:
    """The member's notifications, newest first, keyset-paginated; ``?unread=1`` shows
    the unread ones only."""
    actor = member().actor
    unread = request.args.get("unread") == "1"
    cursor = request.args.get("cursor") or None
    try:
        found = services.own_notifications(
            db.session, actor, unread=unread, cursor=cursor, limit=PAGE_SIZE
        )
    except BadCursor:
        # Only a hand-edited address gets here: show the first page rather than an error.
        cursor = None
        found = services.own_notifications(db.session, actor, unread=unread, limit=PAGE_SIZE)
    return render_template(
        "workspace/notifications/list.html",
        notifications=found.items,
        unread_only=unread,
        is_first_page=cursor is None,
        next_cursor=found.next_cursor,
        back=request.full_path.rstrip("?"),
    )


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def notification_open(notification_id: int) -> Response:
    """Mark a notification read and go where it points (the list when it points
    nowhere on this host)."""
    found = _own_or_404(notification_id)
    form = NotificationActionForm()
    if not form.validate_on_submit():
        abort(400)
    services.mark_read(db.session, member().actor, found)
    if found.url and services.local_path(found.url):
        return redirect(found.url)
    return redirect(_back(form))


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def notification_read(notification_id: int) -> Response:
    """Mark one notification read and stay on the list."""
    found = _own_or_404(notification_id)
    form = NotificationActionForm()
    if not form.validate_on_submit():
        abort(400)
    services.mark_read(db.session, member().actor, found)
    return redirect(_back(form))


@bp.post("/notifications/read-all")
@login_required
def notification_read_all() -> Response:
    """Mark every notification of the member read."""
    form = NotificationActionForm()
    if not form.validate_on_submit():
        abort(400)
    marked = services.mark_all_read(db.session, member().actor)
    if marked:
        flash(_("All notifications marked as read."), "success")
    return redirect(_back(form))
