"""Online signup: the only writer of ``public.signups``.

:func:`start_signup` checks what needs the database (address free, rate limit, an
existing identity's password), stores the request with the owner's password already
hashed (argon2id: the raw password never reaches a task message) and, once committed,
sends the ``signup.provision`` task. :func:`provision` (run by that task) makes the
owner's identity and the workspace, and marks the signup ready, or failed with a
readable reason; the workspace itself is one transaction, so a failure leaves none of it.

The progress page's secret is derived from a random id carried by the form
(HMAC with the app's secret key): the same form posted twice names the same signup, and
the unique ``token_hash`` turns a double submit, even a concurrent one, into "the
signup you already made" instead of a second workspace.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, Engine, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.audit.services import record_platform
from app.database import DbSession, utcnow
from app.hosts import workspace_url
from app.identity import throttle, tokens
from app.identity.models import AccountToken, AccountTokenPurpose, Membership, User
from app.identity.passwords import hash_password, password_problem, verify_password
from app.identity.services import find_user_by_email
from app.identity.verification import LinkProblem, request_email_verification
from app.mail.services import compose, send_after_commit
from app.signup import slugs
from app.signup.models import Signup, SignupStatus
from tenants.context import TenantRef
from tenants.models import LIVE_STATUSES, Tenant
from tenants.provisioning import ProvisioningError, SlugTaken, provision_tenant

log = logging.getLogger(__name__)

TRIAL_PLAN = "pro"
TRIAL_DAYS = 14
# Plan choices offered on the form -> (plan key, is a trial).
PLAN_CHOICES: dict[str, tuple[str, bool]] = {
    "free": ("free", False),
    "pro_trial": (TRIAL_PLAN, True),
}
DEFAULT_MAX_PER_IP_PER_HOUR = 5
DEFAULT_FIND_MAX_PER_IP_PER_HOUR = 5
# A "provisioning" signup whose worker died (the task is acked late, so it comes back)
# may be taken up again after this long; the workspace is one transaction, so nothing
# of it exists unless the signup is ready.
STALE_AFTER = dt.timedelta(minutes=5)
# A pending signup not picked up by then (broker down when it was sent) is sent again
# when its progress page asks.
REDISPATCH_AFTER = dt.timedelta(seconds=30)
# The progress page signs the new owner in only this long after the workspace is ready;
# afterwards it points at the workspace's sign-in page.
HANDOFF_WINDOW = dt.timedelta(minutes=30)

# Reasons a signup failed, stored in English (translated when shown).
FAILURE_SLUG_TAKEN = _l(
    "The workspace address was taken while your workspace was being prepared. "
    "Choose another address."
)
FAILURE_EMAIL_TAKEN = _l(
    "An account with this email address was created while your workspace was being "
    "prepared. Sign up again and enter that account's password."
)
FAILURE_UNEXPECTED = _l("Your workspace could not be created. Please try again.")


class SignupRefused(Exception):
    """Input the database says no to, per field; ``suggestions`` for a taken address."""

    def __init__(self, details: dict[str, list[str]], suggestions: list[str] | None = None):
        super().__init__("signup refused")
        self.details = details
        self.suggestions = suggestions or []


class SignupRateLimited(Exception):
    """Too many signups from one client address within the hour."""


@dataclass(frozen=True, slots=True)
class SignupRequest:
    """What the signup form collected (already checked for shape)."""

    company_name: str
    slug: str
    owner_name: str
    email: str
    password: str
    plan_choice: str
    form_id: str
    ip_address: str | None


@dataclass(frozen=True, slots=True)
class StartedSignup:
    """A stored signup and the secret of its progress page."""

    token: str
    signup_id: int
    duplicate: bool


def signup_token(form_id: str) -> str:
    """The progress page secret for the form with ``form_id`` (unguessable without the
    app's secret key, and the same for the same form)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, b"signup:" + form_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def find_signup(session: DbSession, token: str) -> Signup | None:
    """The signup whose progress page secret is ``token``."""
    if not token or len(token) > 100:
        return None
    return session.scalars(
        select(Signup).where(Signup.token_hash == tokens.hash_secret(token))
    ).first()


def max_per_ip_per_hour() -> int:
    """``SIGNUP_MAX_PER_IP_PER_HOUR`` (default 5)."""
    return int(current_app.config.get("SIGNUP_MAX_PER_IP_PER_HOUR", DEFAULT_MAX_PER_IP_PER_HOUR))


def start_signup(session: DbSession, request: SignupRequest) -> StartedSignup:
    """Store a signup and send it to be provisioned; commits.

    Raises :class:`SignupRefused` (field errors) or :class:`SignupRateLimited`; either
    way nothing is created. An email that already has an identity is accepted only with
    that identity's password (wrong guesses count against the sign-in throttle), and the
    new workspace is then added to that identity: the signup never takes an account over
    nor gives it a second password.
    """
    token = signup_token(request.form_id)
    token_hash = tokens.hash_secret(token)
    existing = session.scalars(select(Signup.id).where(Signup.token_hash == token_hash)).first()
    if existing is not None:
        session.rollback()
        return StartedSignup(token, existing, duplicate=True)

    ip = request.ip_address or "unknown"
    # Serialise signups from one address, so that the count below is exact.
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext("signup-ip:" + ip))))
    recent = session.scalar(
        select(func.count(Signup.id)).where(
            Signup.ip_address == ip, Signup.created_at > func.now() - dt.timedelta(hours=1)
        )
    )
    if (recent or 0) >= max_per_ip_per_hour():
        session.rollback()
        raise SignupRateLimited()

    plan, trial = PLAN_CHOICES.get(request.plan_choice, PLAN_CHOICES["free"])
    email = request.email.strip().lower()
    errors: dict[str, list[str]] = {}
    suggestions: list[str] = []
    problem = slugs.slug_problem(request.slug)
    if problem is not None:
        errors["slug"] = [problem]
    elif slugs.is_taken(session, request.slug):
        errors["slug"] = [_("This address is taken.")]
        suggestions = slugs.suggestions(
            session, company_name=request.company_name, slug=request.slug
        )

    user = find_user_by_email(session, email)
    if user is not None:
        keys = (throttle.account_key(email), throttle.ip_key(ip))
        if throttle.locked_until(session, *keys) is not None:
            errors["password"] = [_("Too many attempts. Try again later.")]
        elif not verify_password(user.password_hash, request.password):
            throttle.record_login_failure(
                session, email=email, remote_addr=ip, limits=throttle.Limits.from_config()
            )
            errors["email"] = [
                _(
                    "This email address already has an account. Enter that account's "
                    "password below to add the new workspace to it, or sign in to your "
                    "existing workspace."
                )
            ]
    else:
        weak = password_problem(
            request.password,
            user_inputs=[email, request.owner_name, request.company_name, request.slug],
        )
        if weak is not None:
            errors["password"] = [_(weak)]
    if errors:
        session.commit()  # keeps the counted failures, nothing else was written
        raise SignupRefused(errors, suggestions)

    signup = Signup(
        token_hash=token_hash,
        company_name=request.company_name,
        slug=request.slug,
        owner_name=request.owner_name,
        email=email,
        password_hash=None if user is not None else hash_password(request.password),
        plan=plan,
        trial=trial,
        ip_address=ip,
        user_id=user.id if user is not None else None,
        status=SignupStatus.PENDING,
    )
    session.add(signup)
    record_platform(
        session,
        actor=email,
        action="signup.submitted",
        details={"slug": request.slug, "plan": plan, "trial": trial, "ip": ip},
    )
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if "token_hash" in str(exc.orig):
            again = session.scalars(select(Signup.id).where(Signup.token_hash == token_hash)).one()
            return StartedSignup(token, again, duplicate=True)
        if "uq_signups_open_slug" in str(exc.orig):
            raise SignupRefused(
                {"slug": [_("This address is taken.")]},
                slugs.suggestions(session, company_name=request.company_name, slug=request.slug),
            ) from exc
        raise
    signup_id = signup.id
    dispatch(signup_id)
    return StartedSignup(token, signup_id, duplicate=False)


