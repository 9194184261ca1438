"""tenant plan version and limit overrides

Revision ID: p0002
Revises: p0001
Create Date: 2026-11-23 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "p0002"
down_revision = "p0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Constant defaults: PostgreSQL adds both columns without rewriting the table, and
    # every existing tenant is on version 1 of its plan, with no overrides.
    op.add_column(
        "tenants",
        sa.Column("plan_version", sa.Integer(), server_default="1", nullable=False),
        schema="public",
    )
    op.add_column(
        "tenants",
        sa.Column(
            "limit_overrides",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        schema="public",
    )


def downgrade() -> None:
    op.drop_column("tenants", "limit_overrides", schema="public")
    op.drop_column("tenants", "plan_version", schema="public")
