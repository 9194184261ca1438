"""Account services: signing in (with throttling and two-factor), password reset and
change, email change, profile, TOTP and recovery codes.

Each public function here is one transaction: it checks, writes, records a platform
audit entry and queues its mail to leave after the commit. Views only call them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
import time
import zoneinfo
from dataclasses import dataclass
from functools import cache

import pyotp
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.audit.services import record_platform
from app.database import DbSession, utcnow
from app.hosts import workspace_url
from app.identity import throttle, tokens
from app.identity.models import AccountToken, AccountTokenPurpose, ApiToken, User
from app.identity.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from app.identity.services import (
    IdentityError,
    active_membership,
    authenticate,
    find_user_by_email,
    normalize_email,
)
from app.input_rules import CONTROL_ANY
from app.mail.services import compose, send_after_commit
from tenants.models import Tenant

# The languages people can choose, as stored (BCP 47) -> their own name for it.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Русский",
    "ar": "العربية",
    "fa": "فارسی",
    "hy": "Հայերեն",
    "mn": "Монгол",
}
MAX_NAME_LENGTH = 200
RECOVERY_CODE_COUNT = 10
# TOTP (RFC 6238) with the defaults every authenticator app uses: 6 digits, 30 s.
TOTP_DIGITS = 6
TOTP_PERIOD = 30
# Codes from one step before and after are accepted, for clocks that drift a little.
TOTP_DRIFT_STEPS = 1


@cache
def time_zones() -> frozenset[str]:
    """Every IANA time zone name this system knows."""
    return frozenset(zoneinfo.available_timezones())


def _actor(user: User) -> str:
    return f"user:{user.id}"


# --------------------------------------------------------------------------- sign-in


@dataclass(frozen=True, slots=True)
class SignInResult:
    """What a sign-in step decided.

    ``user`` is set when the credentials were right; ``locked_until`` when sign-in is
    locked (then nothing was checked, or this failure reached the limit);
    ``needs_second_factor`` when the user must still give a TOTP or recovery code.
    """

    user: User | None = None
    locked_until: dt.datetime | None = None
    needs_second_factor: bool = False


def password_sign_in(
    session: DbSession,
    *,
    tenant_id: int,
    email: str,
    password: str,
    remote_addr: str | None,
    limits: throttle.Limits,
) -> SignInResult:
    """Check a sign-in form: throttling first, then the password.

    While the address or the client is locked the password is not even verified, so a
    guesser learns nothing, and the answer is the same for unknown addresses (they are
    counted too). A right password clears the address's count unless a second factor
    is still due: that step clears it, so wrong codes keep counting.
    """
    account = throttle.account_key(email)
    until = throttle.locked_until(session, account, throttle.ip_key(remote_addr))
    if until is not None:
        session.rollback()
        return SignInResult(locked_until=until)
    user = authenticate(session, tenant_id=tenant_id, email=email, password=password)
    if user is None:
        until = throttle.record_login_failure(
            session, email=email, remote_addr=remote_addr, limits=limits
        )
        session.commit()
        return SignInResult(locked_until=until)
    if user.password_hash and needs_rehash(user.password_hash):
        # Hashed with older, cheaper parameters: upgrade while the password is at hand.
        user.password_hash = hash_password(password)
    if user.totp_enabled_at is not None:
        session.commit()
        return SignInResult(user=user, needs_second_factor=True)
    throttle.clear(session, account)
    session.commit()
    return SignInResult(user=user)


def second_factor_sign_in(
    session: DbSession,
    *,
    user_id: int,
    tenant_id: int,
    code: str,
    remote_addr: str | None,
    limits: throttle.Limits,
) -> SignInResult:
    """Check the second step of a two-factor sign-in: a TOTP code or a recovery code.

    Wrong codes count against the account (and the client) like wrong passwords.
    """
    user = session.get(User, user_id)
    if user is None or user.totp_secret is None or user.totp_enabled_at is None:
        session.rollback()
        return SignInResult()
    account = throttle.account_key(user.email)
    until = throttle.locked_until(session, account, throttle.ip_key(remote_addr))
    if until is not None:
        session.rollback()
        return SignInResult(locked_until=until)
    used_recovery = False
    accepted = _accept_totp(session, user, code)
    if not accepted:
        used_recovery = accepted = _use_recovery_code(session, user, code)
    if not accepted:
        until = throttle.record_login_failure(
            session, email=user.email, remote_addr=remote_addr, limits=limits
        )
        session.commit()
        return SignInResult(locked_until=until)
    throttle.clear(session, account)
    if used_recovery:
        session.refresh(user)
        record_platform(
            session,
            actor=_actor(user),
            action="two_factor.recovery_code_used",
            tenant_id=tenant_id,
            details={"remaining": len(user.recovery_code_hashes)},
        )
    session.commit()
    return SignInResult(user=user)


# --------------------------------------------------------------------------- TOTP


def _code_digits(code: str) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != "-")


def _accept_totp(session: DbSession, user: User, code: str) -> bool:
    """Whether ``code`` is a TOTP code of ``user`` not used before; marks its step used.

    The step is recorded with a conditional UPDATE, so that of two requests carrying the
    same code (a replay, or a double submit) only one passes.
    """
    code = _code_digits(code)
    if user.totp_secret is None or len(code) != TOTP_DIGITS or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    now_step = int(time.time()) // TOTP_PERIOD
    for step in range(now_step - TOTP_DRIFT_STEPS, now_step + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD), code):
            claimed = session.execute(
                update(User)
                .where(
                    User.id == user.id,
                    (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .returning(User.id)
            ).scalar_one_or_none()
            return claimed is not None
    return False


def _recovery_hash(code: str) -> str:
    normalized = _code_digits(code).lower()
    return hashlib.sha256(normalized.encode()).hexdigest()


def _use_recovery_code(session: DbSession, user: User, code: str) -> bool:
    """Spend one recovery code (one conditional UPDATE, so it works exactly once)."""
    if not code or len(code) > 64:
        return False
    digest = _recovery_hash(code)
    removed = session.execute(
        update(User)
        .where(
            User.id == user.id,
            User.recovery_code_hashes.contains(func.jsonb_build_array(digest)),
        )
        .values(recovery_code_hashes=User.recovery_code_hashes.op("-")(digest))
        .returning(User.id)
    ).scalar_one_or_none()
    return removed is not None


def _new_recovery_codes(user: User) -> list[str]:
    """Fresh codes (shown once); only their hashes are kept on ``user``."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes
    codes = [
        "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    user.recovery_code_hashes = [_recovery_hash(code) for code in codes]
    return codes


def start_totp_enrolment(session: DbSession, user: User) -> str:
    """Give ``user`` a new, not yet confirmed TOTP secret (two-factor stays off until
    :func:`confirm_totp`); returns it."""
    if user.totp_enabled_at is not None:
        raise IdentityError(_("Two-factor sign-in is already on."))
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    session.commit()
    return user.totp_secret


def totp_uri(user: User, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    if user.totp_secret is None:
        raise IdentityError(_("Two-factor sign-in has not been set up."))
    return pyotp.TOTP(user.totp_secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=user.email, issuer_name=issuer
    )


def confirm_totp(session: DbSession, user: User, *, code: str, tenant_id: int) -> list[str]:
    """Turn two-factor on once the first code from the app is right; returns the new
    recovery codes (shown once)."""
    if user.totp_enabled_at is not None:
        raise IdentityError(_("Two-factor sign-in is already on."))
    if user.totp_secret is None:
        raise IdentityError(_("Start the set-up again."), field="code")
    if not _accept_totp(session, user, code):
        session.rollback()
        raise IdentityError(
            _("That code is not right. Check your device's clock and try the next code."),
            field="code",
        )
    session.refresh(user)
    user.totp_enabled_at = utcnow()
    codes = _new_recovery_codes(user)
    record_platform(session, actor=_actor(user), action="two_factor.enabled", tenant_id=tenant_id)
    session.commit()
    return codes


def _confirm_password(
    session: DbSession, user: User, password: str, *, field: str, message: str
) -> None:
    """Check the password a signed-in person types to confirm a sensitive change.

    Counted on the same per-address key as sign-in: someone holding a stolen session
    could otherwise guess the password on these forms without limit, then lock the owner
    out by changing it. While the address is locked the password is not checked."""
    key = throttle.account_key(user.email)
    until = throttle.locked_until(session, key)
    if until is None:
        if verify_password(user.password_hash, password):
            return
        limits = throttle.Limits.from_config()
        until = throttle.record_failure(
            session,
            key,
            limit=limits.per_account,
            window_seconds=limits.window_seconds,
            lockout_seconds=limits.lockout_seconds,
        )
        session.commit()  # the failure counts even though the change is refused
        if until is None:
            raise IdentityError(message, field=field)
    else:
        session.rollback()
    minutes = max(1, math.ceil((until - utcnow()).total_seconds() / 60))
    raise IdentityError(
        " ".join(
            [
                _("Too many wrong passwords: password checks are locked for now."),
                ngettext("Try again in %(num)d minute.", "Try again in %(num)d minutes.", minutes),
            ]
        ),
        field=field,
    )


def _check_second_factor(session: DbSession, user: User, code: str) -> None:
    if not (_accept_totp(session, user, code) or _use_recovery_code(session, user, code)):
        session.rollback()
        raise IdentityError(_("That code is not right."), field="code")


def disable_totp(
    session: DbSession, user: User, *, password: str, code: str, tenant_id: int
) -> None:
    """Turn two-factor off: needs the password and a current (or recovery) code."""
    if user.totp_enabled_at is None:
        raise IdentityError(_("Two-factor sign-in is already off."))
    _confirm_password(
        session, user, password, field="password", message=_("The password is not right.")
    )
    _check_second_factor(session, user, code)
    session.refresh(user)
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.recovery_code_hashes = []
    record_platform(session, actor=_actor(user), action="two_factor.disabled", tenant_id=tenant_id)
    session.commit()


def regenerate_recovery_codes(
    session: DbSession, user: User, *, code: str, tenant_id: int
) -> list[str]:
    """Replace every recovery code (the old ones stop working); needs a current code."""
    if user.totp_enabled_at is None:
        raise IdentityError(_("Two-factor sign-in is off."))
    _check_second_factor(session, user, code)
    session.refresh(user)
    codes = _new_recovery_codes(user)
    record_platform(
        session, actor=_actor(user), action="two_factor.recovery_codes_renewed", tenant_id=tenant_id
    )
    session.commit()
    return codes


def set_workspace_two_factor(
    session: DbSession, *, tenant_id: int, required: bool, by: User
) -> None:
    """Require (or stop requiring) two-factor sign-in from every member of a workspace.

    The caller has checked that ``by`` may edit the workspace's settings.
    """
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise IdentityError(_("This workspace does not exist."))
    if tenant.require_two_factor != required:
        tenant.require_two_factor = required
        record_platform(
            session,
            actor=_actor(by),
            action="workspace.two_factor_required" if required else "workspace.two_factor_optional",
            tenant_id=tenant_id,
        )
    session.commit()


# --------------------------------------------------------------------------- passwords


def _new_stamp() -> str:
    return secrets.token_hex(8)


def _check_new_password(user: User, password: str, field: str) -> None:
    problem = password_problem(password, user_inputs=[user.email, user.name])
    if problem is not None:
        raise IdentityError(_(problem), field=field)


def _revoke_api_tokens(session: DbSession, user: User, *, reason: str) -> int:
    """Revoke every live API token of ``user`` in every workspace; returns how many."""
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ApiToken.tenant_id, ApiToken.prefix)
    ).all()
    for tenant_id, prefix in revoked:
        record_platform(
            session,
            actor=_actor(user),
            action="api_token.revoked",
            tenant_id=tenant_id,
            reason=reason,
            details={"prefix": prefix},
        )
    return len(revoked)


