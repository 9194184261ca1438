"""Timeline events (one table per tenant schema): the client history, append-only.

Every service that changes a contact, company, deal or activity appends an event in
the same transaction, with every client record it concerns (a call with a contact of a
company on a deal carries all three ids), so that each card reads its whole history
with one indexed range scan, newest first, however long the history is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, TenantBase

# created, updated (field changes), deleted, stage_changed, activity (logged or
# completed), comment.
EVENT_KINDS = ("created", "updated", "deleted", "stage_changed", "activity", "comment")


class TimelineEvent(TenantBase):
    """One entry of one or more client histories."""

    __tablename__ = "timeline_events"

    id: Mapped[BigId]
    occurred_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    kind: Mapped[str] = mapped_column(String(20))
    # What the event is about: "contact", "company", "deal" or "activity".
    entity: Mapped[str] = mapped_column(String(10))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    # The histories it belongs to (deleting a record deletes its history with it).
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="CASCADE")
    )
    company_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("companies.id", ondelete="CASCADE")
    )
    deal_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("deals.id", ondelete="CASCADE")
    )
    activity_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("activities.id", ondelete="SET NULL")
    )
    # Kind-specific: {"changes": {field: [old, new]}}, {"from_stage", "to_stage"},
    # {"body", "mentions"}, {"type", "subject"}.
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )

    __table_args__ = (
        Index("ix_timeline_contact", "contact_id", "occurred_at", "id"),
        Index("ix_timeline_company", "company_id", "occurred_at", "id"),
        Index("ix_timeline_deal", "deal_id", "occurred_at", "id"),
    )
