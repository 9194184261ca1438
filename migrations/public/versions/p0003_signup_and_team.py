"""signup, invitations, account tokens, throttles, outbox

Revision ID: p0003
Revises: p0002
Create Date: 2026-11-23 12:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "p0003"
down_revision = "p0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "window_started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
        schema="public",
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        schema="public",
    )
    op.create_index(
        op.f("ix_mail_outbox_to_address"),
        "mail_outbox",
        ["to_address"],
        unique=False,
        schema="public",
    )
    op.create_table(
        "account_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "verify_email",
                "reset_password",
                "change_email",
                "login_handoff",
                name="account_token_purpose",
                schema="public",
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["public.tenants.id"],
            name=op.f("fk_account_tokens_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["public.users.id"],
            name=op.f("fk_account_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_tokens_token_hash")),
        schema="public",
    )
    op.create_index(
        op.f("ix_account_tokens_user_id"),
        "account_tokens",
        ["user_id"],
        unique=False,
        schema="public",
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("invited_by_id", sa.BigInteger(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "last_sent_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("send_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_user_id", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["accepted_user_id"],
            ["public.users.id"],
            name=op.f("fk_invitations_accepted_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["public.users.id"],
            name=op.f("fk_invitations_invited_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["public.tenants.id"],
            name=op.f("fk_invitations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
        schema="public",
    )
    op.create_index(
        op.f("ix_invitations_tenant_id"),
        "invitations",
        ["tenant_id"],
        unique=False,
        schema="public",
    )
    op.create_index(
        "uq_invitations_pending_email",
        "invitations",
        ["tenant_id", sa.literal_column("lower(email)")],
        unique=True,
        schema="public",
        postgresql_where=sa.text("accepted_at IS NULL AND revoked_at IS NULL"),
    )
    op.create_table(
        "signups",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "provisioning", "ready", "failed", name="signup_status", schema="public"
            ),
            nullable=False,
        ),
        sa.Column("company_name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("plan", sa.String(length=40), nullable=False),
        sa.Column("trial", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("tenant_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["public.tenants.id"],
            name=op.f("fk_signups_tenant_id_tenants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["public.users.id"],
            name=op.f("fk_signups_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signups")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_signups_token_hash")),
        schema="public",
    )
    op.create_index(
        "ix_signups_ip_created",
        "signups",
        ["ip_address", "created_at"],
        unique=False,
        schema="public",
    )
    op.create_index(
        "uq_signups_open_slug",
        "signups",
        [sa.literal_column("lower(slug)")],
        unique=True,
        schema="public",
        postgresql_where=sa.text("status IN ('pending', 'provisioning')"),
    )
    op.add_column(
        "memberships",
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        schema="public",
    )
    op.add_column(
        "tenants",
        sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True),
        schema="public",
    )
    op.add_column(
        "tenants",
        sa.Column("require_two_factor", sa.Boolean(), server_default="false", nullable=False),
        schema="public",
    )
    op.add_column(
        "users",
        sa.Column(
            "security_stamp",
            sa.String(length=32),
            server_default=sa.text("substr(md5((random())::text), 1, 16)"),
            nullable=False,
        ),
        schema="public",
    )
    op.add_column(
        "users",
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        schema="public",
    )
    op.add_column(
        "users", sa.Column("locale", sa.String(length=16), nullable=True), schema="public"
    )
    op.add_column(
        "users", sa.Column("timezone", sa.String(length=64), nullable=True), schema="public"
    )
    op.add_column(
        "users", sa.Column("totp_secret", sa.String(length=64), nullable=True), schema="public"
    )
    op.add_column(
        "users",
        sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True),
        schema="public",
    )
    op.add_column(
        "users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True), schema="public"
    )
    op.add_column(
        "users",
        sa.Column(
            "recovery_code_hashes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        schema="public",
    )


def downgrade() -> None:
    op.drop_column("users", "recovery_code_hashes", schema="public")
    op.drop_column("users", "totp_last_step", schema="public")
    op.drop_column("users", "totp_enabled_at", schema="public")
    op.drop_column("users", "totp_secret", schema="public")
    op.drop_column("users", "timezone", schema="public")
    op.drop_column("users", "locale", schema="public")
    op.drop_column("users", "password_changed_at", schema="public")
    op.drop_column("users", "security_stamp", schema="public")
    op.drop_column("tenants", "require_two_factor", schema="public")
    op.drop_column("tenants", "trial_ends_at", schema="public")
    op.drop_column("memberships", "deactivated_at", schema="public")
    op.drop_table("signups", schema="public")
    op.drop_table("invitations", schema="public")
    op.drop_table("account_tokens", schema="public")
    op.drop_table("mail_outbox", schema="public")
    op.drop_table("login_throttles", schema="public")
    sa.Enum(name="signup_status", schema="public").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="account_token_purpose", schema="public").drop(op.get_bind(), checkfirst=True)
