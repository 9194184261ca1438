"""Email verification: the mail with a one-time link, and spending that link.

A verification link belongs to one workspace (its host is in the link, the token's
``tenant_id`` says which) and to the address it was sent to: the token's payload keeps
that address, so a link sent before an email change can never vouch for the new one.
At most one mail per minute per person, counted from the tokens already issued (no
extra table, and the same rule in every web process).
"""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.audit.services import record_platform
from app.database import DbSession, utcnow
from app.hosts import workspace_url
from app.identity import tokens
from app.identity.models import AccountToken, AccountTokenPurpose, User
from app.mail.services import compose, send_after_commit
from tenants.models import Tenant

RESEND_INTERVAL = dt.timedelta(minutes=1)


class VerificationRequest(enum.StrEnum):
    """What :func:`request_email_verification` did."""

    SENT = "sent"
    ALREADY_VERIFIED = "already_verified"
    TOO_SOON = "too_soon"


class LinkProblem(enum.StrEnum):
    """Why a verification link was not accepted."""

    UNKNOWN = "unknown"  # no such token here (or another workspace's): 404
    SPENT = "spent"  # used, expired or for an address no longer the account's: 400


def request_email_verification(
    session: DbSession, *, user: User, tenant: Tenant
) -> VerificationRequest:
    """Mail ``user`` a link that verifies their current address, leading to ``tenant``.

    Commits. Does nothing for an already verified address, nor within a minute of the
    previous verification mail to this person (a "resend" button can not flood anyone's
    inbox).
    """
    if user.email_verified_at is not None:
        return VerificationRequest.ALREADY_VERIFIED
    last_sent = session.scalar(
        select(func.max(AccountToken.created_at)).where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == AccountTokenPurpose.VERIFY_EMAIL,
        )
    )
    if last_sent is not None and last_sent > utcnow() - RESEND_INTERVAL:
        return VerificationRequest.TOO_SOON
    secret = tokens.issue(
        session,
        AccountTokenPurpose.VERIFY_EMAIL,
        user_id=user.id,
        tenant_id=tenant.id,
        payload={"email": user.email},
    )
    link = workspace_url(tenant, "onboarding.verify_email", token=secret)
    mail = compose(
        "verify_email",
        to=user.email,
        subject=_("Confirm your email address for %(workspace)s", workspace=tenant.name),
        link=link,
        workspace=tenant.name,
        name=user.name,
        days=tokens.LIFETIMES[AccountTokenPurpose.VERIFY_EMAIL].days,
    )
    send_after_commit(session, mail)
    record_platform(
        session,
        actor=user.email,
        action="user.verification_sent",
        tenant_id=tenant.id,
        details={"user_id": user.id},
    )
    session.commit()
    return VerificationRequest.SENT


def verify_email(
    session: DbSession, raw_token: str, *, tenant_id: int | None = None
) -> User | LinkProblem:
    """Spend a verification link and mark the address verified; commits.

    With ``tenant_id`` (the host the link was opened on), a link of another workspace
    is answered like an unknown one.
    """
    found = _lookup(session, raw_token)
    if found is None or (tenant_id is not None and found.tenant_id != tenant_id):
        return LinkProblem.UNKNOWN
    token = tokens.consume(session, AccountTokenPurpose.VERIFY_EMAIL, raw_token)
    if token is None:
        session.rollback()
        return LinkProblem.SPENT
    user = session.get(User, token.user_id)
    sent_to = str(token.payload.get("email") or "")
    if user is None or sent_to.lower() != user.email.lower():
        # The address changed since the mail was sent: the link proves nothing now.
        session.commit()
        return LinkProblem.SPENT
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        record_platform(
            session,
            actor=user.email,
            action="user.email_verified",
            tenant_id=token.tenant_id,
            details={"user_id": user.id},
        )
    session.commit()
    return user


def _lookup(session: DbSession, raw_token: str) -> AccountToken | None:
    """The verification token for ``raw_token`` in any state (to tell "not here" from
    "already used")."""
    if not raw_token or len(raw_token) > 200:
        return None
    return session.scalars(
        select(AccountToken).where(
            AccountToken.token_hash == tokens.hash_secret(raw_token),
            AccountToken.purpose == AccountTokenPurpose.VERIFY_EMAIL,
        )
    ).first()
