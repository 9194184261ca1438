"""Team services: invitations, memberships and their seats. The only writers of both.

Seats are exact (``billing.limits``): a pending invitation holds a seat from the moment
it is sent, so that accepting it never needs one (the membership takes the invitation's
seat over); revoking it, or the sweep of expired ones, gives the seat back.
Deactivating a member keeps every record they own and gives their seat back;
reactivating takes one again.

Every service runs in one transaction with the workspace bound (``tenants.context``),
writes a platform audit entry, commits, and sends mail only after the commit. A refusal
is a :class:`TeamError` (or :class:`billing.limits.PlanLimitExceeded` at the cap) and
leaves nothing half-done: the transaction is rolled back first.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask_babel import lazy_gettext as _l
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.access.models import Role
from app.access.policy import Actor, may
from app.activities.models import Activity
from app.audit.services import record_platform
from app.companies.models import Company
from app.contacts import services as contact_services
from app.database import DbSession, utcnow
from app.deals.models import Deal
from app.errors import InvalidInput
from app.hosts import workspace_url
from app.identity import throttle
from app.identity.models import ApiToken, Invitation, Membership, User
from app.identity.passwords import hash_password, password_problem, verify_password
from app.identity.services import find_user_by_email
from app.identity.tokens import hash_secret
from app.input_rules import CONTROL_ANY, MAX_BIGINT, UNSTORABLE
from app.mail.services import compose, send_after_commit
from app.ownership import count_owned, reassign_owned
from billing import limits
from billing.limits import PlanLimitExceeded
from tenants.context import require_tenant, tenant_context
from tenants.models import Tenant

log = logging.getLogger(__name__)

INVITATION_LIFETIME = dt.timedelta(days=7)
# A resend mails a new link; more than one a minute is a stuck button or abuse.
RESEND_INTERVAL = dt.timedelta(minutes=1)
# Expired invitations keep their seat one more day, so that "it expired yesterday, can
# you resend it" still works; then the sweep retires them.
SWEEP_GRACE = dt.timedelta(days=1)
OWNER_ROLE = "owner"
MAX_NAME_LENGTH = 200
MAX_TOKEN_LENGTH = 200
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TeamError(Exception):
    """A team change that can not be made; ``field`` names the input at fault.

    ``code`` says what kind of refusal it is, so that the API answers the contract's
    status: ``invalid`` (400), ``conflict`` (409), ``forbidden`` (403), ``unverified``
    (403: the acting identity must verify its email first), ``throttled`` (429) and
    ``gone`` (the invitation is unknown, used, revoked or expired).
    """

    def __init__(self, message: Any, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        self.code = code


class ActingMember(Protocol):
    """Who acts: an active member of the bound workspace (``app.identity.sessions.Member``)."""

    user: User
    membership: Membership

    @property
    def actor(self) -> Actor:
        """The member as the policy sees them."""
        ...


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    """A sent invitation: ``secret`` went into the mail and is never stored."""

    invitation: Invitation
    secret: str


# --------------------------------------------------------------------- owned records


@dataclass(frozen=True, slots=True)
class OwnedRecordKind:
    """A kind of record members own, which deactivation can hand to someone else.

    ``count(session, owner_id)`` and ``reassign(session, from_id, to_id, actor_id)``
    work in the bound workspace and the caller's transaction (``reassign`` returns how
    many moved). Deals and open tasks register themselves here when they arrive.
    """

    key: str
    label: Any
    count: Callable[[DbSession, int], int]
    reassign: Callable[[DbSession, int, int, int], int]


OWNED_RECORD_KINDS: dict[str, OwnedRecordKind] = {}


def register_owned_kind(kind: OwnedRecordKind) -> None:
    """Offer ``kind`` for reassignment when a member is deactivated."""
    OWNED_RECORD_KINDS[kind.key] = kind


register_owned_kind(
    OwnedRecordKind(
        key="contacts",
        label=_l("Contacts"),
        count=contact_services.count_owned_contacts,
        reassign=lambda session, from_id, to_id, actor_id: contact_services.reassign_contacts(
            session, from_owner_id=from_id, to_owner_id=to_id, actor_id=actor_id
        ),
    )
)


def _owned_kind(key: str, label: Any, column: Any, entity: str, only: Any = None) -> None:
    register_owned_kind(
        OwnedRecordKind(
            key=key,
            label=label,
            count=lambda session, user_id: count_owned(session, column, user_id, only),
            reassign=lambda session, from_id, to_id, actor_id: reassign_owned(
                session,
                column,
                entity=entity,
                from_id=from_id,
                to_id=to_id,
                actor_id=actor_id,
                only=only,
            ),
        )
    )


# Closed deals and done tasks keep who won or did them: reports must still say so.
_owned_kind("companies", _l("Companies"), Company.owner_id, "company")
_owned_kind("deals", _l("Open deals"), Deal.owner_id, "deal", Deal.status == "open")
_owned_kind(
    "tasks",
    _l("Open tasks"),
    Activity.assignee_id,
    "activity",
    (Activity.type == "task") & Activity.done.is_(False),
)


def owned_records(session: DbSession, user_id: int) -> dict[str, int]:
    """Per registered kind, how many records ``user_id`` owns in the bound workspace."""
    return {key: kind.count(session, user_id) for key, kind in OWNED_RECORD_KINDS.items()}


# --------------------------------------------------------------------------- helpers


@contextmanager
def _transaction(session: DbSession) -> Iterator[None]:
    """Roll the whole change back on any refusal or error, then re-raise."""
    try:
        yield
    except BaseException:
        session.rollback()
        raise


def _require_bound(tenant: Tenant) -> None:
    # Seats and records live in the tenant's schema: the caller binds it (a request on
    # the workspace host does), and it must be this tenant.
    if require_tenant().id != tenant.id:
        raise RuntimeError("the bound tenant is not the one being changed")


def _require(actor: ActingMember, action: str) -> None:
    if not may(actor.actor, "users", action):
        raise TeamError(_l("Your role does not allow this."), code="forbidden")


def _actor_label(actor: ActingMember) -> str:
    return f"user:{actor.user.id}"


def clean_email(raw: Any) -> str:
    """A trimmed, lower-cased email address, or a field error."""
    if not isinstance(raw, str):
        raise TeamError(_l("Enter a valid email address."), field="email")
    email = raw.strip().lower()
    if CONTROL_ANY.search(email) or UNSTORABLE.search(email):
        raise TeamError(_l("Remove the invisible control characters."), field="email")
    if not email or len(email) > 254 or not _EMAIL.fullmatch(email):
        raise TeamError(_l("Enter a valid email address."), field="email")
    return email


def tenant_roles(session: DbSession) -> list[Role]:
    """The bound workspace's roles (built-in first), for pickers and checks."""
    return list(session.scalars(select(Role).order_by(Role.is_builtin.desc(), Role.id.asc())).all())


