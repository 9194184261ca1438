"""Workspace pages: logging activities, editing them, and "my tasks".

Thin views: parse the form, check the policy, fetch through the access helper, call a
service. Refusals from the services land on the form's fields; nothing a person types
ends in a server error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.access.policy import may
from app.activities import services
from app.activities.models import Activity
from app.database import db
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.identity.models import Membership, User
from app.timeline.queries import actor_names
from app.web import guards
from app.web.activity_forms import ActivityForm, CompleteTaskForm, ConfirmForm
from app.web.workspace import member, safe_next

bp = workspace_blueprint("activities", __name__)
guards.install(bp)

LINK_FIELDS = ("contact_id", "company_id", "deal_id")
# Service field names that the form shows under another name.
FORM_FIELD_OF = {"duration_seconds": "duration_minutes"}


@bp.app_context_processor
def _task_badge() -> dict[str, Any]:
    # A callable, so that the count is only asked for by pages that draw the nav.
    return {"due_task_count": _due_task_count}


def _due_task_count() -> int:
    if not current_user.is_authenticated or g.get("tenant") is None:
        return 0
    actor = member().actor
    if not may(actor, "activities", "view"):
        return 0
    cached: int | None = g.get("_due_task_count")
    if cached is None:
        cached = services.count_due_tasks(db.session, actor)
        g._due_task_count = cached
    return cached


def _zone() -> ZoneInfo:
    return services.zone_of(current_user.user.timezone)


def _activity_or_404(activity_id: int, action: str = "view") -> Activity:
    """The activity if the member may see it (404 otherwise) and ``action`` it (403)."""
    actor = member().actor
    activity = services.get_visible_activity(db.session, actor, activity_id)
    if activity is None:
        abort(404)
    if action != "view" and not services.may_touch(actor, activity, action):
        abort(403)
    return activity


def _members() -> list[SelectChoice]:
    """Active members of the workspace as assignee choices (name, else email)."""
    rows = db.session.execute(
        db.select(User.id, User.name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == g.tenant.id, Membership.is_active.is_(True))
        .order_by(User.name, User.email)
    )
    return [SelectChoice(str(r.id), r.name or r.email) for r in rows]


def _show_refusal(form: Any, refusal: InvalidInput) -> None:
    """Put a service's refusal on the form: on the field it names, else on the form."""
    for name, messages in refusal.details.items():
        target = form._fields.get(FORM_FIELD_OF.get(name, name))
        if (
            target is not None
            and name not in {"csrf_token", *LINK_FIELDS}
            and target.type != "HiddenField"
        ):
            target.errors = [*target.errors, *messages]
        else:
            label = {
                "contact_id": _("Contact"),
                "company_id": _("Company"),
                "deal_id": _("Deal"),
            }.get(name, name)
            form.form_errors = [*form.form_errors, *(f"{label}: {m}" for m in messages)]


def _back(
    activity: Activity | None, links: dict[str, int | None], fallback: str | None = None
) -> str:
    """Where to go after saving: ``next`` when it is a path here, else the card the
    activity is about, else "my tasks"."""
    target = request.values.get("next")
    if target:
        return safe_next(target)
    if fallback:
        return fallback
    if links.get("contact_id"):
        return url_for("workspace.contact_detail", contact_id=links["contact_id"])
    return url_for("activities.my_tasks")


def _links_from_request() -> dict[str, int | None]:
    links: dict[str, int | None] = {}
    for name in LINK_FIELDS:
        raw = request.form.get(name) or request.args.get(name) or ""
        raw = raw.strip()
        links[name] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
    return links


def _local(value: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    """An aware time as the naive local time a ``datetime-local`` input shows."""
    return value.astimezone(zone).replace(tzinfo=None, microsecond=0) if value else None


@bp.route("/activities/new", methods=["GET", "POST"])
@login_required
def activity_new() -> Response | tuple[str, int]:
    """Log an activity or add a task, about the records named in the query or form."""
    actor = member().actor
    if not may(actor, "activities", "create"):
        abort(403)
    form = ActivityForm()
    form.assignee_id.choices = [SelectChoice("", _("Me")), *_members()]
    links = _links_from_request()
    if request.method == "GET":
        kind = request.args.get("type")
        if kind in services.ACTIVITY_TYPE_LABELS:
            form.type.data = kind
        for name, value in links.items():
            getattr(form, name).data = str(value) if value else ""
        form.next.data = request.args.get("next") or ""
    if form.validate_on_submit():
        values = form.values(_zone())
        values.update({k: v for k, v in links.items() if v is not None})
        try:
            activity = services.create_activity(db.session, actor, values)
        except InvalidInput as refusal:
            db.session.rollback()
            _show_refusal(form, refusal)
        else:
            flash(_("Task added.") if activity.type == "task" else _("Activity logged."), "success")
            return redirect(_back(activity, links))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "workspace/activities/form.html",
        form=form,
        activity=None,
        zone=_zone().key,
        cancel=_back(None, links),
        type_labels=services.ACTIVITY_TYPE_LABELS,
    ), status


