"""export jobs

Revision ID: t0010
Revises: t0009
Create Date: 2026-11-23 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0010"
down_revision = "t0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entity", sa.String(length=10), nullable=False),
        sa.Column("format", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("delivery", sa.String(length=6), server_default="file", nullable=False),
        sa.Column(
            "filters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("segment_id", sa.BigInteger(), nullable=True),
        sa.Column("segment_name", sa.String(length=200), nullable=True),
        sa.Column("created_by_id", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("rows_written", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_key", sa.String(length=32), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "entity IN ('contact', 'company', 'deal')", name=op.f("ck_export_jobs_entity_valid")
        ),
        sa.CheckConstraint("format IN ('csv', 'xlsx')", name=op.f("ck_export_jobs_format_valid")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'expired')",
            name=op.f("ck_export_jobs_status_valid"),
        ),
        sa.CheckConstraint(
            "delivery IN ('stream', 'file')", name=op.f("ck_export_jobs_delivery_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    op.create_index("ix_export_jobs_creator", "export_jobs", ["created_by_id", "id"])
    op.create_index(
        "ix_export_jobs_expiry",
        "export_jobs",
        ["expires_at"],
        postgresql_where=sa.text("status = 'done'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_export_jobs_expiry",
        table_name="export_jobs",
        postgresql_where=sa.text("status = 'done'"),
    )
    op.drop_index("ix_export_jobs_creator", table_name="export_jobs")
    op.drop_table("export_jobs")
