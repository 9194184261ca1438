"""Fixtures for the activity and timeline tests: the page and API helpers of
``tests/web`` and ``tests/api``, plus fast seeding of records and events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.activities.models import Activity
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import db
from app.deals.models import Deal
from app.identity.models import User
from app.pipelines.models import Stage
from app.timeline.models import TimelineEvent
from tests.api.conftest import api, tenant_session  # noqa: F401  (fixture)
from tests.conftest import TenantFixture
from tests.web.conftest import owner, tenant  # noqa: F401  (fixtures)


def seed(app: Flask, tf: TenantFixture, kind: str, **fields: Any) -> int:
    """Insert one contact, company, deal or activity straight into ``tf``'s schema."""
    with tenant_session(app, tf) as session:
        values: dict[str, Any] = {"owner_id": tf.owner_id, **fields}
        record: Any
        if kind == "contact":
            record = Contact(**{"first_name": "Ada", **values})
        elif kind == "company":
            record = Company(**{"name": "Initech", **values})
        elif kind == "deal":
            stage = session.scalars(select(Stage).order_by(Stage.id)).first()
            assert stage is not None
            record = Deal(
                **{
                    "title": "Big deal",
                    "pipeline_id": stage.pipeline_id,
                    "stage_id": stage.id,
                    **values,
                }
            )
        else:
            record = Activity(**{"type": "task", "subject": "Do it", **values})
        session.add(record)
        session.commit()
        return int(record.id)


def seed_events(
    app: Flask, tf: TenantFixture, count: int, start: dt.datetime, **links: Any
) -> list[int]:
    """``count`` comment events, one a minute from ``start`` (some sharing a time, so
    that ties are ordered by id), returning their ids oldest first."""
    with tenant_session(app, tf) as session:
        events = [
            TimelineEvent(
                kind="comment",
                entity="contact",
                entity_id=links.get("contact_id"),
                actor_id=tf.owner_id,
                occurred_at=start + dt.timedelta(minutes=i // 2),
                data={"body": f"comment {i}"},
                **links,
            )
            for i in range(count)
        ]
        session.add_all(events)
        session.commit()
        return [e.id for e in events]


def set_timezone(app: Flask, user_id: int, zone: str | None) -> None:
    """Give a member a time zone (``users.timezone``)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        user.timezone = zone
        db.session.commit()
        db.session.remove()


def load_activity(app: Flask, tf: TenantFixture, activity_id: int) -> Activity | None:
    """The stored activity (detached), or None."""
    with tenant_session(app, tf) as session:
        found = session.get(Activity, activity_id)
        if found is not None:
            session.expunge(found)
        return found
