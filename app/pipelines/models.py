"""Pipeline and stage tables (one set per tenant schema)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import BigId, TenantBase, Timestamp

STAGE_KINDS = ("open", "won", "lost")


class Pipeline(TenantBase):
    """A named sales funnel with ordered stages."""

    __tablename__ = "pipelines"

    id: Mapped[BigId]
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(default=False, server_default="false")
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
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
    created_at: Mapped[Timestamp]

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages")

    __table_args__ = (
        UniqueConstraint("pipeline_id", "position", deferrable=True, initially="DEFERRED"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_range"),
        CheckConstraint("kind IN ('open', 'won', 'lost')", name="kind_valid"),
    )
