"""search: trigram and full-text indexes

Revision ID: t0006
Revises: t0005
Create Date: 2026-11-23 15:30:00.000000

Contacts and companies get two stored generated columns, ``phone_digits`` (the phone
without its formatting) and ``search_text`` (one lower-case text of what the search box
matches), each with a GIN trigram index; deal titles get a trigram index directly. Names
and titles get B-tree indexes in byte order for "starts with". See app/search/ and
docs/search.md.

Cost: adding a stored generated column rewrites the table (ACCESS EXCLUSIVE lock for
the whole rewrite, and the GIN builds after it). Measured on the 1,000,000-contact
benchmark workspace: see docs/search.md ("Migration"). Small workspaces take
milliseconds; a very large one is best migrated in a quiet hour.

pg_trgm is in ``public`` (public migration p0004, which runs first), hence the
qualified operator class.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None

PHONE_DIGITS = "NULLIF(regexp_replace(phone, '[^0-9]', '', 'g'), '')"
SEARCH_TEXT = {
    "contacts": (
        "lower(first_name || ' ' || last_name || ' ' || coalesce(email, '') || ' ' "
        "|| coalesce(company_name, ''))"
    ),
    "companies": "lower(name || ' ' || coalesce(domain, ''))",
}
# B-trees in byte order ("C") for "starts with" (app.search.indexes.prefix_index).
PREFIX_INDEXES = (
    ("ix_contacts_name_prefix", "contacts", "((first_name || ' ') || last_name)"),
    ("ix_contacts_last_first_prefix", "contacts", "((last_name || ' ') || first_name)"),
    ("ix_companies_name_prefix", "companies", "name"),
    ("ix_deals_title_prefix", "deals", "title"),
    # Phone numbers by their end: a prefix of the reversed digits.
    ("ix_contacts_phone_suffix", "contacts", "reverse(phone_digits)"),
    ("ix_companies_phone_suffix", "companies", "reverse(phone_digits)"),
)
TRIGRAM_INDEXES = (
    ("ix_contacts_search_text", "contacts", "search_text"),
    ("ix_contacts_phone_digits", "contacts", "phone_digits"),
    ("ix_companies_search_text", "companies", "search_text"),
    ("ix_companies_phone_digits", "companies", "phone_digits"),
    ("ix_deals_title_trgm", "deals", "title"),
)


def upgrade() -> None:
    # GIN builds are much faster with room to sort in memory; for this transaction only.
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for table, search_text in SEARCH_TEXT.items():
        # Both columns in one ALTER TABLE: one rewrite of the table, not two.
        op.execute(
            f"ALTER TABLE {table} "
            f"ADD COLUMN phone_digits VARCHAR(40) GENERATED ALWAYS AS ({PHONE_DIGITS}) STORED, "
            f"ADD COLUMN search_text TEXT GENERATED ALWAYS AS ({search_text}) STORED NOT NULL"
        )
    for name, table, sql in PREFIX_INDEXES:
        op.create_index(name, table, [sa.text(f'lower({sql} COLLATE "C")')])
    for name, table, column in TRIGRAM_INDEXES:
        op.create_index(
            name,
            table,
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "public.gin_trgm_ops"},
        )


def downgrade() -> None:
    for name, table, _ in reversed(TRIGRAM_INDEXES + PREFIX_INDEXES):
        op.drop_index(name, table_name=table)
    for table in reversed(SEARCH_TEXT):
        op.execute(f"ALTER TABLE {table} DROP COLUMN search_text, DROP COLUMN phone_digits")
