"""Activity table (one per tenant schema): everything done with or about a client."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, TenantBase, Timestamp

ACTIVITY_TYPES = ("call", "meeting", "email", "task", "note")
PRIORITIES = ("low", "normal", "high")


class Activity(TenantBase):
    """A call, meeting, logged email, task or note, linked to a contact, a company
    and/or a deal. One table for all five: the timeline, "my tasks" and reports read
    them together; type-specific columns are simply empty for the other types."""

    __tablename__ = "activities"

    id: Mapped[BigId]
    type: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300), default="", server_default="")
    body: Mapped[str | None] = mapped_column(Text)
    # When it happened (calls, emails, notes) or starts (meetings).
    occurred_at: Mapped[Timestamp]
    # Meetings.
    ends_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    location: Mapped[str | None] = mapped_column(String(300))
    attendees: Mapped[list[Any]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    # Calls and emails.
    direction: Mapped[str | None] = mapped_column(String(10))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(100))
    # Tasks.
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    priority: Mapped[str] = mapped_column(String(8), default="normal", server_default="normal")
    done: Mapped[bool] = mapped_column(default=False, server_default="false")
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    result_note: Mapped[str | None] = mapped_column(Text)
    remind_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # What it is about (any of the three, or none for a personal to-do).
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    company_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("companies.id", ondelete="SET NULL")
    )
    deal_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("deals.id", ondelete="SET NULL")
    )
    # Platform user ids: who owns the record, and who must do the task.
    owner_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=text("now()"))

    __table_args__ = (
        CheckConstraint("type IN ('call', 'meeting', 'email', 'task', 'note')", name="type_valid"),
        CheckConstraint("priority IN ('low', 'normal', 'high')", name="priority_valid"),
        CheckConstraint(
            "direction IS NULL OR direction IN ('inbound', 'outbound')", name="direction_valid"
        ),
        Index("ix_activities_contact", "contact_id", "occurred_at"),
        Index("ix_activities_company", "company_id", "occurred_at"),
        Index("ix_activities_deal", "deal_id", "occurred_at"),
        # "My tasks": open tasks of an assignee by due time; reminders and overdue scans.
        Index(
            "ix_activities_open_tasks",
            "assignee_id",
            "due_at",
            postgresql_where=text("type = 'task' AND NOT done"),
        ),
    )