def _set_password(
    session: DbSession, user: User, password: str, *, tenant: Tenant, action: str
) -> None:
    """Store a new password and end everything the old one opened: every session and
    "remember me" cookie (new stamp), every API token, every outstanding mail link and
    the failed sign-in count. The owner of the address is told."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.security_stamp = _new_stamp()
    revoked = _revoke_api_tokens(session, user, reason=action)
    tokens.revoke_all(session, user.id)
    throttle.clear(session, throttle.account_key(user.email))
    record_platform(
        session,
        actor=_actor(user),
        action=action,
        tenant_id=tenant.id,
        details={"api_tokens_revoked": revoked},
    )
    send_after_commit(
        session,
        compose(
            "password_changed",
            to=user.email,
            subject=_("Your password was changed"),
            name=user.name,
            workspace=tenant.name,
            reset_url=workspace_url(tenant, "account.forgot_password"),
        ),
    )


def change_password(
    session: DbSession, user: User, *, current: str, new: str, tenant: Tenant
) -> None:
    """Change a signed-in user's password (the current one proves it is them)."""
    _confirm_password(
        session,
        user,
        current,
        field="current_password",
        message=_("The current password is not right."),
    )
    _check_new_password(user, new, "new_password")
    _set_password(session, user, new, tenant=tenant, action="password.changed")
    session.commit()


