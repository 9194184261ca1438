"""Pipeline and stage tables (one set per tenant schema)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import BigId, TenantBase, Timestamp

STAGE_KINDS = ("open", "won", "lost")
# Stage colours are names from a fixed palette, not free #rrggbb values: the stylesheet
# maps each to a swatch that stays readable in light and dark themes and with any text,
# and a name can never smuggle CSS into a style attribute.
STAGE_COLORS = ("gray", "blue", "teal", "green", "yellow", "orange", "red", "purple", "pink")
ROTTING_DAYS_MAX = 365


class Pipeline(TenantBase):
    """A named sales funnel with ordered stages."""

    __tablename__ = "pipelines"

    id: Mapped[BigId]
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(default=False, server_default="false")
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # Bumped by every change to the stages, so that a reorder made from a stale view of
    # the board (two admins at once) is refused instead of silently mixing both orders.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[Timestamp]

    stages: Mapped[list[Stage]] = relationship(
        back_populates="pipeline", order_by="Stage.position", cascade="all, delete-orphan"
    )


class Stage(TenantBase):
    """One step of a pipeline, with its win probability and kind."""

    __tablename__ = "stages"

    id: Mapped[BigId]
    pipeline_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(SmallInteger)
    probability: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(String(8), default="open", server_default="open")
    color: Mapped[str] = mapped_column(String(12), default="gray", server_default="gray")
    # A deal idle in this stage for longer is flagged as rotting; None: never.
    rotting_days: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[Timestamp]

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages")

    __table_args__ = (
        UniqueConstraint("pipeline_id", "position", deferrable=True, initially="DEFERRED"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_range"),
        CheckConstraint("kind IN ('open', 'won', 'lost')", name="kind_valid"),
        CheckConstraint(
            "color IN ('gray', 'blue', 'teal', 'green', 'yellow', 'orange', 'red', "
            "'purple', 'pink')",
            name="color_valid",
        ),
        CheckConstraint(
            "rotting_days IS NULL OR rotting_days BETWEEN 1 AND 365", name="rotting_days_range"
        ),
    )
