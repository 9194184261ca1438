"""Import jobs, their uploaded files, the rows they could not import, and the column
mappings a workspace used before (all tenant tables).

The uploaded file lives in the tenant's own schema (``import_file_chunks``, 1 MiB
pieces) rather than on a disk: web and worker processes may run on different machines
with no shared volume, the file is isolated and backed up with the tenant's other data,
and deleting the job deletes its file in the same transaction. A chunked table (not one
``bytea`` value, not a large object) because a 200 MB value would be read into memory
whole, and large objects live in ``pg_catalog``, outside the tenant's schema.
"""

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
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.contacts.models import Contact
from app.database import BigId, TenantBase, Timestamp

# What can be imported (the ``entity`` of a job and of a remembered mapping).
IMPORT_ENTITIES = ("contact", "company")
# uploaded: file read, mapping guessed; mapped: a mapping was given but not started;
# queued: allowance reserved, waiting for a worker; running; done; failed (a file or
# plan refusal at start, or an unexpected stop: resumable); cancelled.
IMPORT_STATUSES = ("uploaded", "mapped", "queued", "running", "done", "failed", "cancelled")
ACTIVE_STATUSES = ("queued", "running")
# What happens to a row that matches an existing record (or an earlier row).
DEDUP_POLICIES = ("skip", "update", "create")
# How a row is matched: by email (ignoring case), by the phone's digits, or by first and
# last name together with the company name (ignoring case).
MATCH_KEYS = ("email", "phone", "name_company")
FILE_KINDS = ("csv", "xlsx")
ROW_OUTCOMES = ("failed", "skipped")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class ImportJob(TenantBase):
    """One uploaded file on its way into the CRM, and its report."""

    __tablename__ = "import_jobs"

    id: Mapped[BigId]
    entity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="uploaded")
    # As uploaded, for people to recognise it; never used as a path.
    file_name: Mapped[str] = mapped_column(String(255))
    file_kind: Mapped[str] = mapped_column(String(4))
    file_size: Mapped[int] = mapped_column(BigInteger)
    # CSV only: the encoding and delimiter the file was read with.
    encoding: Mapped[str | None] = mapped_column(String(20))
    delimiter: Mapped[str | None] = mapped_column(String(1))
    # XLSX only: the worksheet read.
    sheet_name: Mapped[str | None] = mapped_column(String(100))
    # Things people should check in the preview (e.g. "read as Windows-1252").
    notices: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    headers: Mapped[list[str]] = mapped_column(JSONB)
    # sha256 of the normalised headers: finds the mapping used for the same columns.
    header_signature: Mapped[str] = mapped_column(String(64))
    # Data rows in the file (blank rows are not counted, nor imported).
    total_rows: Mapped[int] = mapped_column(Integer)
    # One target per column (None: ignored), in column order.
    mapping: Mapped[list[str | None]] = mapped_column(JSONB)
    dedup_policy: Mapped[str] = mapped_column(String(6), default="skip")
    match_on: Mapped[list[str]] = mapped_column(
        JSONB, default=lambda: ["email"], server_default=text("'[\"email\"]'::jsonb")
    )
    processed_rows: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    skipped_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    failed_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Plan allowance (contacts) taken at start and not used yet; given back at the end.
    reserved: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Why the job failed as a whole: {"code", "message", "details"}.
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The run that owns the job while it is running, and when it last showed life: a
    # redelivered task takes over only from a run that stopped beating.
    runner: Mapped[str | None] = mapped_column(String(36))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Platform user id of the member who uploaded it (no foreign key into ``public``).
    created_by_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=func.now())
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"status IN ({_in(IMPORT_STATUSES)})", name="status_valid"),
        CheckConstraint(f"entity IN ({_in(IMPORT_ENTITIES)})", name="entity_valid"),
        CheckConstraint(f"dedup_policy IN ({_in(DEDUP_POLICIES)})", name="policy_valid"),
        CheckConstraint(f"file_kind IN ({_in(FILE_KINDS)})", name="kind_valid"),
        Index("ix_import_jobs_created_by", "created_by_id", "id"),
    )

    @property
    def is_active(self) -> bool:
        """Queued or running: a worker has (or will have) it."""
        return self.status in ACTIVE_STATUSES

    @property
    def progress(self) -> int:
        """Processed rows in percent (0-100)."""
        if self.total_rows <= 0:
            return 100 if self.status == "done" else 0
        return min(100, self.processed_rows * 100 // self.total_rows)


class ImportFileChunk(TenantBase):
    """One piece of an uploaded file, in order (see the module docstring)."""

    __tablename__ = "import_file_chunks"

    job_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRowIssue(TenantBase):
    """A row that was not imported (failed) or left out on purpose (skipped), with the
    reason and the row's cells as read, for the downloadable report."""

    __tablename__ = "import_row_issues"

    id: Mapped[BigId]
    job_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("import_jobs.id", ondelete="CASCADE")
    )
    row_number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(7))
    reason: Mapped[str] = mapped_column(Text)
    cells: Mapped[list[Any]] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint(f"outcome IN ({_in(ROW_OUTCOMES)})", name="outcome_valid"),
        Index("ix_import_row_issues_job", "job_id", "row_number"),
    )


class ImportMapping(TenantBase):
    """The mapping a workspace last used for a set of column names, so that the next
    file with the same columns is mapped the same way."""

    __tablename__ = "import_mappings"

    id: Mapped[BigId]
    entity: Mapped[str] = mapped_column(String(10))
    header_signature: Mapped[str] = mapped_column(String(64))
    headers: Mapped[list[str]] = mapped_column(JSONB)
    mapping: Mapped[list[str | None]] = mapped_column(JSONB)
    updated_by_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=func.now())

    __table_args__ = (
        Index("uq_import_mappings_entity_signature", "entity", "header_signature", unique=True),
    )


# Matching a row by first and last name (ignoring case) must not read every contact of
# a workspace with a million of them once per chunk: the import's name match uses this.
Index(
    "ix_contacts_name_lower",
    func.lower(Contact.last_name),
    func.lower(Contact.first_name),
)
