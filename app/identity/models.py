"""Identity tables (public schema): one identity per person across workspaces."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import BigId, PublicBase, Timestamp
from tenants.models import Tenant


class User(PublicBase):
    """A person. The same identity may belong to several workspaces."""

    __tablename__ = "users"

    id: Mapped[BigId]
    # Stored lower-cased by the services; unique on lower() for safety.
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Changes whenever the password does (or a user ends all sessions): session ids
    # embed it, so every cookie and "remember me" token minted before stops working.
    security_stamp: Mapped[str] = mapped_column(
        String(32), server_default=text("substr(md5((random())::text), 1, 16)")
    )
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Profile: None means "the workspace's default" (language) or UTC (time zone).
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # TOTP two-factor: the base32 secret, set at enrolment and confirmed by a first code
    # (``totp_enabled_at``); recovery codes are kept as SHA-256 hashes, each used once.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The last accepted TOTP time step: a code can not be replayed within its window.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    recovery_code_hashes: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    created_at: Mapped[Timestamp]

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email!r}>"


class Membership(PublicBase):
    """A user's seat in one workspace, with the name of their role there."""

    __tablename__ = "memberships"

    id: Mapped[BigId]
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("public.users.id", ondelete="CASCADE")
    )
    tenant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("public.tenants.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[Timestamp]

    user: Mapped[User] = relationship(back_populates="memberships")
    tenant: Mapped[Tenant] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "tenant_id"),)


class ApiToken(PublicBase):
    """A bearer token for one user in one tenant. Only its SHA-256 is stored.

    It lives in ``public`` because a request's token must identify its tenant before
    any tenant schema can be chosen.
    """

    __tablename__ = "api_tokens"

    id: Mapped[BigId]
    tenant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("public.tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("public.users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # First characters of the token, shown in lists so people can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[Timestamp]
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()
    tenant: Mapped[Tenant] = relationship()


class Invitation(PublicBase):
    """An invitation to join a workspace with a role; it holds a seat while pending.

    Pending means neither accepted, revoked nor expired-and-swept. Only the token's
    SHA-256 is stored; resending issues a new token and a new expiry.
    """

    __tablename__ = "invitations"

    id: Mapped[BigId]
    tenant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("public.tenants.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(64))
    invited_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("public.users.id", ondelete="SET NULL")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[Timestamp]
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_sent_at: Mapped[Timestamp]
    send_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("public.users.id", ondelete="SET NULL")
    )
    # Set when an admin revokes it, or when the nightly sweep retires an expired one.
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])
    tenant: Mapped[Tenant] = relationship()

    __table_args__ = (
        # One pending invitation per address and workspace: a double submit or a second
        # admin inviting the same person is answered "already invited".
        Index(
            "uq_invitations_pending_email",
            "tenant_id",
            func.lower(email),
            unique=True,
            postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
        ),
    )

    @property
    def is_pending(self) -> bool:
        """Neither accepted nor revoked (it may still have expired)."""
        return self.accepted_at is None and self.revoked_at is None


class AccountTokenPurpose(enum.StrEnum):
    """What a one-time account token is good for."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a secret
    CHANGE_EMAIL = "change_email"
    LOGIN_HANDOFF = "login_handoff"


class AccountToken(PublicBase):
    """A single-use, short-lived token sent to a person (mail link, post-signup login).

    Only its SHA-256 is stored. Consuming it is one conditional UPDATE (unused, not
    expired, right purpose), so two clicks on the same link can not both succeed.
    """

    __tablename__ = "account_tokens"

    id: Mapped[BigId]
    purpose: Mapped[AccountTokenPurpose] = mapped_column(
        Enum(
            AccountTokenPurpose,
            name="account_token_purpose",
            values_callable=lambda e: [m.value for m in e],
        )
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("public.users.id", ondelete="CASCADE"), index=True
    )
    # The workspace the link leads back to (None for links not tied to one).
    tenant_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("public.tenants.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Purpose-specific data, e.g. the new address of an email change.
    payload: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[Timestamp]
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class LoginThrottle(PublicBase):
    """Failed sign-ins counted per key (``email:<address>`` or ``ip:<address>``).

    Lives in PostgreSQL, not Redis, so that throttling holds with no Redis at all (the
    embedded set-up) and across every web process.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    window_started_at: Mapped[Timestamp]
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