def _live_token(
    session: DbSession, purpose: AccountTokenPurpose, raw: str, tenant_id: int
) -> AccountToken | None:
    """The live token for ``raw`` if it belongs to this workspace and its user is still
    an active member here; tokens of other workspaces are answered like unknown ones."""
    token = tokens.peek(session, purpose, raw)
    if token is None or token.tenant_id != tenant_id:
        return None
    if active_membership(session, token.user_id, tenant_id) is None:
        return None
    return token


def request_password_reset(session: DbSession, *, tenant: Tenant, email: str) -> None:
    """Mail a reset link if ``email`` is an active member of ``tenant``; otherwise do
    nothing. The caller answers the same either way, and at most
    ``PASSWORD_RESET_MAILS_PER_HOUR`` mails go to one account in an hour."""
    try:
        email = normalize_email(email)
    except IdentityError:
        return
    user = find_user_by_email(session, email)
    if user is None or active_membership(session, user.id, tenant.id) is None:
        session.rollback()
        return
    # Serialise concurrent requests for one account, so the hourly cap holds exactly.
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    recent = session.scalar(
        select(func.count())
        .select_from(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == AccountTokenPurpose.RESET_PASSWORD,
            AccountToken.created_at > func.now() - dt.timedelta(hours=1),
        )
    )
    if (recent or 0) >= int(current_app.config["PASSWORD_RESET_MAILS_PER_HOUR"]):
        session.rollback()
        return
    secret = tokens.issue(
        session, AccountTokenPurpose.RESET_PASSWORD, user_id=user.id, tenant_id=tenant.id
    )
    record_platform(
        session, actor=_actor(user), action="password.reset_requested", tenant_id=tenant.id
    )
    send_after_commit(
        session,
        compose(
            "reset_password",
            to=user.email,
            subject=_("Reset your password for %(workspace)s", workspace=tenant.name),
            name=user.name,
            workspace=tenant.name,
            url=workspace_url(tenant, "account.reset_password", token=secret),
        ),
    )
    session.commit()