def invitable_roles(session: DbSession) -> list[Role]:
    """Roles an invitation may carry: every role but Owner. Ownership is handed over
    by an owner to someone already in the workspace (:func:`change_role`), never to an
    address, so a mistyped or forwarded invitation can not make an owner."""
    return [role for role in tenant_roles(session) if role.key != OWNER_ROLE]


def _check_role(session: DbSession, role: Any, *, invitable: bool) -> str:
    if not isinstance(role, str) or not role:
        raise TeamError(_l("Choose a role."), field="role")
    roles = invitable_roles(session) if invitable else tenant_roles(session)
    if role not in {r.key for r in roles}:
        if invitable and role == OWNER_ROLE:
            raise TeamError(
                _l("Invite with another role; an owner can make them an owner once they join."),
                field="role",
            )
        raise TeamError(_l("Choose one of the workspace's roles."), field="role")
    return role


def membership_of(session: DbSession, tenant_id: int, user_id: int) -> Membership | None:
    """The membership (active or not) of ``user_id`` in ``tenant_id``; None for ids that
    can not exist."""
    if not isinstance(user_id, int) or not 1 <= user_id <= MAX_BIGINT:
        return None
    return session.scalars(
        select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
    ).first()


def invitation_of(session: DbSession, tenant_id: int, invitation_id: int) -> Invitation | None:
    """The invitation ``invitation_id`` of ``tenant_id`` (any state), or None: another
    workspace's invitation is not found, exactly like a missing one."""
    if not isinstance(invitation_id, int) or not 1 <= invitation_id <= MAX_BIGINT:
        return None
    return session.scalars(
        select(Invitation).where(Invitation.tenant_id == tenant_id, Invitation.id == invitation_id)
    ).first()


