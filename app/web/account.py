"""Account pages on a workspace host: password reset, the second sign-in step,
profile (name, language, time zone, email, password) and two-factor settings.

Views parse a form, call one service of :mod:`app.identity.account` and answer; pages
that show secrets (QR code, recovery codes) or carry a token in their address are
never cached and send no referrer.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import segno
from flask import (
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.access.policy import may
from app.database import db, utcnow
from app.hosts import workspace_blueprint
from app.identity import account
from app.identity.models import User
from app.identity.services import IdentityError
from app.identity.sessions import Member, load_member, sign_in
from app.identity.throttle import Limits
from app.web import guards, security
from app.web.account_forms import (
    NEW_PASSWORD_HINT,
    ConfirmTotpForm,
    DisableTotpForm,
    EmailChangeForm,
    EmptyForm,
    ForgotPasswordForm,
    PasswordChangeForm,
    ProfileForm,
    RecoveryCodesForm,
    ResetPasswordForm,
    TwoFactorLoginForm,
    WorkspaceSecurityForm,
)
from app.web.forms import show_error

bp = workspace_blueprint("account", __name__)
guards.install(bp)

# The signed session key of a sign-in waiting for its second factor.
PENDING_KEY = "pending_second_factor"
PENDING_SECONDS = 300

Page = str | Response | tuple[str, int]


def _member() -> Member:
    current: Member = current_user._get_current_object()
    return current


def _user() -> User:
    return _member().user


# --------------------------------------------------------------------------- sign-in


def lockout_message(until: dt.datetime) -> str:
    """ "Sign-in is locked", and for how long, in words people read at a glance."""
    minutes = max(1, math.ceil((until - utcnow()).total_seconds() / 60))
    return " ".join(
        [
            _("Too many failed sign-in attempts: sign-in is locked for now."),
            ngettext("Try again in %(num)d minute.", "Try again in %(num)d minutes.", minutes),
        ]
    )


def locked_response(template: str, until: dt.datetime, **context: Any) -> Response:
    """The sign-in page with the lockout notice: 429, with ``Retry-After``."""
    response = make_response(
        render_template(template, locked_message=lockout_message(until), **context), 429
    )
    response.headers["Retry-After"] = str(max(1, math.ceil((until - utcnow()).total_seconds())))
    return response


def begin_second_factor(user: User, *, remember: bool, next_url: str) -> Response:
    """Remember (in the signed session) that the password was right, and ask for the
    code. The state names the workspace and the user's security stamp, and lasts five
    minutes: it can not be carried elsewhere nor outlive a password change."""
    session.clear()
    session[PENDING_KEY] = {
        "user": user.id,
        "tenant": g.tenant.id,
        "stamp": user.security_stamp,
        "remember": remember,
        "next": next_url,
        "expires": int(time.time()) + PENDING_SECONDS,
    }
    return redirect(url_for("account.login_two_factor"))


def _pending() -> dict[str, Any] | None:
    state = session.get(PENDING_KEY)
    if not isinstance(state, dict):
        return None
    if state.get("tenant") != g.tenant.id or int(state.get("expires", 0)) < time.time():
        session.pop(PENDING_KEY, None)
        return None
    return state


@bp.route("/login/two-factor", methods=["GET", "POST"])
def login_two_factor() -> Page:
    """The second sign-in step: a code from the authenticator app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("workspace.home"))
    state = _pending()
    if state is None:
        flash(_("Your sign-in took too long. Please sign in again."), "info")
        return redirect(url_for("workspace.login"))
    form = TwoFactorLoginForm()
    if form.validate_on_submit():
        result = account.second_factor_sign_in(
            db.session,
            user_id=int(state["user"]),
            tenant_id=g.tenant.id,
            code=form.code.data or "",
            remote_addr=request.remote_addr,
            limits=Limits.from_config(),
        )
        if result.locked_until is not None:
            session.pop(PENDING_KEY, None)
            return locked_response("account/two_factor_login.html", result.locked_until, form=form)
        if result.user is not None:
            found = load_member(g.tenant.id, result.user.id)
            if found is None or result.user.security_stamp != state["stamp"]:
                session.pop(PENDING_KEY, None)
                return redirect(url_for("workspace.login"))
            sign_in(found, remember=bool(state.get("remember")))
            return redirect(str(state.get("next") or url_for("workspace.home")))
        form.code.errors = [*form.code.errors, _("That code is not right.")]
    return render_template("account/two_factor_login.html", form=form)