@bp.route("/activities/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def activity_edit(activity_id: int) -> str | Response | tuple[str, int]:
    """Edit an activity (its type stays)."""
    activity = _activity_or_404(activity_id, "edit")
    zone = _zone()
    form = ActivityForm()
    form.assignee_id.choices = _members()
    links = {name: getattr(activity, name) for name in LINK_FIELDS}
    if request.method == "GET":
        form.process(
            obj=activity,
            occurred_at=_local(activity.occurred_at, zone),
            ends_at=_local(activity.ends_at, zone),
            due_at=_local(activity.due_at, zone),
            remind_at=_local(activity.remind_at, zone),
            attendees="\n".join(str(a) for a in activity.attendees or []),
            duration_minutes=(
                round(activity.duration_seconds / 60)
                if activity.duration_seconds is not None
                else None
            ),
            assignee_id=str(activity.assignee_id or ""),
            direction=activity.direction or "",
            next=request.args.get("next") or "",
        )
    # The type is fixed; the select only shows it.
    form.type.data = activity.type
    if request.method == "POST" and form.validate_on_submit():
        values = form.values(zone)
        for name in LINK_FIELDS:
            values.pop(name, None)
        values.pop("type", None)
        if values.get("occurred_at") is None:
            # Emptied on the form: keep the stored time rather than refuse.
            values.pop("occurred_at", None)
        try:
            services.update_activity(db.session, member().actor, activity, values)
        except InvalidInput as refusal:
            db.session.rollback()
            _show_refusal(form, refusal)
        else:
            flash(_("Changes saved."), "success")
            return redirect(_back(activity, links))
        return render_template(
            "workspace/activities/form.html",
            form=form,
            activity=activity,
            zone=zone.key,
            cancel=_back(activity, links),
            type_labels=services.ACTIVITY_TYPE_LABELS,
        ), 400
    status = 400 if request.method == "POST" else 200
    return render_template(
        "workspace/activities/form.html",
        form=form,
        activity=activity,
        zone=zone.key,
        cancel=_back(activity, links),
        type_labels=services.ACTIVITY_TYPE_LABELS,
    ), status


@bp.get("/activities/<int:activity_id>/delete")
@login_required
def activity_delete_confirm(activity_id: int) -> str:
    """Ask before deleting."""
    activity = _activity_or_404(activity_id, "delete")
    form = ConfirmForm(next=request.args.get("next") or "")
    return render_template("workspace/activities/delete.html", activity=activity, form=form)


@bp.post("/activities/<int:activity_id>/delete")
@login_required
def activity_delete(activity_id: int) -> Response:
    """Delete an activity."""
    activity = _activity_or_404(activity_id, "delete")
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    links = {name: getattr(activity, name) for name in LINK_FIELDS}
    services.delete_activity(db.session, member().actor, activity)
    flash(_("Activity deleted."), "success")
    return redirect(_back(None, links))


@bp.post("/activities/<int:activity_id>/complete")
@login_required
def activity_complete(activity_id: int) -> Response | tuple[str, int]:
    """Mark a task done, with an optional result note."""
    activity = _activity_or_404(activity_id, "edit")
    form = CompleteTaskForm()
    if activity.type != "task":
        abort(404)
    if not form.validate_on_submit():
        return _tasks_page(complete_form=form, failed_id=activity.id), 400
    services.complete_task(db.session, member().actor, activity, form.result_note.data)
    flash(_("Task done: %(subject)s", subject=activity.subject), "success")
    return redirect(_back(activity, {}, url_for("activities.my_tasks")))


@bp.post("/activities/<int:activity_id>/reopen")
@login_required
def activity_reopen(activity_id: int) -> Response:
    """Mark a done task open again."""
    activity = _activity_or_404(activity_id, "edit")
    if activity.type != "task":
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.reopen_task(db.session, member().actor, activity)
    flash(_("Task reopened: %(subject)s", subject=activity.subject), "success")
    return redirect(_back(activity, {}, url_for("activities.my_tasks")))


def _tasks_page(complete_form: CompleteTaskForm | None = None, failed_id: int | None = None) -> str:
    actor = member().actor
    buckets = services.my_tasks(db.session, actor)
    everything = [
        *buckets.overdue,
        *buckets.today,
        *buckets.upcoming,
        *buckets.someday,
        *buckets.done,
    ]
    return render_template(
        "workspace/activities/tasks.html",
        buckets=buckets,
        labels=services.link_labels(db.session, actor, everything),
        names=actor_names(db.session, {t.owner_id for t in everything if t.owner_id}),
        zone=buckets.zone,
        complete_form=complete_form or CompleteTaskForm(),
        failed_id=failed_id,
        confirm_form=ConfirmForm(),
        can_create=may(actor, "activities", "create"),
    )


@bp.get("/tasks")
@login_required
def my_tasks() -> str:
    """My tasks: overdue, due today, upcoming (in my time zone), and recently done."""
    if not may(member().actor, "activities", "view"):
        abort(403)
    return _tasks_page()
