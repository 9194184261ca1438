"""Failed sign-in counting and lockouts, kept in ``public.login_throttles``.

Two kinds of key: ``email:<address>`` (one person, whichever workspace they try) and
``ip:<address>`` (one client, whichever accounts it tries). Each failure is one atomic
upsert, so concurrent attempts from several web processes can not under-count, and the
table works with no Redis at all. An address that is not anyone's account is counted
exactly like one that is: the answer must not tell them apart.

Functions here add statements to the caller's transaction; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, select, text

from app.database import DbSession
from app.identity.models import LoginThrottle

# Keys are stored verbatim; anything longer than the column is cut, never refused.
_MAX_KEY = 300

_RECORD_FAILURE = text(
    """
    INSERT INTO public.login_throttles AS t (key, failures, window_started_at, locked_until)
    VALUES (
        :key, 1, now(),
        CASE WHEN :limit <= 1 THEN now() + make_interval(secs => :lockout) END
    )
    ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN t.window_started_at <= now() - make_interval(secs => :window)
                          OR t.locked_until <= now()
                        THEN 1 ELSE t.failures + 1 END,
        window_started_at = CASE
            WHEN t.window_started_at <= now() - make_interval(secs => :window)
              OR t.locked_until <= now()
            THEN now() ELSE t.window_started_at END,
        locked_until = CASE
            WHEN t.window_started_at <= now() - make_interval(secs => :window)
              OR t.locked_until <= now()
            THEN CASE WHEN :limit <= 1 THEN now() + make_interval(secs => :lockout) END
            WHEN t.failures + 1 >= :limit
            THEN greatest(coalesce(t.locked_until, now()), now() + make_interval(secs => :lockout))
            ELSE t.locked_until END
    RETURNING locked_until
    """
)


@dataclass(frozen=True, slots=True)
class Limits:
    """How many failures lock a key, within which window, and for how long."""

    per_account: int
    per_ip: int
    window_seconds: int
    lockout_seconds: int

    @classmethod
    def from_config(cls) -> Limits:
        """The limits configured for this application (``LOGIN_*`` settings)."""
        config = current_app.config
        return cls(
            per_account=int(config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
            per_ip=int(config["LOGIN_MAX_FAILURES_PER_IP"]),
            window_seconds=int(config["LOGIN_FAILURE_WINDOW_SECONDS"]),
            lockout_seconds=int(config["LOGIN_LOCKOUT_SECONDS"]),
        )


def account_key(email: str) -> str:
    """The key of one sign-in name, shared by every workspace (people reuse passwords
    across them, and a guesser should not get five tries per workspace)."""
    return ("email:" + (email or "").strip().lower())[:_MAX_KEY]


def ip_key(remote_addr: str | None) -> str:
    """The key of one client address."""
    return ("ip:" + (remote_addr or "unknown"))[:_MAX_KEY]


def locked_until(session: DbSession, *keys: str) -> dt.datetime | None:
    """The latest lock among ``keys`` that is still in force, or None."""
    return session.scalar(
        select(func.max(LoginThrottle.locked_until)).where(
            LoginThrottle.key.in_(keys), LoginThrottle.locked_until > func.now()
        )
    )


def record_failure(
    session: DbSession, key: str, *, limit: int, window_seconds: int, lockout_seconds: int
) -> dt.datetime | None:
    """Count one failure for ``key``; returns the time it is locked until, if the count
    has reached ``limit`` within the window (the window restarts once it has passed or
    a lock has run out)."""
    until: dt.datetime | None = session.execute(
        _RECORD_FAILURE,
        {"key": key, "limit": limit, "window": window_seconds, "lockout": lockout_seconds},
    ).scalar_one()
    return until


def record_login_failure(
    session: DbSession, *, email: str, remote_addr: str | None, limits: Limits
) -> dt.datetime | None:
    """Count a failed sign-in against the address and the client; the resulting lock
    (the later of the two), if any."""
    locks = [
        record_failure(
            session,
            account_key(email),
            limit=limits.per_account,
            window_seconds=limits.window_seconds,
            lockout_seconds=limits.lockout_seconds,
        ),
        record_failure(
            session,
            ip_key(remote_addr),
            limit=limits.per_ip,
            window_seconds=limits.window_seconds,
            lockout_seconds=limits.lockout_seconds,
        ),
    ]
    # A returned lock is always in the future: one that has run out restarts the count.
    active = [lock for lock in locks if lock is not None]
    return max(active) if active else None


def clear(session: DbSession, key: str) -> None:
    """Forget the failures of ``key`` (after a successful sign-in or a password reset)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