def _pending_invitation(session: DbSession, tenant_id: int, email: str) -> Invitation | None:
    return session.scalars(
        select(Invitation).where(
            Invitation.tenant_id == tenant_id,
            func.lower(Invitation.email) == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    ).first()


def _pending(stmt: Any) -> Any:
    return stmt.where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))


def invitation_status(invitation: Invitation, now: dt.datetime | None = None) -> str:
    """``pending``, ``expired`` (pending but past its expiry), ``accepted`` or ``revoked``."""
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= (now or utcnow()):
        return "expired"
    return "pending"


def accept_url(tenant: Tenant, secret: str) -> str:
    """The absolute link of an invitation, on the workspace's own host."""
    return workspace_url(tenant, "team.accept_invitation", token=secret)


def _invitation_mail(tenant: Tenant, inviter: User, invitation: Invitation, secret: str) -> Any:
    inviter_name = inviter.name or inviter.email
    return compose(
        "invitation",
        to=invitation.email,
        subject=str(
            _l(
                "%(inviter)s invited you to %(workspace)s",
                inviter=inviter_name,
                workspace=tenant.name,
            )
        ),
        workspace=tenant.name,
        inviter_name=inviter_name,
        inviter_email=inviter.email,
        role=invitation.role,
        href=accept_url(tenant, secret),
        expires_at=invitation.expires_at,
    )


# ----------------------------------------------------------------------- invitations


def invite(
    session: DbSession, *, tenant: Tenant, actor: ActingMember, email: Any, role: Any
) -> IssuedInvitation:
    """Invite ``email`` to the workspace with ``role`` and mail them a link.

    Takes a seat in the same transaction as the invitation row (raises
    :class:`PlanLimitExceeded` at the cap). The inviter must have verified their own
    address: invitations carry their name, and an unverified identity could be anyone's.
    A second pending invitation for the same address is refused, by the check here and,
    for two submits racing past it, by the partial unique index.
    """
    _require_bound(tenant)
    with _transaction(session):
        _require(actor, "create")
        if actor.user.email_verified_at is None:
            raise TeamError(
                _l("Verify your email address first: invitations go out in your name."),
                code="unverified",
            )
        email = clean_email(email)
        role = _check_role(session, role, invitable=True)
        user = find_user_by_email(session, email)
        existing = membership_of(session, tenant.id, user.id) if user is not None else None
        if existing is not None and existing.is_active:
            raise TeamError(
                _l("%(email)s is already a member of this workspace.", email=email),
                field="email",
                code="conflict",
            )
        if existing is not None:
            raise TeamError(
                _l(
                    "%(email)s was deactivated. Reactivate them from the member list instead.",
                    email=email,
                ),
                field="email",
                code="conflict",
            )
        if _pending_invitation(session, tenant.id, email) is not None:
            raise _already_invited(email)
        limits.reserve(session, "seats")
        secret = secrets.token_urlsafe(32)
        invitation = Invitation(
            tenant_id=tenant.id,
            email=email,
            role=role,
            invited_by_id=actor.user.id,
            token_hash=hash_secret(secret),
            expires_at=utcnow() + INVITATION_LIFETIME,
            last_sent_at=utcnow(),
            send_count=1,
        )
        session.add(invitation)
        try:
            session.flush()
        except IntegrityError as exc:
            raise _already_invited(email) from exc
        record_platform(
            session,
            actor=_actor_label(actor),
            action="invitation.sent",
            tenant_id=tenant.id,
            details={"invitation_id": invitation.id, "email": email, "role": role},
        )
        send_after_commit(session, _invitation_mail(tenant, actor.user, invitation, secret))
        session.commit()
    return IssuedInvitation(invitation=invitation, secret=secret)


