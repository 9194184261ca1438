"""Saved segments and bulk edits (one table each per tenant schema).

A segment is a named list filter (the same query-string grammar as the list pages and
the API, see :mod:`app.lists.filters`), private to its owner or shared with everyone
who may view that kind of record. It stores the filter, never the matching ids: each
viewer sees what matches it *now*, within their own record scope.

A bulk edit records one "assign owner / add tag / remove tag / delete" over a selection,
so that a large one can run in a worker while the page polls its progress, and so that
who changed thousands of records at once stays visible afterwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, TenantBase, Timestamp

# The records lists, segments and bulk edits work on (the custom-field entities).
LIST_ENTITIES = ("contact", "company", "deal")
BULK_ACTIONS = ("assign_owner", "add_tag", "remove_tag", "delete")
BULK_STATUSES = ("queued", "running", "done", "failed")


class Segment(TenantBase):
    """A named filter of contacts, companies or deals."""

    __tablename__ = "segments"

    id: Mapped[BigId]
    entity: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    # The list's filter parameters, as parse_filters normalised them (a FilterSpec).
    filters: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # The list's ``sort`` parameter (None: the list's default order).
    sort: Mapped[str | None] = mapped_column(String(64))
    # Platform user id; no foreign key into ``public`` (see app.database).
    owner_id: Mapped[int] = mapped_column(BigInteger)
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=text("now()"))

    __table_args__ = (
        CheckConstraint("entity IN ('contact', 'company', 'deal')", name="entity_valid"),
        # One "Hot leads" per person and kind of record, whatever its case.
        Index(
            "uq_segments_owner_entity_name",
            "owner_id",
            "entity",
            text("lower(name)"),
            unique=True,
        ),
        # The segments menu of a list: shared ones of the entity, by name.
        Index("ix_segments_entity_shared", "entity", "shared"),
    )


class BulkEdit(TenantBase):
    """One bulk action over a selection of records, and how far it got."""

    __tablename__ = "bulk_edits"

    id: Mapped[BigId]
    entity: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(20))
    # {"owner_id": N} or {"tag": "..."}; {} for delete.
    params: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # {"ids": [...]} or {"filters": FilterSpec, "segment_id": N | None}.
    selection: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    status: Mapped[str] = mapped_column(String(10), default="queued", server_default="queued")
    # Records selected (visible to the actor) when the edit started.
    total: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Of those: looked at so far; changed; already as asked (or, adding a tag, already
    # holding the most tags a record may have); outside the actor's scope for the action.
    processed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    changed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    unchanged: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    not_allowed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The highest record id done: a worker that restarts the edit goes on from there.
    last_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    # Platform user id of the member who asked for it (only they follow its progress).
    created_by_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[Timestamp]
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("entity IN ('contact', 'company', 'deal')", name="entity_valid"),
        CheckConstraint(
            "action IN ('assign_owner', 'add_tag', 'remove_tag', 'delete')", name="action_valid"
        ),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_valid"),
    )
