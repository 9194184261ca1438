"""stage colour and rotting time, pipeline version

Revision ID: t0011
Revises: t0010
Create Date: 2026-11-23 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0011"
down_revision = "t0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Expand only: every new column has a server default or is nullable, so running code
    # that does not know them keeps working while tenants are migrated.
    op.add_column(
        "stages", sa.Column("color", sa.String(length=12), server_default="gray", nullable=False)
    )
    op.add_column("stages", sa.Column("rotting_days", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_stages_color_valid"),
        "stages",
        "color IN ('gray', 'blue', 'teal', 'green', 'yellow', 'orange', 'red', 'purple', 'pink')",
    )
    op.create_check_constraint(
        op.f("ck_stages_rotting_days_range"),
        "stages",
        "rotting_days IS NULL OR rotting_days BETWEEN 1 AND 365",
    )
    op.add_column(
        "pipelines", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("pipelines", "version")
    op.drop_constraint(op.f("ck_stages_rotting_days_range"), "stages", type_="check")
    op.drop_constraint(op.f("ck_stages_color_valid"), "stages", type_="check")
    op.drop_column("stages", "rotting_days")
    op.drop_column("stages", "color")
