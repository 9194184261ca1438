"""Single-use account tokens: the secrets in mail links and the post-signup login.

A token is 32 random bytes shown once (in a link); only its SHA-256 is stored.
:func:`consume` is one conditional ``UPDATE ... RETURNING``: of two requests racing
with the same link, exactly one gets the row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import func, select, update

from app.database import DbSession, utcnow
from app.identity.models import AccountToken, AccountTokenPurpose

# How long each kind of link stays good.
LIFETIMES: dict[AccountTokenPurpose, dt.timedelta] = {
    AccountTokenPurpose.VERIFY_EMAIL: dt.timedelta(days=3),
    AccountTokenPurpose.RESET_PASSWORD: dt.timedelta(hours=1),
    AccountTokenPurpose.CHANGE_EMAIL: dt.timedelta(days=1),
    # Only bridges the redirect from the apex host to the new workspace.
    AccountTokenPurpose.LOGIN_HANDOFF: dt.timedelta(minutes=2),
}


def hash_secret(raw: str) -> str:
    """The stored form of a token secret."""
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(
    session: DbSession,
    purpose: AccountTokenPurpose,
    *,
    user_id: int,
    tenant_id: int | None = None,
    payload: dict[str, Any] | None = None,
    lifetime: dt.timedelta | None = None,
) -> str:
    """Add a token to the caller's transaction and return its secret (shown once)."""
    secret = secrets.token_urlsafe(32)
    session.add(
        AccountToken(
            purpose=purpose,
            user_id=user_id,
            tenant_id=tenant_id,
            token_hash=hash_secret(secret),
            payload=payload or {},
            expires_at=utcnow() + (lifetime or LIFETIMES[purpose]),
        )
    )
    session.flush()
    return secret


def peek(session: DbSession, purpose: AccountTokenPurpose, raw: str) -> AccountToken | None:
    """The live (unused, unexpired) token for ``raw``, without using it up: for pages
    that show a form before the link is spent."""
    if not raw or len(raw) > 200:
        return None
    return session.scalars(
        select(AccountToken).where(
            AccountToken.token_hash == hash_secret(raw),
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > func.now(),
        )
    ).first()


def consume(session: DbSession, purpose: AccountTokenPurpose, raw: str) -> AccountToken | None:
    """Spend the token for ``raw`` in the caller's transaction; None if it is unknown,
    used, expired or for another purpose (the caller answers all four alike)."""
    if not raw or len(raw) > 200:
        return None
    token_id = session.execute(
        update(AccountToken)
        .where(
            AccountToken.token_hash == hash_secret(raw),
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > func.now(),
        )
        .values(used_at=func.now())
        .returning(AccountToken.id)
    ).scalar_one_or_none()
    if token_id is None:
        return None
    return session.get(AccountToken, token_id, populate_existing=True)


def revoke_all(session: DbSession, user_id: int, *purposes: AccountTokenPurpose) -> None:
    """Spend every outstanding token of ``user_id`` (of ``purposes``, or all): after a
    password change no older reset or login link may still work."""
    stmt = update(AccountToken).where(
        AccountToken.user_id == user_id, AccountToken.used_at.is_(None)
    )
    if purposes:
        stmt = stmt.where(AccountToken.purpose.in_(purposes))
    session.execute(stmt.values(used_at=func.now()))
