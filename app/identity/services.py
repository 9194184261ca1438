"""Identity services: the only writers of users, memberships and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update

from app.audit.services import record_platform
from app.database import DbSession, utcnow
from app.identity.models import ApiToken, Membership, User
from app.identity.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from billing import limits
from tenants.binding import bind_session
from tenants.context import TenantRef, tenant_context
from tenants.models import LIVE_STATUSES, Tenant

TOKEN_PREFIX = "crm_"  # noqa: S105 - a public marker, not a secret


class IdentityError(ValueError):
    """A request to change identities that can not be honoured; ``field`` says where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalize_email(email: str) -> str:
    """Lower-cased, trimmed email; raises if it is plainly not one."""
    email = (email or "").strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or " " in email:
        raise IdentityError("Enter a valid email address.", field="email")
    return email


def find_user_by_email(session: DbSession, email: str) -> User | None:
    """The identity with this email (case-insensitive), if any."""
    return session.scalars(
        select(User).where(func.lower(User.email) == email.strip().lower())
    ).first()


def get_or_create_user(
    session: DbSession, *, email: str, password: str, name: str = "", verified: bool = False
) -> User:
    """The identity for ``email``; created with ``password`` if it does not exist yet
    (``verified``: its address is known to be right, e.g. demo data).

    An existing identity keeps its password: joining another workspace must not let
    anyone reset it.
    """
    email = normalize_email(email)
    user = find_user_by_email(session, email)
    if user is not None:
        return user
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise IdentityError(
            f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.", field="password"
        )
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        email_verified_at=utcnow() if verified else None,
    )
    session.add(user)
    session.flush()
    return user


def add_member(
    session: DbSession, *, tenant: Tenant, email: str, password: str, role: str, actor: str
) -> Membership:
    """Add a person to a workspace with ``role`` (scripted onboarding, seeds).

    Takes a seat from the plan's allowance in the same transaction as the membership
    (raises :class:`billing.limits.PlanLimitExceeded` at the cap); the session is then
    bound to ``tenant``.
    """
    if tenant.schema_name is None:
        raise IdentityError(f"{tenant.slug} is not ready yet.")
    user = get_or_create_user(session, email=email, password=password)
    existing = session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.tenant_id == tenant.id)
    ).first()
    if existing is not None:
        raise IdentityError(f"{user.email} is already a member of {tenant.slug}.", field="email")
    ref = TenantRef(id=tenant.id, slug=tenant.slug, schema_name=tenant.schema_name)
    with tenant_context(ref):
        bind_session(session, ref)
        limits.reserve(session, "seats")
    membership = Membership(user_id=user.id, tenant_id=tenant.id, role=role)
    session.add(membership)
    record_platform(
        session,
        actor=actor,
        action="member.added",
        tenant_id=tenant.id,
        details={"email": user.email, "role": role},
    )
    session.flush()
    return membership


def authenticate(session: DbSession, *, tenant_id: int, email: str, password: str) -> User | None:
    """The user if ``email``/``password`` match and they are an active member here."""
    user = find_user_by_email(session, email or "")
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None:
        return None
    return user if active_membership(session, user.id, tenant_id) is not None else None


def workspaces_of(session: DbSession, user_id: int) -> list[Tenant]:
    """The live workspaces where ``user_id`` is an active member, by name: one identity,
    several workspaces."""
    return list(
        session.scalars(
            select(Tenant)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .where(
                Membership.user_id == user_id,
                Membership.is_active.is_(True),
                Tenant.status.in_(LIVE_STATUSES),
            )
            .order_by(Tenant.name, Tenant.slug)
        )
    )


def active_membership(session: DbSession, user_id: int, tenant_id: int) -> Membership | None:
    """The user's active membership in the tenant, if any."""
    return session.scalars(
        select(Membership).where(
            Membership.user_id == user_id,
            Membership.tenant_id == tenant_id,
            Membership.is_active.is_(True),
        )
    ).first()


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly created token: ``secret`` is shown once and never stored."""

    token: ApiToken
    secret: str


def create_api_token(
    session: DbSession, *, tenant: Tenant, user: User, name: str = "", actor: str
) -> IssuedToken:
    """Issue a token for ``user`` in ``tenant``; only its hash is kept."""
    if active_membership(session, user.id, tenant.id) is None:
        raise IdentityError(f"{user.email} is not a member of {tenant.slug}.", field="email")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        tenant_id=tenant.id,
        user_id=user.id,
        name=name[:100],
        prefix=secret[:12],
        token_hash=_hash_token(secret),
    )
    session.add(token)
    record_platform(
        session,
        actor=actor,
        action="api_token.created",
        tenant_id=tenant.id,
        details={"email": user.email, "prefix": token.prefix},
    )
    session.flush()
    return IssuedToken(token=token, secret=secret)


def revoke_api_token(session: DbSession, token: ApiToken, *, actor: str) -> None:
    """Revoke a token; it stops working on the next request."""
    token.revoked_at = utcnow()
    record_platform(
        session,
        actor=actor,
        action="api_token.revoked",
        tenant_id=token.tenant_id,
        details={"prefix": token.prefix},
    )


def tenant_api_tokens(session: DbSession, tenant_id: int) -> list[tuple[ApiToken, User]]:
    """Every token of a workspace with its user, newest first (for listings)."""
    rows = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.tenant_id == tenant_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()
    return [(token, user) for token, user in rows]


def revoke_api_tokens_by_prefix(
    session: DbSession, *, tenant_id: int, prefix: str, actor: str
) -> int:
    """Revoke the live tokens of a workspace whose shown prefix is ``prefix``; returns
    how many. The prefix is what listings show, so people can name a token without
    ever handling its secret again."""
    if len(prefix) < 8:
        raise IdentityError("Give the token's prefix as listed (at least 8 characters).")
    tokens = session.scalars(
        select(ApiToken).where(
            ApiToken.tenant_id == tenant_id,
            ApiToken.prefix == prefix,
            ApiToken.revoked_at.is_(None),
        )
    ).all()
    for token in tokens:
        revoke_api_token(session, token, actor=actor)
    return len(tokens)


def resolve_api_token(
    session: DbSession, raw: str
) -> tuple[ApiToken, Tenant, User, Membership] | None:
    """The live token, its tenant and user for a presented bearer secret, or None.

    A revoked token, a deactivated membership or a tenant that is not live all answer
    None, exactly like an unknown token.
    """
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    row = session.execute(
        select(ApiToken, Tenant, User, Membership)
        .join(Tenant, Tenant.id == ApiToken.tenant_id)
        .join(User, User.id == ApiToken.user_id)
        .join(
            Membership,
            (Membership.user_id == ApiToken.user_id) & (Membership.tenant_id == ApiToken.tenant_id),
        )
        .where(
            ApiToken.token_hash == _hash_token(raw),
            ApiToken.revoked_at.is_(None),
            Membership.is_active.is_(True),
            Tenant.status.in_(LIVE_STATUSES),
        )
    ).first()
    if row is None:
        return None
    token, tenant, user, membership = row
    return token, tenant, user, membership


def touch_api_token(session: DbSession, token_id: int) -> None:
    """Record a token's last use (at most once a minute, to spare writes)."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .where(
            ApiToken.last_used_at.is_(None)
            | (ApiToken.last_used_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 1))
        )
        .values(last_used_at=func.now())
    )