def _already_invited(email: str) -> TeamError:
    return TeamError(
        _l("%(email)s is already invited. Resend the invitation from the list.", email=email),
        field="email",
        code="conflict",
    )


def resend_invitation(
    session: DbSession, *, tenant: Tenant, actor: ActingMember, invitation: Invitation
) -> IssuedInvitation:
    """Mail a new link (new token, new expiry): the old link stops working.

    At most once a minute per invitation, decided by one conditional UPDATE so that two
    clicks send one mail.
    """
    _require_bound(tenant)
    with _transaction(session):
        _require(actor, "create")
        if actor.user.email_verified_at is None:
            raise TeamError(
                _l("Verify your email address first: invitations go out in your name."),
                code="unverified",
            )
        if invitation.tenant_id != tenant.id or not invitation.is_pending:
            raise TeamError(_l("This invitation is no longer pending."), code="conflict")
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        resent = session.execute(
            _pending(update(Invitation))
            .where(
                Invitation.id == invitation.id,
                Invitation.tenant_id == tenant.id,
                Invitation.last_sent_at <= now - RESEND_INTERVAL,
            )
            .values(
                token_hash=hash_secret(secret),
                expires_at=now + INVITATION_LIFETIME,
                last_sent_at=now,
                send_count=Invitation.send_count + 1,
                invited_by_id=actor.user.id,
            )
            .returning(Invitation.id)
        ).scalar_one_or_none()
        if resent is None:
            session.refresh(invitation)
            if not invitation.is_pending:
                raise TeamError(_l("This invitation is no longer pending."), code="conflict")
            raise TeamError(
                _l("The invitation was sent less than a minute ago. Try again in a moment."),
                code="throttled",
            )
        session.refresh(invitation)
        record_platform(
            session,
            actor=_actor_label(actor),
            action="invitation.resent",
            tenant_id=tenant.id,
            details={
                "invitation_id": invitation.id,
                "email": invitation.email,
                "send_count": invitation.send_count,
            },
        )
        send_after_commit(session, _invitation_mail(tenant, actor.user, invitation, secret))
        session.commit()
    return IssuedInvitation(invitation=invitation, secret=secret)


def revoke_invitation(
    session: DbSession, *, tenant: Tenant, actor: ActingMember, invitation: Invitation
) -> None:
    """Withdraw a pending invitation (its link stops working) and give its seat back."""
    _require_bound(tenant)
    with _transaction(session):
        _require(actor, "create")
        revoked = session.execute(
            _pending(update(Invitation))
            .where(Invitation.id == invitation.id, Invitation.tenant_id == tenant.id)
            .values(revoked_at=func.now())
            .returning(Invitation.id)
        ).scalar_one_or_none()
        if revoked is None:
            raise TeamError(_l("This invitation is no longer pending."), code="conflict")
        limits.release(session, "seats")
        record_platform(
            session,
            actor=_actor_label(actor),
            action="invitation.revoked",
            tenant_id=tenant.id,
            details={"invitation_id": invitation.id, "email": invitation.email},
        )
        session.commit()
    session.refresh(invitation)