# --------------------------------------------------------------------------- reset


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> Page:
    """Ask for a reset link. The answer never says whether the address is a member."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        account.request_password_reset(db.session, tenant=g.tenant, email=form.email.data or "")
        return render_template("account/forgot_password_sent.html", email=form.email.data)
    return render_template("account/forgot_password.html", form=form)


def _bad_link(kind: str) -> tuple[str, int]:
    return render_template("account/bad_link.html", kind=kind), 400


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Page:
    """Choose a new password through a mailed link (looked at on GET, spent on POST)."""
    security.token_page()
    if account.reset_link_user(db.session, tenant_id=g.tenant.id, raw=token) is None:
        return _bad_link("reset")
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = account.reset_password(
                db.session, tenant=g.tenant, raw=token, new=form.password.data or ""
            )
        except IdentityError as refusal:
            show_error(form, refusal.field, str(refusal))
        else:
            found = load_member(g.tenant.id, user.id) if user is not None else None
            if found is None:
                return _bad_link("reset")
            sign_in(found)
            flash(_("Your password was changed. You are signed in."), "success")
            return redirect(url_for("workspace.home"))
    return render_template("account/reset_password.html", form=form, hint=NEW_PASSWORD_HINT)


# --------------------------------------------------------------------------- profile


def _profile_page(
    profile: ProfileForm | None = None,
    email: EmailChangeForm | None = None,
    password: PasswordChangeForm | None = None,
) -> tuple[str, int]:
    user = _user()
    if profile is None:
        profile = ProfileForm(
            formdata=None,
            data={
                "name": user.name,
                "locale": user.locale or "en",
                "timezone": user.timezone or "UTC",
            },
        )
    return (
        render_template(
            "account/profile.html",
            profile_form=profile,
            email_form=email or EmailChangeForm(formdata=None),
            password_form=password or PasswordChangeForm(formdata=None),
            hint=NEW_PASSWORD_HINT,
        ),
        200,
    )


@bp.route("/settings/profile", methods=["GET", "POST"])
@login_required
def profile() -> Page:
    """Name, language and time zone; the email and password forms post elsewhere."""
    if request.method == "GET":
        return _profile_page()
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            account.update_profile(
                db.session,
                _user(),
                name=form.name.data or "",
                locale=form.locale.data or "",
                timezone=form.timezone.data or "",
                tenant_id=g.tenant.id,
            )
        except IdentityError as refusal:
            show_error(form, refusal.field, str(refusal))
        else:
            flash(_("Profile saved."), "success")
            return redirect(url_for("account.profile"))
    return _profile_page(profile=form)


@bp.post("/settings/profile/email")
@login_required
def change_email() -> Page:
    """Start an email change: a link goes to the new address."""
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            new_email = account.request_email_change(
                db.session,
                _user(),
                password=form.email_password.data or "",
                new_email=form.new_email.data or "",
                tenant=g.tenant,
            )
        except IdentityError as refusal:
            show_error(form, refusal.field, str(refusal))
        else:
            flash(
                _(
                    "We sent a link to %(email)s. Your address changes when you follow it.",
                    email=new_email,
                ),
                "info",
            )
            return redirect(url_for("account.profile"))
    return _profile_page(email=form)


@bp.route("/settings/email/<token>", methods=["GET", "POST"])
@login_required
def confirm_email(token: str) -> Page:
    """Follow an email-change link (signed in as its owner): confirm, then change."""
    security.token_page()
    link = account.email_change_link(db.session, tenant_id=g.tenant.id, raw=token)
    if link is None or link.user_id != _user().id:
        return _bad_link("email")
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            user = account.confirm_email_change(db.session, tenant=g.tenant, raw=token)
        except IdentityError as refusal:
            flash(str(refusal), "error")
            return redirect(url_for("account.profile"))
        if user is None:
            return _bad_link("email")
        flash(_("Your email address is now %(email)s.", email=user.email), "success")
        return redirect(url_for("account.profile"))
    return render_template(
        "account/confirm_email.html", form=form, new_email=link.payload.get("email", "")
    )


@bp.post("/settings/profile/password")
@login_required
def change_password() -> Page:
    """Change the password: every other session ends, this browser stays signed in."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            account.change_password(
                db.session,
                _user(),
                current=form.current_password.data or "",
                new=form.new_password.data or "",
                tenant=g.tenant,
            )
        except IdentityError as refusal:
            show_error(form, refusal.field, str(refusal))
        else:
            found = load_member(g.tenant.id, _user().id)
            if found is None:
                return redirect(url_for("workspace.login"))
            # A new session with the new stamp; every other one (and every "remember
            # me" cookie) carries the old stamp and is over.
            sign_in(found)
            flash(_("Password changed. You were signed out everywhere else."), "success")
            return redirect(url_for("account.profile"))
    return _profile_page(password=form)


# --------------------------------------------------------------------------- two-factor