def dispatch(signup_id: int) -> None:
    """Send the provisioning task (run in-process when no broker is configured)."""
    from app.signup.tasks import provision_signup

    try:
        provision_signup.delay(signup_id)
    except Exception:
        # The signup is stored; its progress page sends it again (redispatch_if_stuck).
        log.exception("could not queue signup %s for provisioning", signup_id)


def redispatch_if_stuck(signup: Signup) -> None:
    """Send a signup again that no worker has taken up for a while."""
    if signup.status == SignupStatus.PENDING and signup.created_at < utcnow() - REDISPATCH_AFTER:
        dispatch(signup.id)


def provision(session: DbSession, engine: Engine, signup_id: int) -> SignupStatus:
    """Make the owner's identity and the workspace of a signup; commits.

    Idempotent: a signup that is ready, failed, or being provisioned by another worker
    is left as it is, and its status returned.
    """
    claimed = session.execute(
        update(Signup)
        .where(
            Signup.id == signup_id,
            or_(
                Signup.status == SignupStatus.PENDING,
                and_(
                    Signup.status == SignupStatus.PROVISIONING,
                    Signup.started_at < func.now() - STALE_AFTER,
                ),
            ),
        )
        .values(status=SignupStatus.PROVISIONING, started_at=func.now())
        .returning(Signup.id)
    ).scalar_one_or_none()
    if claimed is None:
        session.rollback()
        current = session.get(Signup, signup_id)
        return current.status if current is not None else SignupStatus.FAILED
    session.commit()

    signup = session.get(Signup, signup_id)
    assert signup is not None
    owner_id = _owner_for(session, signup)
    if owner_id is None:
        return _fail(session, signup_id, str(FAILURE_EMAIL_TAKEN))
    slug, name, plan, trial = signup.slug, signup.company_name, signup.plan, signup.trial
    actor = signup.email
    session.commit()

    def finish(conn: Connection, ref: TenantRef) -> None:
        # In the provisioning transaction: the workspace and "ready" are one fact.
        if trial:
            conn.execute(
                update(Tenant)
                .where(Tenant.id == ref.id)
                .values(trial_ends_at=func.now() + dt.timedelta(days=TRIAL_DAYS))
            )
        conn.execute(
            update(Signup)
            .where(Signup.id == signup_id)
            .values(
                status=SignupStatus.READY,
                tenant_id=ref.id,
                password_hash=None,
                error=None,
                finished_at=func.now(),
            )
        )

    try:
        provisioned = provision_tenant(
            engine,
            slug=slug,
            name=name,
            owner_user_id=owner_id,
            plan=plan,
            actor=actor,
            after_create=finish,
        )
    except SlugTaken:
        return _fail(session, signup_id, str(FAILURE_SLUG_TAKEN))
    except ProvisioningError:
        log.exception("signup %s: provisioning refused", signup_id)
        return _fail(session, signup_id, str(FAILURE_UNEXPECTED))
    except Exception:
        log.exception("signup %s: provisioning failed", signup_id)
        return _fail(session, signup_id, str(FAILURE_UNEXPECTED))

    session.expire_all()
    user = session.get(User, owner_id)
    tenant = session.get(Tenant, provisioned.id)
    assert user is not None and tenant is not None
    record_platform(
        session,
        actor=actor,
        action="signup.completed",
        tenant_id=tenant.id,
        details={"signup_id": signup_id, "user_id": user.id, "plan": plan, "trial": trial},
    )
    session.commit()
    try:
        request_email_verification(session, user=user, tenant=tenant)
    except Exception:
        # The workspace is ready; the banner's "resend" button recovers a lost mail.
        session.rollback()
        log.exception("signup %s: could not send the verification mail", signup_id)
    return SignupStatus.READY


