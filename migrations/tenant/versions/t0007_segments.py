"""saved segments and last contact time

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-23 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None

# What counts as contact with a client (app.lists.last_contact.CONTACT_TYPES).
_BACKFILL = """
    UPDATE {table} AS r
    SET last_contacted_at = a.latest
    FROM (
        SELECT {link} AS record_id, max(occurred_at) AS latest
        FROM activities
        WHERE {link} IS NOT NULL AND type IN ('call', 'meeting', 'email')
        GROUP BY {link}
    ) AS a
    WHERE r.id = a.record_id
"""


def upgrade() -> None:
    for table, link in (("contacts", "contact_id"), ("companies", "company_id")):
        op.add_column(
            table, sa.Column("last_contacted_at", sa.DateTime(timezone=True), nullable=True)
        )
        # One pass over the activities per table (not one query per record); the
        # column is new, so nothing else writes it while this runs.
        op.execute(_BACKFILL.format(table=table, link=link))
        op.create_index(
            op.f(f"ix_{table}_last_contacted_at"), table, ["last_contacted_at"], unique=False
        )

    op.create_table(
        "segments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entity", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "filters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("sort", sa.String(length=64), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("shared", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "entity IN ('contact', 'company', 'deal')", name=op.f("ck_segments_entity_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
    )
    op.create_index(
        "uq_segments_owner_entity_name",
        "segments",
        ["owner_id", "entity", sa.literal_column("lower(name)")],
        unique=True,
    )
    op.create_index("ix_segments_entity_shared", "segments", ["entity", "shared"], unique=False)

    op.create_table(
        "bulk_edits",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entity", sa.String(length=10), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "selection",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("processed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("changed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("not_allowed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "action IN ('assign_owner', 'add_tag', 'remove_tag', 'delete')",
            name=op.f("ck_bulk_edits_action_valid"),
        ),
        sa.CheckConstraint(
            "entity IN ('contact', 'company', 'deal')", name=op.f("ck_bulk_edits_entity_valid")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_bulk_edits_status_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_edits")),
    )


def downgrade() -> None:
    op.drop_table("bulk_edits")
    op.drop_index("ix_segments_entity_shared", table_name="segments")
    op.drop_index("uq_segments_owner_entity_name", table_name="segments")
    op.drop_table("segments")
    for table in ("companies", "contacts"):
        op.drop_index(op.f(f"ix_{table}_last_contacted_at"), table_name=table)
        op.drop_column(table, "last_contacted_at")
