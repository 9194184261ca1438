"""pg_trgm for typo-tolerant search

Revision ID: p0004
Revises: p0003
Create Date: 2026-11-23 15:30:00.000000

The extension is installed once per database, in ``public``, before any tenant schema
uses it (public migrations run first, and provisioning needs the public head). Tenant
transactions see only their own schema (``SET LOCAL search_path`` names nothing else),
so every use of it is schema-qualified: ``public.gin_trgm_ops`` in index definitions,
``OPERATOR(public.<%)`` and ``public.word_similarity(...)`` in queries. pg_trgm is a
trusted extension (PostgreSQL 13+): the database owner may create it without being a
superuser.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "p0004"
down_revision = "p0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    # "IF NOT EXISTS" is satisfied by an installation in another schema, where the
    # qualified names of the tenant indexes would not find it: say so now rather than
    # fail in the middle of the tenant migrations.
    schema = (
        op.get_bind()
        .execute(
            text(
                "SELECT n.nspname FROM pg_extension e "
                "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
            )
        )
        .scalar_one()
    )
    if schema != "public":
        raise RuntimeError(
            f"pg_trgm is installed in schema {schema!r}; the CRM needs it in 'public' "
            "(ALTER EXTENSION pg_trgm SET SCHEMA public, if nothing else depends on it there)"
        )


def downgrade() -> None:
    # Refused by PostgreSQL (no CASCADE) while a tenant schema still has a trigram
    # index: downgrade the tenants first.
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
