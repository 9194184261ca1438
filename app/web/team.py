"""Team pages on a workspace host: members, invitations, seats, and accepting an
invitation (the one page here that needs no sign-in).

Views only parse, authorize and call :mod:`app.identity.members`; refusals come back as
form errors or flashed messages, never as server errors.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.access.policy import may
from app.database import db
from app.hosts import workspace_blueprint
from app.identity import members as team
from app.identity.members import TeamError
from app.identity.models import Invitation, Membership, User
from app.identity.services import find_user_by_email
from app.identity.sessions import load_member, sign_in
from app.web import guards
from app.web.forms import show_error
from app.web.team_forms import (
    NO_REASSIGNMENT,
    AcceptExistingForm,
    AcceptNewForm,
    DeactivateForm,
    InviteForm,
    RoleForm,
    choices,
)
from app.web.workspace import ROLE_LABELS, member, plan_limit_message
from billing.limits import PlanLimitExceeded

bp = workspace_blueprint("team", __name__)
guards.install(bp)


@bp.app_context_processor
def _team_nav() -> dict[str, Any]:
    # App-wide: the workspace layout shows "Team" to members who may see it.
    return {"may_view_team": _may_view_team}


def _may_view_team() -> bool:
    return bool(current_user.is_authenticated and may(current_user.actor, "users", "view"))


# --------------------------------------------------------------------------- helpers


def _allowed(action: str) -> bool:
    return may(member().actor, "users", action)


def _require(action: str) -> None:
    if not _allowed(action):
        abort(403)


def _membership_or_404(user_id: int) -> tuple[Membership, User]:
    membership = team.membership_of(db.session, g.tenant.id, user_id)
    if membership is None:
        abort(404)
    return membership, membership.user


def _invitation_or_404(invitation_id: int) -> Invitation:
    invitation = team.invitation_of(db.session, g.tenant.id, invitation_id)
    if invitation is None:
        abort(404)
    return invitation


def _role_label(key: str, names: dict[str, str]) -> str:
    return str(ROLE_LABELS[key]) if key in ROLE_LABELS else names.get(key, key)


def _role_choices(*, invitable: bool) -> list[tuple[str, str]]:
    roles = team.invitable_roles(db.session) if invitable else team.tenant_roles(db.session)
    names = {role.key: role.name for role in roles}
    return choices([(role.key, _role_label(role.key, names)) for role in roles])


def _refusal_status(refusal: TeamError) -> int:
    return {"forbidden": 403, "unverified": 403, "conflict": 409, "throttled": 429}.get(
        refusal.code, 400
    )


def _back_to_team() -> Response:
    return redirect(url_for("team.members"))


# ----------------------------------------------------------------------------- pages


@bp.route("/settings/team", methods=["GET", "POST"])
@login_required
def members() -> str | Response | tuple[str, int]:
    """Members, pending invitations, seats, and the invitation form."""
    _require("view")
    me = member()
    form = InviteForm()
    form.role.choices = _role_choices(invitable=True)
    if form.role.data is None and form.role.choices:
        form.role.data = "sales_rep" if "sales_rep" in dict(form.role.choices) else None
    status = 200
    if request.method == "POST":
        _require("create")
        if form.validate_on_submit():
            try:
                issued = team.invite(
                    db.session,
                    tenant=g.tenant,
                    actor=me,
                    email=form.email.data,
                    role=form.role.data,
                )
            except TeamError as refusal:
                show_error(form, refusal.field, refusal.message)
                status = _refusal_status(refusal)
            except PlanLimitExceeded as refusal:
                form.form_errors = [*form.form_errors, plan_limit_message(refusal)]
                status = 402
            else:
                flash(_("Invitation sent to %(email)s.", email=issued.invitation.email), "success")
                return _back_to_team()
        else:
            status = 400
    page = _members_page(form)
    return (page, status) if status != 200 else page


def _members_page(form: InviteForm) -> str:
    me = member()
    rows = team.team_members(db.session, g.tenant.id)
    invitations = team.pending_invitations(db.session, g.tenant.id)
    inviters = {
        user.id: user
        for user in db.session.query(User).filter(
            User.id.in_({i.invited_by_id for i in invitations if i.invited_by_id})
        )
    }
    used, cap, plan_name = team.seat_usage(db.session)
    at_cap = team.would_exceed_seats(db.session)
    role_form = RoleForm()
    role_form.role.choices = _role_choices(invitable=False)
    is_owner = me.membership.role == team.OWNER_ROLE
    return render_template(
        "team/members.html",
        form=form,
        role_choices=role_form.role.choices,
        rows=rows,
        invitations=invitations,
        inviters=inviters,
        status_of=team.invitation_status,
        seats_used=used,
        seats_max=cap,
        plan_name=plan_name,
        at_cap=plan_limit_message(at_cap) if at_cap is not None else None,
        me=me,
        is_owner=is_owner,
        can_invite=_allowed("create"),
        can_edit=_allowed("edit"),
        can_deactivate=_allowed("delete"),
        verified=me.user.email_verified_at is not None,
        can_billing=may(me.actor, "billing", "edit"),
    )


@bp.post("/settings/team/<int:user_id>/role")
@login_required
def change_role(user_id: int) -> Response:
    """Give a member another role."""
    _require("edit")
    membership, user = _membership_or_404(user_id)
    labels = _role_choices(invitable=False)
    form = RoleForm()
    form.role.choices = labels
    if not form.validate_on_submit():
        flash(_("Choose one of the workspace's roles."), "error")
        return _back_to_team()
    role = form.role.data or ""
    try:
        team.change_role(
            db.session, tenant=g.tenant, actor=member(), membership=membership, role=role
        )
    except TeamError as refusal:
        flash(refusal.message, "error")
    else:
        flash(
            _("%(name)s is now %(role)s.", name=user.name or user.email, role=dict(labels)[role]),
            "success",
        )
    return _back_to_team()


@bp.route("/settings/team/<int:user_id>/deactivate", methods=["GET", "POST"])
@login_required
def deactivate(user_id: int) -> str | Response | tuple[str, int]:
    """Ask which member takes over the records, then deactivate."""
    _require("delete")
    membership, user = _membership_or_404(user_id)
    me = member()
    others = [
        (m, u)
        for m, u in team.team_members(db.session, g.tenant.id)
        if m.is_active and m.user_id != user.id
    ]
    form = DeactivateForm()
    form.reassign_to.choices = choices(
        [(NO_REASSIGNMENT, _("Nobody: they keep their records"))]
        + [(str(u.id), f"{u.name} <{u.email}>" if u.name else u.email) for _m, u in others]
    )
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                done = team.deactivate_member(
                    db.session,
                    tenant=g.tenant,
                    actor=me,
                    membership=membership,
                    reassign_to=form.reassign_to_id(),
                )
            except TeamError as refusal:
                show_error(form, refusal.field, refusal.message)
                status = _refusal_status(refusal)
            else:
                moved = sum(done.reassigned.values())
                message = _("%(name)s was deactivated.", name=user.name or user.email)
                if moved:
                    message += " " + _("%(count)s records were reassigned.", count=moved)
                flash(message, "success")
                return _back_to_team()
        else:
            status = 400
    page = render_template(
        "team/deactivate.html",
        form=form,
        target=user,
        membership=membership,
        owned=team.owned_records(db.session, user.id),
        kinds=team.OWNED_RECORD_KINDS,
        is_self=user.id == me.user.id,
    )
    return (page, status) if status != 200 else page


@bp.post("/settings/team/<int:user_id>/reactivate")
@login_required
def reactivate(user_id: int) -> Response:
    """Let a deactivated member back in (takes a seat)."""
    _require("create")
    membership, user = _membership_or_404(user_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        team.reactivate_member(db.session, tenant=g.tenant, actor=member(), membership=membership)
    except TeamError as refusal:
        flash(refusal.message, "error")
    except PlanLimitExceeded as refusal:
        flash(plan_limit_message(refusal), "error")
    else:
        flash(_("%(name)s is active again.", name=user.name or user.email), "success")
    return _back_to_team()


@bp.post("/settings/team/invitations/<int:invitation_id>/resend")
@login_required
def resend_invitation(invitation_id: int) -> Response:
    """Mail the invitation again with a new link."""
    _require("create")
    invitation = _invitation_or_404(invitation_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        team.resend_invitation(db.session, tenant=g.tenant, actor=member(), invitation=invitation)
    except TeamError as refusal:
        flash(refusal.message, "error")
    else:
        flash(_("Invitation sent again to %(email)s.", email=invitation.email), "success")
    return _back_to_team()


@bp.route("/settings/team/invitations/<int:invitation_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke_invitation(invitation_id: int) -> str | Response:
    """Ask, then withdraw an invitation (its seat comes free)."""
    _require("create")
    invitation = _invitation_or_404(invitation_id)
    form = FlaskForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            team.revoke_invitation(
                db.session, tenant=g.tenant, actor=member(), invitation=invitation
            )
        except TeamError as refusal:
            flash(refusal.message, "error")
        else:
            flash(_("The invitation to %(email)s was revoked.", email=invitation.email), "success")
        return _back_to_team()
    return render_template("team/revoke.html", invitation=invitation)


# ------------------------------------------------------------------------- accepting


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> str | Response | tuple[str, int]:
    """Join the workspace from an invitation link (no sign-in needed).

    Unknown links (and links of other workspaces) are 404; used, revoked and expired
    ones 410, each with a page that says what to do.
    """
    invitation = team.find_invitation(db.session, g.tenant.id, token)
    if invitation is None:
        abort(404)
    state = team.invitation_status(invitation)
    if state != "pending":
        return render_template("team/invitation_gone.html", state=state), 410
    inviter = db.session.get(User, invitation.invited_by_id) if invitation.invited_by_id else None
    existing = find_user_by_email(db.session, invitation.email)
    context: dict[str, Any] = {
        "invitation": invitation,
        "inviter": inviter,
        "role_name": _role_label(
            invitation.role, {r.key: r.name for r in team.tenant_roles(db.session)}
        ),
    }
    if current_user.is_authenticated:
        # Someone is signed in here already: the invitation is for another person (an
        # active member can not be invited), so do not mix the two up.
        page = render_template("team/accept.html", signed_in_as=member().user, **context)
        return (page, 409) if request.method == "POST" else page
    form: FlaskForm = AcceptExistingForm() if existing is not None else AcceptNewForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                user = team.accept_invitation(
                    db.session,
                    tenant=g.tenant,
                    raw=token,
                    password=form.data.get("password"),
                    name=form.data.get("name"),
                    remote_addr=request.remote_addr,
                )
            except TeamError as refusal:
                if refusal.code == "gone":
                    return render_template("team/invitation_gone.html", state="expired"), 410
                show_error(form, refusal.field, refusal.message)
                status = _refusal_status(refusal)
            else:
                joined = load_member(g.tenant.id, user.id)
                if joined is None:  # pragma: no cover - the membership was just committed
                    abort(409)
                sign_in(joined)
                flash(_("Welcome to %(workspace)s!", workspace=g.tenant.name), "success")
                return redirect(url_for("workspace.home"))
        else:
            status = 400
    page = render_template(
        "team/accept.html", form=form, existing=existing is not None, signed_in_as=None, **context
    )
    return (page, status) if status != 200 else page
