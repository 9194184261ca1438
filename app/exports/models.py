"""Export jobs (one table per tenant schema).

A row is written for every export a member starts, whichever way it is delivered: a
small CSV streams straight into the HTTP response (``delivery = "stream"``), anything
else is written to a file by a tenant-bound task and served from there for a day
(``delivery = "file"``). The row is what the exports page lists, what the status API
answers, and what ties the audit entry to the file. The filter is kept as it was used
(a copy of the list's filter or of the segment's, at the time), so "what was exported"
stays answerable after the segment changes or is deleted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, TenantBase, Timestamp

EXPORT_ENTITIES = ("contact", "company", "deal")
EXPORT_FORMATS = ("csv", "xlsx")
# queued -> running -> done | failed; done -> expired when the file is swept.
EXPORT_STATUSES = ("queued", "running", "done", "failed", "expired")
EXPORT_DELIVERIES = ("stream", "file")
# Still moving: the page polls these.
UNFINISHED_STATUSES = ("queued", "running")


class ExportJob(TenantBase):
    """One export of a list or a segment by one member."""

    __tablename__ = "export_jobs"

    id: Mapped[BigId]
    entity: Mapped[str] = mapped_column(String(10))
    format: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(10), default="queued", server_default="queued")
    delivery: Mapped[str] = mapped_column(String(6), default="file", server_default="file")
    # The FilterSpec as used (app.lists.filters), whether typed on the list or a segment's.
    filters: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # The segment exported, if any, and its name at the time (no foreign key: the job
    # and its audit trail outlive the segment).
    segment_id: Mapped[int | None] = mapped_column(BigInteger)
    segment_name: Mapped[str | None] = mapped_column(String(200))
    # Platform user id of the member who asked; only they see the job (see services).
    created_by_id: Mapped[int] = mapped_column(BigInteger)
    # Counted in the same snapshot the rows are read from, so progress ends at 100 %.
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    # Random, server-made part of the file's name: the path is never built from anything
    # a client typed, and two databases sharing one storage directory (test workers,
    # restores) never overwrite each other's files.
    file_key: Mapped[str] = mapped_column(String(32))
    # What the member reads when it failed (never a stack trace).
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[Timestamp]
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # When the file is deleted (a day after it was written, by default).
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("entity IN ('contact', 'company', 'deal')", name="entity_valid"),
        CheckConstraint("format IN ('csv', 'xlsx')", name="format_valid"),
        CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'expired')", name="status_valid"
        ),
        CheckConstraint("delivery IN ('stream', 'file')", name="delivery_valid"),
        # "My recent exports", newest first.
        Index("ix_export_jobs_creator", "created_by_id", "id"),
        # The sweep: files past their expiry.
        Index("ix_export_jobs_expiry", "expires_at", postgresql_where=text("status = 'done'")),
    )

    @property
    def finished(self) -> bool:
        """Whether the job has stopped moving (done, failed or expired)."""
        return self.status not in UNFINISHED_STATUSES

    @property
    def percent(self) -> int:
        """Progress in whole percent (100 once done, 0 while the total is unknown)."""
        if self.status in ("done", "expired"):
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_written * 100 // self.rows_total)
