"""When a contact or company was last contacted: ``last_contacted_at``.

Contact means a call, a meeting or an email logged against the record (tasks and notes
are work *about* a client, not contact *with* them; a task has its own "done"). The
value is the latest ``occurred_at`` of those activities, meetings booked ahead
included: a client with a meeting on the calendar is being worked, and "not contacted
for 30 days" should not list them. The list filter and sort read the stored column, so
"not contacted for N days" over a million contacts is one indexed condition.

The activity services call :func:`refresh_last_contacted` in their transaction for
every contact and company an activity is (or was) linked to, whenever one is created,
changed (its time or links) or deleted. It recomputes the value from the activities
with one UPDATE per table, over the (contact_id, occurred_at) and (company_id,
occurred_at) indexes, so it stays exact (a deleted call moves the date back) and
costs a few index reads. Anything that moves activities between records (merging
duplicates) calls it for both records.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update

from app.activities.models import Activity
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import DbSession

# The activity types that count as contact with a client.
CONTACT_TYPES = ("call", "meeting", "email")


def refresh_last_contacted(
    session: DbSession,
    *,
    contact_ids: Iterable[int | None] = (),
    company_ids: Iterable[int | None] = (),
) -> None:
    """Recompute ``last_contacted_at`` of the given contacts and companies (Nones are
    ignored) in the caller's transaction. ``updated_at`` is left alone: logging a call
    is not an edit of the contact."""
    for model, link, ids in (
        (Contact, Activity.contact_id, contact_ids),
        (Company, Activity.company_id, company_ids),
    ):
        wanted = sorted({i for i in ids if i is not None})
        if not wanted:
            continue
        latest = (
            select(func.max(Activity.occurred_at))
            .where(link == model.id, Activity.type.in_(CONTACT_TYPES))
            .scalar_subquery()
        )
        session.execute(
            update(model)
            .where(model.id.in_(wanted))
            .values(last_contacted_at=latest, updated_at=model.updated_at)
            .execution_options(synchronize_session=False)
        )