def qr_svg(data: str) -> Markup:
    """An inline SVG QR code (no external image, no script), sized by the stylesheet."""
    qr = segno.make(data, error="m")
    svg = qr.svg_inline(scale=4, dark="#1f2430", light="#ffffff", omitsize=True)
    return Markup(svg)  # noqa: S704 - segno's own SVG markup, from a value we built


def _security_page(
    *,
    confirm: ConfirmTotpForm | None = None,
    disable: DisableTotpForm | None = None,
    renew: RecoveryCodesForm | None = None,
    status: int = 200,
) -> Response:
    user = _user()
    setting_up = user.totp_enabled_at is None and user.totp_secret is not None
    context: dict[str, Any] = {
        "user": user,
        "enabled": user.totp_enabled_at is not None,
        "setting_up": setting_up,
        "required": bool(g.tenant.require_two_factor),
        "confirm_form": confirm or ConfirmTotpForm(formdata=None),
        "disable_form": disable or DisableTotpForm(formdata=None),
        "renew_form": renew or RecoveryCodesForm(formdata=None),
        "start_form": EmptyForm(formdata=None),
        "can_manage_workspace": may(_member().actor, "settings", "edit"),
        "workspace_form": WorkspaceSecurityForm(
            formdata=None, data={"require_two_factor": bool(g.tenant.require_two_factor)}
        ),
    }
    if setting_up:
        uri = account.totp_uri(user, issuer=g.tenant.name or g.tenant.slug)
        context["qr"] = qr_svg(uri)
        context["secret"] = user.totp_secret
    response = make_response(render_template("account/security.html", **context), status)
    if setting_up:
        security.no_store(response)
    return response


@bp.get("/settings/security")
@login_required
def security_settings() -> Response:
    """Two-factor status, set-up and recovery codes; the workspace rule for admins."""
    return _security_page()


@bp.post("/settings/security/two-factor/setup")
@login_required
def totp_start() -> Response:
    """Make a new secret and show its QR code (two-factor is on after the first code)."""
    if EmptyForm().validate_on_submit():
        try:
            account.start_totp_enrolment(db.session, _user())
        except IdentityError as refusal:
            flash(str(refusal), "error")
    return redirect(url_for("account.security_settings"))


def _codes_page(codes: list[str]) -> Response:
    response = make_response(render_template("account/recovery_codes.html", codes=codes))
    return security.no_store(response)


@bp.post("/settings/security/two-factor/confirm")
@login_required
def totp_confirm() -> Response:
    """The first code turns two-factor on; the recovery codes are shown once."""
    form = ConfirmTotpForm()
    if form.validate_on_submit():
        try:
            codes = account.confirm_totp(
                db.session, _user(), code=form.code.data or "", tenant_id=g.tenant.id
            )
        except IdentityError as refusal:
            show_error(form, refusal.field, str(refusal))
        else:
            return _codes_page(codes)
    return _security_page(confirm=form)


@bp.post("/settings/security/two-factor/disable")
@login_required
def totp_disable() -> Response:
    """Turn two-factor off (password and a code)."""
    if _user().totp_enabled_at is None:
        return redirect(url_for("account.security_settings"))
    form = DisableTotpForm()
    if form.validate_on_submit():
        try:
            account.disable_totp(
                db.session,
                _user(),
                password=form.password.data or "",
                code=form.code.data or "",
                tenant_id=g.tenant.id,
            )
        except IdentityError as refusal:
            show_error(form, refusal.field, str(refusal))
        else:
            flash(_("Two-factor sign-in is off."), "success")
            return redirect(url_for("account.security_settings"))
    return _security_page(disable=form)


@bp.post("/settings/security/recovery-codes")
@login_required
def recovery_codes() -> Response:
    """New recovery codes (the old ones stop working)."""
    if _user().totp_enabled_at is None:
        return redirect(url_for("account.security_settings"))
    form = RecoveryCodesForm()
    if form.validate_on_submit():
        try:
            codes = account.regenerate_recovery_codes(
                db.session, _user(), code=form.renew_code.data or "", tenant_id=g.tenant.id
            )
        except IdentityError as refusal:
            show_error(form, refusal.field, str(refusal))
        else:
            return _codes_page(codes)
    return _security_page(renew=form)


@bp.post("/settings/security/workspace")
@login_required
def workspace_security() -> Response:
    """Require (or not) two-factor sign-in from every member: workspace admins only."""
    if not may(_member().actor, "settings", "edit"):
        abort(403)
    form = WorkspaceSecurityForm()
    if form.validate_on_submit():
        required = bool(form.require_two_factor.data)
        account.set_workspace_two_factor(
            db.session, tenant_id=g.tenant.id, required=required, by=_user()
        )
        flash(
            _("Every member now needs two-factor sign-in.")
            if required
            else _("Two-factor sign-in is now up to each member."),
            "success",
        )
    return redirect(url_for("account.security_settings"))
