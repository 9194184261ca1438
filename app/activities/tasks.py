"""Task reminders and overdue notices (Celery beat, every minute).

Per live tenant, one session bound to it: open tasks whose ``remind_at`` has come and
that were not reminded yet mail their assignee and get ``reminded_at``; open tasks past
``due_at`` without an overdue notice mail their assignee, and the task's owner when that
is someone else, notify both in the app (:func:`app.notifications.services.notify`, same
transaction), and get ``overdue_notified_at``. The mark and the mail go together: the
mail is queued with :func:`app.mail.services.send_after_commit`, so a failed commit sends
nothing and a committed one is never sent again (idempotent across runs and overlapping
beats: rows are claimed with ``FOR UPDATE SKIP LOCKED``). At most :data:`BATCH` tasks per
tenant and kind per run, so one busy workspace can not starve the others; the rest go
out in the next minutes.

Teams, and so "the assignee's manager", arrive with the access-rights issue; until then
an overdue task notifies its assignee and its owner only.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.activities.models import Activity
from app.activities.services import utcnow, zone_of
from app.database import DbSession, db
from app.hosts import workspace_url
from app.identity.models import Membership, User
from app.mail.services import compose, send_after_commit
from app.notifications.services import notify, workspace_path
from app.tasks import FlaskTask, celery_app
from tenants.context import TenantRef, tenant_context
from tenants.models import Tenant

log = logging.getLogger(__name__)

REMINDERS_TASK = "activities.send_task_reminders"
BATCH = 200


def _recipients(session: DbSession, tenant_id: int, user_ids: set[int]) -> dict[int, User]:
    """Active members among ``user_ids`` (a removed member gets no more mail)."""
    if not user_ids:
        return {}
    rows = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            User.id.in_(user_ids),
            Membership.tenant_id == tenant_id,
            Membership.is_active.is_(True),
        )
    )
    return {user.id: user for user in rows}


def _mail(template: str, user: User, tenant: Tenant, task: Activity, **extra: Any) -> Any:
    zone = zone_of(user.timezone)
    due = task.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if task.due_at else None
    with force_locale(user.locale or "en"):
        subject = (
            _("Reminder: %(subject)s", subject=task.subject or _("a task"))
            if template == "task_reminder"
            else _("Overdue: %(subject)s", subject=task.subject or _("a task"))
        )
        return compose(
            template,
            to=user.email,
            subject=subject,
            task=task,
            name=user.name or user.email,
            workspace=tenant.name,
            due=due,
            zone=zone.key,
            href=workspace_url(tenant, "activities.my_tasks"),
            **extra,
        )


def _overdue_notice(
    session: DbSession, user: User, task: Activity, *, for_assignee: bool, assignee_name: str | None
) -> None:
    """The in-app notification that goes with an overdue mail, in the recipient's language,
    linking to the task."""
    with force_locale(user.locale or "en"):
        subject = task.subject or _("a task")
        title = (
            _("Overdue: %(subject)s", subject=subject)
            if for_assignee
            else _(
                "Overdue task you gave %(assignee)s: %(subject)s",
                assignee=assignee_name or _("a colleague"),
                subject=subject,
            )
        )
    notify(
        session,
        user_id=user.id,
        kind="task_overdue",
        title=title,
        url=workspace_path("activities.activity_edit", activity_id=task.id),
        data={"activity_id": task.id, "due_at": task.due_at},
    )


def _claim(session: DbSession, *conditions: Any) -> list[Activity]:
    return list(
        session.scalars(
            select(Activity)
            .where(Activity.type == "task", Activity.done.is_(False), *conditions)
            .order_by(Activity.due_at.asc().nulls_last(), Activity.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )


def notify_tenant(session: DbSession, ref: TenantRef, now: dt.datetime) -> dict[str, int]:
    """Send the due reminders and overdue notices of the bound tenant; commits. Returns
    how many tasks were reminded and how many flagged overdue."""
    tenant = session.get(Tenant, ref.id)
    if tenant is None:
        return {"reminded": 0, "overdue": 0}
    reminders = _claim(session, Activity.remind_at <= now, Activity.reminded_at.is_(None))
    overdue = _claim(session, Activity.due_at < now, Activity.overdue_notified_at.is_(None))
    people = _recipients(
        session,
        ref.id,
        {t.assignee_id for t in reminders + overdue if t.assignee_id}
        | {t.owner_id for t in overdue if t.owner_id},
    )
    for task in reminders:
        task.reminded_at = now
        assignee = people.get(task.assignee_id or 0)
        if assignee is not None:
            send_after_commit(session, _mail("task_reminder", assignee, tenant, task))
    for task in overdue:
        task.overdue_notified_at = now
        assignee = people.get(task.assignee_id or 0)
        for user_id in dict.fromkeys([task.assignee_id, task.owner_id]):
            user = people.get(user_id or 0)
            if user is not None:
                send_after_commit(
                    session,
                    _mail(
                        "task_overdue",
                        user,
                        tenant,
                        task,
                        for_assignee=user_id == task.assignee_id,
                        assignee_name=(assignee.name or assignee.email) if assignee else None,
                    ),
                )
                _overdue_notice(
                    session,
                    user,
                    task,
                    for_assignee=user_id == task.assignee_id,
                    assignee_name=(assignee.name or assignee.email) if assignee else None,
                )
    session.commit()
    return {"reminded": len(reminders), "overdue": len(overdue)}


def notify_fleet(now: dt.datetime | None = None) -> dict[int, dict[str, int]]:
    """:func:`notify_tenant` for every live tenant, each in its own session bound to it;
    one tenant's failure is logged and the others still run."""
    from tenants.fleet import iter_live_tenants

    now = now or utcnow()
    results: dict[int, dict[str, int]] = {}
    for ref in iter_live_tenants(db.engine):
        with tenant_context(ref), Session(db.engine) as session:
            try:
                results[ref.id] = notify_tenant(session, ref, now)
            except Exception:
                session.rollback()
                log.exception("task notifications failed tenant_id=%s", ref.id)
    return results


@celery_app.task(base=FlaskTask, name=REMINDERS_TASK)
def send_task_reminders() -> dict[str, Any]:
    """Beat entry point: reminders and overdue notices for the whole fleet."""
    results = notify_fleet()
    return {str(tid): counts for tid, counts in results.items() if any(counts.values())}