def _owner_for(session: DbSession, signup: Signup) -> int | None:
    """The owner's user id: the identity the signup was attached to, or a new one made
    from the stored hash. None if the address got an identity in the meantime (which
    must not be taken over)."""
    if signup.user_id is not None:
        return signup.user_id
    if find_user_by_email(session, signup.email) is not None:
        return None
    user = User(email=signup.email, name=signup.owner_name, password_hash=signup.password_hash)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return None
    signup.user_id = user.id
    return user.id


def _fail(session: DbSession, signup_id: int, reason: str) -> SignupStatus:
    """Mark the signup failed, forget the password hash, and remove the identity it made
    (if that identity has no workspace): a later signup starts clean."""
    session.rollback()
    signup = session.get(Signup, signup_id)
    assert signup is not None
    made_here = signup.user_id is not None and signup.password_hash is not None
    if made_here and signup.user_id is not None:
        user = session.get(User, signup.user_id)
        has_workspace = session.scalar(
            select(Membership.id).where(Membership.user_id == signup.user_id).limit(1)
        )
        if user is not None and user.password_hash == signup.password_hash and not has_workspace:
            session.delete(user)
            signup.user_id = None
    signup.status = SignupStatus.FAILED
    signup.error = reason
    signup.password_hash = None
    signup.finished_at = utcnow()
    record_platform(
        session,
        actor=signup.email,
        action="signup.failed",
        details={"signup_id": signup_id, "slug": signup.slug, "reason": reason},
    )
    session.commit()
    return SignupStatus.FAILED


