"""Identity tables (public schema): one identity per person across workspaces."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, UniqueConstraint, func
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
