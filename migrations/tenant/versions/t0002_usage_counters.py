"""usage counters

Revision ID: t0002
Revises: t0001
Create Date: 2026-11-23 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("used", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("used >= 0", name=op.f("ck_usage_counters_used_not_negative")),
        sa.PrimaryKeyConstraint("resource", name=op.f("pk_usage_counters")),
    )
    # Start every counter at the real count, so that limits hold from the first request
    # after the migration. Seats are the tenant's active memberships (public), found
    # through the schema being migrated; a schema no tenant owns counts none.
    op.execute(
        """
        INSERT INTO usage_counters (resource, used)
        SELECT 'contacts', count(*) FROM contacts
        UNION ALL
        SELECT 'seats', count(*)
          FROM public.memberships m JOIN public.tenants t ON t.id = m.tenant_id
         WHERE t.schema_name = current_schema() AND m.is_active
        UNION ALL
        SELECT 'pipelines', count(*) FROM pipelines
        UNION ALL
        SELECT 'custom_fields', 0
        """
    )


def downgrade() -> None:
    op.drop_table("usage_counters")