def find_invitation(session: DbSession, tenant_id: int, raw: str) -> Invitation | None:
    """The invitation of ``tenant_id`` whose link carries ``raw`` (any state), or None:
    a token of another workspace is unknown here."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        return None
    return session.scalars(
        select(Invitation).where(
            Invitation.tenant_id == tenant_id, Invitation.token_hash == hash_secret(raw)
        )
    ).first()


def accept_invitation(
    session: DbSession,
    *,
    tenant: Tenant,
    raw: str,
    password: Any,
    name: Any = None,
    remote_addr: str | None = None,
) -> User:
    """Join the workspace through an invitation link; returns the identity that joined.

    With no identity for the invited address yet, one is made from ``name`` and
    ``password`` (a new password must pass :func:`password_problem`); its email counts
    as verified, since the link came through that mailbox. An existing identity proves
    itself with its password, under the same throttle as sign-in (this form must not be
    a way around the lockout). The invitation is claimed by one conditional UPDATE (still
    pending, not expired), so two submits of the same link make one membership. No seat
    is reserved: the invitation's seat passes to the membership.
    """
    _require_bound(tenant)
    with _transaction(session):
        invitation = find_invitation(session, tenant.id, raw)
        if invitation is None or invitation_status(invitation) != "pending":
            raise TeamError(_l("This invitation is no longer valid."), code="gone")
        if not isinstance(password, str) or not password:
            raise TeamError(_l("Enter a password."), field="password")
        user = find_user_by_email(session, invitation.email)
        if user is None:
            user = _new_identity(session, tenant, invitation.email, name, password)
        else:
            keys = (throttle.account_key(user.email), throttle.ip_key(remote_addr))
            if throttle.locked_until(session, *keys) is not None:
                raise TeamError(
                    _l("Too many wrong passwords. Try again in a few minutes."), field="password"
                )
            if not verify_password(user.password_hash, password):
                throttle.record_login_failure(
                    session,
                    email=user.email,
                    remote_addr=remote_addr,
                    limits=throttle.Limits.from_config(),
                )
                session.commit()  # the failure must count even though this refuses
                raise TeamError(_l("Wrong password for this account."), field="password")
            if user.email_verified_at is None:
                user.email_verified_at = utcnow()
        claimed = session.execute(
            _pending(update(Invitation))
            .where(Invitation.id == invitation.id, Invitation.expires_at > func.now())
            .values(accepted_at=func.now(), accepted_user_id=user.id)
            .returning(Invitation.id)
        ).scalar_one_or_none()
        if claimed is None:
            raise TeamError(_l("This invitation is no longer valid."), code="gone")
        membership = membership_of(session, tenant.id, user.id)
        if membership is None:
            session.add(Membership(user_id=user.id, tenant_id=tenant.id, role=invitation.role))
        elif not membership.is_active:
            membership.is_active = True
            membership.deactivated_at = None
            membership.role = invitation.role
        else:
            # Added some other way meanwhile: the membership already holds a seat.
            limits.release(session, "seats")
        record_platform(
            session,
            actor=f"user:{user.id}",
            action="invitation.accepted",
            tenant_id=tenant.id,
            details={
                "invitation_id": invitation.id,
                "email": invitation.email,
                "role": invitation.role,
            },
        )
        session.commit()
    return user


def _new_identity(session: DbSession, tenant: Tenant, email: str, name: Any, password: str) -> User:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise TeamError(_l("Enter your name."), field="name")
    if len(name) > MAX_NAME_LENGTH or CONTROL_ANY.search(name) or UNSTORABLE.search(name):
        raise TeamError(_l("Use at most 200 ordinary characters."), field="name")
    problem = password_problem(password, user_inputs=(email, name, tenant.name, tenant.slug))
    if problem is not None:
        raise TeamError(_l(problem), field="password")
    user = User(
        email=email, name=name, password_hash=hash_password(password), email_verified_at=utcnow()
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        # The same address signed up a moment ago: that account must prove itself.
        raise TeamError(
            _l("An account with this email now exists. Reload the page and sign in with it."),
            field="password",
            code="conflict",
        ) from exc
    return user


# ----------------------------------------------------------------------- memberships


def _lock_active_owners(session: DbSession, tenant_id: int) -> list[int]:
    # Locked, so that two owners demoting each other at once can not both succeed.
    return list(
        session.scalars(
            select(Membership.user_id)
            .where(
                Membership.tenant_id == tenant_id,
                Membership.role == OWNER_ROLE,
                Membership.is_active.is_(True),
            )
            .with_for_update()
        ).all()
    )


def _ensure_another_owner(session: DbSession, tenant_id: int, user_id: int) -> None:
    others = [uid for uid in _lock_active_owners(session, tenant_id) if uid != user_id]
    if not others:
        raise TeamError(
            _l("A workspace needs an active owner. Make someone else an owner first."),
            field="role",
            code="conflict",
        )


def _owner_rights(actor: ActingMember, target: Membership, new_role: str | None = None) -> None:
    if actor.membership.role == OWNER_ROLE:
        return
    if target.role == OWNER_ROLE or new_role == OWNER_ROLE:
        raise TeamError(_l("Only an owner can change an owner or make one."), code="forbidden")


def change_role(
    session: DbSession, *, tenant: Tenant, actor: ActingMember, membership: Membership, role: Any
) -> Membership:
    """Give a member another of the workspace's roles.

    Only owners grant or take away Owner, and the last active owner stays one.
    """
    _require_bound(tenant)
    with _transaction(session):
        _require(actor, "edit")
        role = _check_role(session, role, invitable=False)
        _owner_rights(actor, membership, role)
        old = membership.role
        if role == old:
            return membership
        if old == OWNER_ROLE and membership.is_active:
            _ensure_another_owner(session, tenant.id, membership.user_id)
        membership.role = role
        record_platform(
            session,
            actor=_actor_label(actor),
            action="member.role_changed",
            tenant_id=tenant.id,
            details={"user_id": membership.user_id, "role": [old, role]},
        )
        session.commit()
    return membership


@dataclass
class Deactivation:
    """What deactivating a member did."""

    tokens_revoked: int = 0
    reassigned: dict[str, int] = field(default_factory=dict)


def deactivate_member(
    session: DbSession,
    *,
    tenant: Tenant,
    actor: ActingMember,
    membership: Membership,
    reassign_to: int | None = None,
) -> Deactivation:
    """Take a member out of the workspace, keeping everything they made.

    In one transaction: the membership becomes inactive (their sessions end at the next
    request, since only active members load), their seat is released, their API tokens
    for this workspace are revoked, and, when ``reassign_to`` names another active
    member, every registered kind of record they own moves to that member.
    """
    _require_bound(tenant)
    result = Deactivation()
    with _transaction(session):
        _require(actor, "delete")
        if membership.user_id == actor.user.id:
            raise TeamError(_l("You can not deactivate yourself."), code="forbidden")
        if not membership.is_active:
            raise TeamError(_l("This member is already deactivated."), code="conflict")
        _owner_rights(actor, membership)
        if membership.role == OWNER_ROLE:
            _ensure_another_owner(session, tenant.id, membership.user_id)
        if reassign_to is not None:
            target = membership_of(session, tenant.id, reassign_to)
            if target is None or not target.is_active or target.user_id == membership.user_id:
                raise TeamError(
                    _l("Choose another active member of this workspace."), field="reassign_to"
                )
        done = session.execute(
            update(Membership)
            .where(Membership.id == membership.id, Membership.is_active.is_(True))
            .values(is_active=False, deactivated_at=func.now())
            .returning(Membership.id)
        ).scalar_one_or_none()
        if done is None:
            raise TeamError(_l("This member is already deactivated."), code="conflict")
        limits.release(session, "seats")
        result.tokens_revoked = len(
            session.execute(
                update(ApiToken)
                .where(
                    ApiToken.tenant_id == tenant.id,
                    ApiToken.user_id == membership.user_id,
                    ApiToken.revoked_at.is_(None),
                )
                .values(revoked_at=func.now())
                .returning(ApiToken.id)
            ).all()
        )
        if reassign_to is not None:
            for key, kind in OWNED_RECORD_KINDS.items():
                try:
                    result.reassigned[key] = kind.reassign(
                        session, membership.user_id, reassign_to, actor.user.id
                    )
                except InvalidInput as exc:
                    raise TeamError(
                        _l("Choose another active member of this workspace."),
                        field="reassign_to",
                    ) from exc
        record_platform(
            session,
            actor=_actor_label(actor),
            action="member.deactivated",
            tenant_id=tenant.id,
            details={
                "user_id": membership.user_id,
                "tokens_revoked": result.tokens_revoked,
                "reassigned_to": reassign_to,
                "reassigned": result.reassigned,
            },
        )
        session.commit()
    session.refresh(membership)
    return result


def reactivate_member(
    session: DbSession, *, tenant: Tenant, actor: ActingMember, membership: Membership
) -> Membership:
    """Let a deactivated member back in with their old role; takes a seat again (raises
    :class:`PlanLimitExceeded` at the cap). Reactivating an active member changes nothing.
    Their old API tokens stay revoked."""
    _require_bound(tenant)
    with _transaction(session):
        _require(actor, "create")
        if membership.is_active:
            return membership
        _owner_rights(actor, membership)
        limits.reserve(session, "seats")
        done = session.execute(
            update(Membership)
            .where(Membership.id == membership.id, Membership.is_active.is_(False))
            .values(is_active=True, deactivated_at=None)
            .returning(Membership.id)
        ).scalar_one_or_none()
        if done is None:
            raise TeamError(_l("This member is already active."), code="conflict")
        record_platform(
            session,
            actor=_actor_label(actor),
            action="member.reactivated",
            tenant_id=tenant.id,
            details={"user_id": membership.user_id},
        )
        session.commit()
    session.refresh(membership)
    return membership


# ---------------------------------------------------------------------------- lists


def team_members(session: DbSession, tenant_id: int) -> list[tuple[Membership, User]]:
    """Every membership of the workspace with its identity: active first, then by name."""
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(
            Membership.is_active.desc(),
            func.lower(func.coalesce(func.nullif(User.name, ""), User.email)),
            User.id,
        )
    ).all()
    return [(membership, user) for membership, user in rows]


def pending_invitations(session: DbSession, tenant_id: int) -> list[Invitation]:
    """Invitations holding a seat (expired ones too, until the sweep), newest first."""
    return list(
        session.scalars(
            _pending(select(Invitation))
            .where(Invitation.tenant_id == tenant_id)
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        ).all()
    )


def seat_usage(session: DbSession) -> tuple[int, int | None, str]:
    """Seats used, the cap (None: unlimited) and the plan's name, for the bound tenant."""
    report = limits.usage_report(session)
    plan = limits.tenant_plan(session, require_tenant().id)
    seats = report["limits"]["seats"]
    return int(seats["used"] or 0), seats["max"], plan.plan_name