def reset_link_user(session: DbSession, *, tenant_id: int, raw: str) -> User | None:
    """The user a live reset link of this workspace is for (the link stays unused)."""
    token = _live_token(session, AccountTokenPurpose.RESET_PASSWORD, raw, tenant_id)
    return token.user if token is not None else None


def reset_password(session: DbSession, *, tenant: Tenant, raw: str, new: str) -> User | None:
    """Set a new password through a reset link; None if the link is not (or no longer)
    good here. A refused password leaves the link usable."""
    token = _live_token(session, AccountTokenPurpose.RESET_PASSWORD, raw, tenant.id)
    if token is None:
        return None
    _check_new_password(token.user, new, "password")
    spent = tokens.consume(session, AccountTokenPurpose.RESET_PASSWORD, raw)
    if spent is None:  # another request used it a moment ago
        session.rollback()
        return None
    user = spent.user
    if user.email_verified_at is None:
        # Following a link mailed to the address proves the address.
        user.email_verified_at = utcnow()
    _set_password(session, user, new, tenant=tenant, action="password.reset")
    session.commit()
    return user


# --------------------------------------------------------------------------- email


def request_email_change(
    session: DbSession, user: User, *, password: str, new_email: str, tenant: Tenant
) -> str:
    """Mail a confirmation link to the new address; the address changes only when it
    is followed. Returns the normalised new address."""
    _confirm_password(
        session, user, password, field="password", message=_("The password is not right.")
    )
    try:
        new_email = normalize_email(new_email)
    except IdentityError:
        raise IdentityError(_("Enter a valid email address."), field="new_email") from None
    if new_email == user.email.lower():
        raise IdentityError(_("This is already your address."), field="new_email")
    if find_user_by_email(session, new_email) is not None:
        raise IdentityError(_("This address is used by another account."), field="new_email")
    tokens.revoke_all(session, user.id, AccountTokenPurpose.CHANGE_EMAIL)
    secret = tokens.issue(
        session,
        AccountTokenPurpose.CHANGE_EMAIL,
        user_id=user.id,
        tenant_id=tenant.id,
        payload={"email": new_email},
    )
    record_platform(
        session,
        actor=_actor(user),
        action="email.change_requested",
        tenant_id=tenant.id,
        details={"new_email": new_email},
    )
    send_after_commit(
        session,
        compose(
            "change_email",
            to=new_email,
            subject=_("Confirm your new email address"),
            name=user.name,
            workspace=tenant.name,
            old_email=user.email,
            new_email=new_email,
            url=workspace_url(tenant, "account.confirm_email", token=secret),
        ),
    )
    session.commit()
    return new_email


