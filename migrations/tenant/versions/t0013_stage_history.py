"""stage history and loss reasons

Revision ID: t0013
Revises: t0012
Create Date: 2026-11-23 16:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0013"
down_revision = "t0012"
branch_labels = None
depends_on = None

# The list existing workspaces start with (new ones get app.board.loss_reasons'
# DEFAULT_LOSS_REASONS at provisioning; kept literal here so that this migration does
# not change when the code's defaults do).
DEFAULT_LOSS_REASONS = (
    "Price too high",
    "Chose a competitor",
    "No budget",
    "No decision / went silent",
    "Bad timing",
    "Missing features",
    "Not a fit",
)


def upgrade() -> None:
    # Expand only: new tables. Past moves are not backfilled (the timeline's
    # "stage_changed" events hold them for people; reports start from this release).
    op.create_table(
        "deal_stage_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("pipeline_id", sa.BigInteger(), nullable=False),
        sa.Column("from_stage_id", sa.BigInteger(), nullable=True),
        sa.Column("to_stage_id", sa.BigInteger(), nullable=False),
        sa.Column("moved_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "moved_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("seconds_in_from_stage", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_deal_stage_history_deal_id_deals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_stage_history")),
    )
    op.create_index(
        "ix_deal_stage_history_deal", "deal_stage_history", ["deal_id", "moved_at"], unique=False
    )
    op.create_index(
        "ix_deal_stage_history_pipeline_moved_at",
        "deal_stage_history",
        ["pipeline_id", "moved_at"],
        unique=False,
    )
    loss_reasons = op.create_table(
        "loss_reasons",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loss_reasons")),
    )
    op.create_index("uq_loss_reasons_name", "loss_reasons", [sa.text("lower(name)")], unique=True)
    op.create_index("ix_loss_reasons_position", "loss_reasons", ["position", "id"], unique=False)
    op.bulk_insert(
        loss_reasons,
        [{"name": name, "position": pos} for pos, name in enumerate(DEFAULT_LOSS_REASONS)],
    )


def downgrade() -> None:
    op.drop_index("ix_loss_reasons_position", table_name="loss_reasons")
    op.drop_index("uq_loss_reasons_name", table_name="loss_reasons")
    op.drop_table("loss_reasons")
    op.drop_index("ix_deal_stage_history_pipeline_moved_at", table_name="deal_stage_history")
    op.drop_index("ix_deal_stage_history_deal", table_name="deal_stage_history")
    op.drop_table("deal_stage_history")
