"""Deal table (one per tenant schema)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.crm_types import CustomValues, Tags
from app.database import BigId, TenantBase, Timestamp
from app.search.indexes import prefix_index, trigram_index

DEAL_STATUSES = ("open", "won", "lost")


class Deal(TenantBase):
    """An opportunity: an amount, a stage in a pipeline, and the people it is with.

    ``amount_minor`` is in the currency's minor units (cents, or whole units for
    currencies without them), so sums are exact. ``status`` mirrors the kind of the
    current stage and is kept with it by the services, so that lists and reports can
    filter open/won/lost deals without a join.
    """

    __tablename__ = "deals"

    id: Mapped[BigId]
    title: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")
    pipeline_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("pipelines.id", ondelete="RESTRICT")
    )
    stage_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("stages.id", ondelete="RESTRICT"), index=True
    )
    # None: the stage's probability applies.
    probability: Mapped[int | None] = mapped_column(SmallInteger)
    expected_close_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default="open", server_default="open")
    stage_entered_at: Mapped[Timestamp]
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    won_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    lost_reason: Mapped[str | None] = mapped_column(String(200))
    lost_to_competitor: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    company_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    # Platform user ids; no foreign keys into ``public`` (see app.database).
    owner_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    tags: Mapped[Tags]
    custom_fields: Mapped[CustomValues]
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=text("now()"))

    __table_args__ = (
        CheckConstraint("status IN ('open', 'won', 'lost')", name="status_valid"),
        CheckConstraint("probability IS NULL OR probability BETWEEN 0 AND 100", name="prob"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_code"),
        # The board: a pipeline's deals per stage, newest first.
        Index("ix_deals_pipeline_stage", "pipeline_id", "stage_id", "id"),
        # The reports (app.reports): a pipeline's deals created, or closed, in a period.
        Index("ix_deals_pipeline_created_at", "pipeline_id", "created_at"),
        Index("ix_deals_pipeline_closed_at", "pipeline_id", "closed_at"),
        Index("ix_deals_tags", "tags", postgresql_using="gin"),
        # Search (app.search): titles by prefix, by substring and by similarity (typos).
        prefix_index("ix_deals_title_prefix", "title"),
        trigram_index("ix_deals_title_trgm", "title"),
    )
