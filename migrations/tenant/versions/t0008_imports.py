"""import jobs and remembered column mappings

Revision ID: t0008
Revises: t0007
Create Date: 2026-11-23 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0008"
down_revision = "t0007"
branch_labels = None
depends_on = None


def _timestamp(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_kind", sa.String(length=4), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=True),
        sa.Column("delimiter", sa.String(length=1), nullable=True),
        sa.Column("sheet_name", sa.String(length=100), nullable=True),
        sa.Column(
            "notices",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("header_signature", sa.String(length=64), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dedup_policy", sa.String(length=6), nullable=False),
        sa.Column(
            "match_on",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[\"email\"]'::jsonb"),
            nullable=False,
        ),
        sa.Column("processed_rows", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("skipped_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reserved", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("runner", sa.String(length=36), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.BigInteger(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('uploaded', 'mapped', 'queued', 'running', 'done', 'failed', 'cancelled')",
            name=op.f("ck_import_jobs_status_valid"),
        ),
        sa.CheckConstraint(
            "entity IN ('contact', 'company')", name=op.f("ck_import_jobs_entity_valid")
        ),
        sa.CheckConstraint(
            "dedup_policy IN ('skip', 'update', 'create')",
            name=op.f("ck_import_jobs_policy_valid"),
        ),
        sa.CheckConstraint("file_kind IN ('csv', 'xlsx')", name=op.f("ck_import_jobs_kind_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(
        "ix_import_jobs_created_by", "import_jobs", ["created_by_id", "id"], unique=False
    )
    op.create_table(
        "import_file_chunks",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_file_chunks_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_import_file_chunks")),
    )
    op.create_table(
        "import_row_issues",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=7), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("cells", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('failed', 'skipped')", name=op.f("ck_import_row_issues_outcome_valid")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_row_issues_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_row_issues")),
    )
    op.create_index(
        "ix_import_row_issues_job", "import_row_issues", ["job_id", "row_number"], unique=False
    )
    op.create_table(
        "import_mappings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entity", sa.String(length=10), nullable=False),
        sa.Column("header_signature", sa.String(length=64), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_by_id", sa.BigInteger(), nullable=True),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mappings")),
    )
    op.create_index(
        "uq_import_mappings_entity_signature",
        "import_mappings",
        ["entity", "header_signature"],
        unique=True,
    )
    op.create_index(
        "ix_contacts_name_lower",
        "contacts",
        [sa.literal_column("lower(last_name::text)"), sa.literal_column("lower(first_name::text)")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_name_lower", table_name="contacts")
    op.drop_index("uq_import_mappings_entity_signature", table_name="import_mappings")
    op.drop_table("import_mappings")
    op.drop_index("ix_import_row_issues_job", table_name="import_row_issues")
    op.drop_table("import_row_issues")
    op.drop_table("import_file_chunks")
    op.drop_index("ix_import_jobs_created_by", table_name="import_jobs")
    op.drop_table("import_jobs")