def issue_handoff(session: DbSession, signup: Signup) -> str | None:
    """A two-minute, single-use sign-in token for the new workspace; commits. None when
    the signup is not ready or was finished too long ago."""
    if signup.status != SignupStatus.READY or signup.tenant_id is None or signup.user_id is None:
        return None
    if signup.finished_at is None or signup.finished_at < utcnow() - HANDOFF_WINDOW:
        return None
    secret = tokens.issue(
        session,
        AccountTokenPurpose.LOGIN_HANDOFF,
        user_id=signup.user_id,
        tenant_id=signup.tenant_id,
    )
    session.commit()
    return secret


def accept_handoff(session: DbSession, raw_token: str, *, tenant_id: int) -> User | LinkProblem:
    """Spend a sign-in handoff token on the workspace it was made for; commits."""
    found = None
    if raw_token and len(raw_token) <= 200:
        found = session.scalars(
            select(AccountToken).where(
                AccountToken.token_hash == tokens.hash_secret(raw_token),
                AccountToken.purpose == AccountTokenPurpose.LOGIN_HANDOFF,
            )
        ).first()
    if found is None or found.tenant_id != tenant_id:
        return LinkProblem.UNKNOWN
    token = tokens.consume(session, AccountTokenPurpose.LOGIN_HANDOFF, raw_token)
    if token is None:
        session.rollback()
        return LinkProblem.SPENT
    user = session.get(User, token.user_id)
    session.commit()
    return user if user is not None else LinkProblem.SPENT


def find_max_per_ip_per_hour() -> int:
    """``FIND_WORKSPACE_MAX_PER_IP_PER_HOUR`` (default 5)."""
    return int(
        current_app.config.get(
            "FIND_WORKSPACE_MAX_PER_IP_PER_HOUR", DEFAULT_FIND_MAX_PER_IP_PER_HOUR
        )
    )


def mail_workspace_list(session: DbSession, *, email: str, ip_address: str | None) -> bool:
    """Mail ``email`` links to every live workspace where it is an active member; commits.

    False when the client has asked too often (counted per address in the throttle
    table, like failed sign-ins). The same queries run whether the address is anyone's
    or not, and the caller answers both alike; only the mail differs.
    """
    key = "find-workspace:" + throttle.ip_key(ip_address)
    if throttle.locked_until(session, key) is not None:
        session.rollback()
        return False
    throttle.record_failure(
        session, key, limit=find_max_per_ip_per_hour(), window_seconds=3600, lockout_seconds=3600
    )
    address = email.strip().lower()
    rows = session.execute(
        select(Tenant)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .join(User, User.id == Membership.user_id)
        .where(
            func.lower(User.email) == address,
            Membership.is_active.is_(True),
            Tenant.status.in_(LIVE_STATUSES),
        )
        .order_by(Tenant.name, Tenant.slug)
    ).scalars()
    workspaces = [
        {"name": t.name, "slug": t.slug, "url": workspace_url(t, "workspace.login")} for t in rows
    ]
    if workspaces:
        send_after_commit(
            session,
            compose(
                "find_workspaces",
                to=address,
                subject=_("Your CRM workspaces"),
                workspaces=workspaces,
            ),
        )
    session.commit()
    return True