def email_change_link(session: DbSession, *, tenant_id: int, raw: str) -> AccountToken | None:
    """The live email-change link of this workspace for ``raw`` (left unused)."""
    return _live_token(session, AccountTokenPurpose.CHANGE_EMAIL, raw, tenant_id)


def confirm_email_change(session: DbSession, *, tenant: Tenant, raw: str) -> User | None:
    """Follow an email-change link: the address changes if it is still free, and the
    old address is told. None if the link is not (or no longer) good here."""
    if email_change_link(session, tenant_id=tenant.id, raw=raw) is None:
        return None
    spent = tokens.consume(session, AccountTokenPurpose.CHANGE_EMAIL, raw)
    if spent is None:
        session.rollback()
        return None
    user = spent.user
    new_email = str(spent.payload.get("email") or "")
    taken = find_user_by_email(session, new_email)
    if not new_email or (taken is not None and taken.id != user.id):
        session.rollback()
        raise IdentityError(_("This address is now used by another account."))
    old_email = user.email
    user.email = new_email
    user.email_verified_at = utcnow()
    # Links mailed to the old address must not outlive the change.
    tokens.revoke_all(session, user.id, AccountTokenPurpose.RESET_PASSWORD)
    record_platform(
        session,
        actor=_actor(user),
        action="email.changed",
        tenant_id=tenant.id,
        details={"old_email": old_email, "new_email": new_email},
    )
    send_after_commit(
        session,
        compose(
            "email_changed",
            to=old_email,
            subject=_("Your email address was changed"),
            name=user.name,
            workspace=tenant.name,
            old_email=old_email,
            new_email=new_email,
        ),
    )
    try:
        session.commit()
    except IntegrityError:
        # Someone took the address between the check and the commit.
        session.rollback()
        raise IdentityError(_("This address is now used by another account.")) from None
    return user


# --------------------------------------------------------------------------- profile


def update_profile(
    session: DbSession,
    user: User,
    *,
    name: str,
    locale: str,
    timezone: str,
    tenant_id: int,
) -> None:
    """Save name, language and time zone (checked here as well as in the form)."""
    name = (name or "").strip()
    if CONTROL_ANY.search(name):
        raise IdentityError(_("Remove the invisible control characters."), field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise IdentityError(_("Use at most %(max)s characters.", max=MAX_NAME_LENGTH), field="name")
    if locale not in LANGUAGES:
        raise IdentityError(_("Choose a language from the list."), field="locale")
    if timezone not in time_zones():
        raise IdentityError(_("Choose a time zone from the list."), field="timezone")
    changed = {
        field: value
        for field, value in (("name", name), ("locale", locale), ("timezone", timezone))
        if getattr(user, field) != value
    }
    if changed:
        for field, value in changed.items():
            setattr(user, field, value)
        record_platform(
            session,
            actor=_actor(user),
            action="profile.updated",
            tenant_id=tenant_id,
            details={"fields": sorted(changed)},
        )
    session.commit()