def would_exceed_seats(session: DbSession) -> PlanLimitExceeded | None:
    """The refusal an invitation would meet now (for showing the cap up front)."""
    used, cap, _name = seat_usage(session)
    if cap is None or used < cap:
        return None
    plan = limits.tenant_plan(session, require_tenant().id)
    return PlanLimitExceeded(
        limit="seats", used=used, max=cap, plan=plan.plan, plan_name=plan.plan_name
    )


# ---------------------------------------------------------------------------- sweep


def sweep_expired_invitations(engine: Engine) -> dict[int, int]:
    """Retire invitations expired for more than :data:`SWEEP_GRACE` and give their seats
    back; returns, per tenant, how many. Each tenant in its own session, bound to it;
    one tenant's failure is logged and the others still run."""
    from tenants.fleet import iter_live_tenants

    cutoff = utcnow() - SWEEP_GRACE
    with engine.connect() as conn:
        due = set(
            conn.scalars(
                _pending(select(Invitation.tenant_id).distinct()).where(
                    Invitation.expires_at < cutoff
                )
            )
        )
    swept: dict[int, int] = {}
    for ref in iter_live_tenants(engine):
        if ref.id not in due:
            continue
        with tenant_context(ref), Session(engine) as session:
            try:
                emails = list(
                    session.scalars(
                        _pending(update(Invitation))
                        .where(Invitation.tenant_id == ref.id, Invitation.expires_at < cutoff)
                        .values(revoked_at=func.now())
                        .returning(Invitation.email)
                    )
                )
                if emails:
                    limits.release(session, "seats", len(emails))
                    record_platform(
                        session,
                        actor="system",
                        action="invitation.expired",
                        tenant_id=ref.id,
                        details={"emails": emails},
                    )
                session.commit()
                swept[ref.id] = len(emails)
            except Exception:
                session.rollback()
                log.exception("invitation sweep failed tenant_id=%s", ref.id)
    return swept
