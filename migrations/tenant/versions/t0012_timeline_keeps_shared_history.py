"""timeline: deleting one record keeps the history it shares

Revision ID: t0012
Revises: t0011
Create Date: 2026-11-23 16:20:00.000000

The history links of ``timeline_events`` were ``ON DELETE CASCADE``: deleting a contact
deleted the call logged with them from their deal's and company's history too. Now the
links are ``SET NULL`` and a trigger deletes an event once it belongs to no card. The
function and trigger text is the model's (``app.timeline.models.TIMELINE_DDL``), frozen
here as of this revision.
"""

from __future__ import annotations

from alembic import op

revision = "t0012"
down_revision = "t0011"
branch_labels = None
depends_on = None

_LINKS = (("contact_id", "contacts"), ("company_id", "companies"), ("deal_id", "deals"))

_FUNCTION = """CREATE FUNCTION timeline_forget_orphans() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'DELETE FROM ' || quote_ident(TG_TABLE_SCHEMA) || '.'
        || quote_ident(TG_TABLE_NAME) || ' WHERE id = $1' USING NEW.id;
    RETURN NULL;
END
$$"""

_TRIGGER = """CREATE TRIGGER timeline_forget_orphans
    AFTER UPDATE OF contact_id, company_id, deal_id ON timeline_events
    FOR EACH ROW
    WHEN (NEW.contact_id IS NULL AND NEW.company_id IS NULL AND NEW.deal_id IS NULL)
    EXECUTE FUNCTION timeline_forget_orphans()"""


def _relink(ondelete: str) -> None:
    for column, table in _LINKS:
        name = f"fk_timeline_events_{column}_{table}"
        op.drop_constraint(name, "timeline_events", type_="foreignkey")
        op.create_foreign_key(name, "timeline_events", table, [column], ["id"], ondelete=ondelete)


def upgrade() -> None:
    _relink("SET NULL")
    op.execute(_FUNCTION)
    op.execute(_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER timeline_forget_orphans ON timeline_events")
    op.execute("DROP FUNCTION timeline_forget_orphans()")
    _relink("CASCADE")
