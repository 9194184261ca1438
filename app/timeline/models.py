"""Timeline events (one table per tenant schema): the client history, append-only.

Every service that changes a contact, company, deal or activity appends an event in
the same transaction, with every client record it concerns (a call with a contact of a
company on a deal carries all three ids), so that each card reads its whole history
with one indexed range scan, newest first, however long the history is.

Deleting a record takes it out of the histories it shares and deletes only what belonged
to it alone: the three links are ``ON DELETE SET NULL``, and a trigger deletes an event
once no card is left to show it. (A cascade would have deleted the call from the deal's
and the company's history too when the contact went: the team loses the record of a
conversation because one person left the client.) Doing it in the database keeps every
delete path right, bulk deletes and merges included.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, TenantBase

# created, updated (field changes), deleted, stage_changed, activity (logged or
# completed), comment, merged (a duplicate merged into the record: app.duplicates).
EVENT_KINDS = ("created", "updated", "deleted", "stage_changed", "activity", "comment", "merged")


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
    # The histories it belongs to (see the module docstring for what a delete does).
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    company_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("companies.id", ondelete="SET NULL")
    )
    deal_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("deals.id", ondelete="SET NULL")
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


# Created with the table (tenants.provisioning.tenant_ddl) and by migration t0012. The
# function qualifies the table with the trigger's own schema: it runs under whatever
# search_path the deleting transaction has.
TIMELINE_DDL = (
    """CREATE FUNCTION timeline_forget_orphans() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'DELETE FROM ' || quote_ident(TG_TABLE_SCHEMA) || '.'
        || quote_ident(TG_TABLE_NAME) || ' WHERE id = $1' USING NEW.id;
    RETURN NULL;
END
$$""",
    """CREATE TRIGGER timeline_forget_orphans
    AFTER UPDATE OF contact_id, company_id, deal_id ON timeline_events
    FOR EACH ROW
    WHEN (NEW.contact_id IS NULL AND NEW.company_id IS NULL AND NEW.deal_id IS NULL)
    EXECUTE FUNCTION timeline_forget_orphans()""",
)
