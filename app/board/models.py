"""Stage history and loss reasons (one table each per tenant schema).

``deal_stage_history`` is append-only: one row per stage move, written in the same
transaction as the move (by :mod:`app.board.history`), so that the funnel reports can
answer "how long do deals sit in each stage" and "where do they drop off" from rows,
not from a timeline's JSON. A deal's first row (``from_stage_id`` NULL) is its entry
into the funnel. Stage and pipeline ids are kept without foreign keys: deleting a stage
must not delete (or block on) the history that says deals once went through it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, TenantBase, Timestamp

LOSS_REASON_NAME_MAX = 200


class DealStageHistory(TenantBase):
    """One stage move of one deal: from where, to where, who, when, and how long the
    deal had been in the stage it left."""

    __tablename__ = "deal_stage_history"

    id: Mapped[BigId]
    deal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("deals.id", ondelete="CASCADE"))
    # The pipeline of the stage moved to (a move across pipelines counts for the new one).
    pipeline_id: Mapped[int] = mapped_column(BigInteger)
    # None: the deal was created in ``to_stage_id``.
    from_stage_id: Mapped[int | None] = mapped_column(BigInteger)
    to_stage_id: Mapped[int] = mapped_column(BigInteger)
    # Platform user id (no foreign key into ``public``); None for system moves.
    moved_by: Mapped[int | None] = mapped_column(BigInteger)
    moved_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Time spent in ``from_stage_id`` (None for the entry row).
    seconds_in_from_stage: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        # A deal's history, in order (the card, and the cascade on delete).
        Index("ix_deal_stage_history_deal", "deal_id", "moved_at"),
        # The funnel reports: one pipeline over a period.
        Index("ix_deal_stage_history_pipeline_moved_at", "pipeline_id", "moved_at"),
    )


class LossReason(TenantBase):
    """One entry of the workspace's list of reasons why deals are lost.

    A lost deal stores the reason's text (``Deal.lost_reason``), not this row's id: a
    reason renamed or retired later does not rewrite why past deals were lost, and a
    reason typed by hand (free text is allowed) needs no row.
    """

    __tablename__ = "loss_reasons"

    id: Mapped[BigId]
    name: Mapped[str] = mapped_column(String(LOSS_REASON_NAME_MAX))
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # Retired reasons stay for history but are no longer offered.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[Timestamp]

    __table_args__ = (
        Index("uq_loss_reasons_name", text("lower(name)"), unique=True),
        Index("ix_loss_reasons_position", "position", "id"),
    )
