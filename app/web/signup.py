"""Online signup on the apex host, and the first steps on the new workspace's host.

``signup`` (apex): the form, the live address check, the progress page and its status.
``onboarding`` (workspace hosts): the sign-in handoff from the progress page, email
verification and its "resend" button.

Only the browser that signed up may see a signup's progress: its secret is in the URL
and in that browser's apex session.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.database import db
from app.hosts import workspace_blueprint
from app.identity.models import User
from app.identity.sessions import load_member, sign_in
from app.identity.verification import (
    LinkProblem,
    VerificationRequest,
    request_email_verification,
)
from app.identity.verification import (
    verify_email as spend_verification,
)
from app.signup import services, slugs
from app.signup.models import Signup, SignupStatus
from app.web import guards
from app.web.signup_forms import SignupForm, new_form_id

bp = Blueprint("signup", __name__)

onboarding = workspace_blueprint("onboarding", __name__)
guards.install(onboarding)

_SESSION_KEY = "signup_tokens"
_REMEMBERED = 5  # signups one browser keeps track of
PROGRESS = {
    SignupStatus.PENDING: 15,
    SignupStatus.PROVISIONING: 60,
    SignupStatus.READY: 100,
    SignupStatus.FAILED: 100,
}


def _remember(token: str) -> None:
    known = [t for t in session.get(_SESSION_KEY, []) if t != token]
    session[_SESSION_KEY] = [*known, token][-_REMEMBERED:]


def _own_signup(token: str) -> Signup:
    """The signup of ``token`` if this browser made it; 404 otherwise."""
    if token not in session.get(_SESSION_KEY, []):
        abort(404)
    signup = services.find_signup(db.session, token)
    if signup is None:
        abort(404)
    return signup


def _client_ip() -> str | None:
    return request.remote_addr


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    """The signup form; a valid one is stored and provisioned, then the progress page."""
    form = SignupForm()
    notice: str | None = None
    suggestions: list[str] = []
    if request.method == "GET":
        _prefill_after_failure(form, request.args.get("retry", ""))
    elif form.website.data:
        # A bot filled in the hidden field: nothing is stored, nothing is said about why.
        notice = _("Your signup could not be accepted. Please try again.")
        return _form_page(form, notice, suggestions, status=400)
    elif form.validate_on_submit():
        try:
            started = services.start_signup(
                db.session,
                services.SignupRequest(
                    company_name=form.company_name.data or "",
                    slug=form.slug.data or "",
                    owner_name=form.owner_name.data or "",
                    email=form.email.data or "",
                    password=form.password.data or "",
                    plan_choice=form.plan.data or "free",
                    form_id=form.form_id.data or new_form_id(),
                    ip_address=_client_ip(),
                ),
            )
        except services.SignupRateLimited:
            notice = _(
                "Too many workspaces were created from your network in the last hour. "
                "Please try again later."
            )
            return _form_page(form, notice, suggestions, status=429)
        except services.SignupRefused as refused:
            for name, messages in refused.details.items():
                getattr(form, name).errors = [*getattr(form, name).errors, *messages]
            suggestions = refused.suggestions
        else:
            _remember(started.token)
            return redirect(url_for("signup.progress", token=started.token), code=303)
    return _form_page(form, notice, suggestions)


def _form_page(
    form: SignupForm, notice: str | None, suggestions: list[str], status: int = 200
) -> tuple[str, int]:
    return render_template(
        "signup/form.html", form=form, notice=notice, suggestions=suggestions
    ), status


def _prefill_after_failure(form: SignupForm, token: str) -> None:
    """After a failed signup, the form comes back with what was typed (no password)."""
    if not token or token not in session.get(_SESSION_KEY, []):
        return
    failed = services.find_signup(db.session, token)
    if failed is None or failed.status != SignupStatus.FAILED:
        return
    form.company_name.data = failed.company_name
    form.slug.data = failed.slug
    form.owner_name.data = failed.owner_name
    form.email.data = failed.email
    form.plan.data = "pro_trial" if failed.trial else "free"


@bp.get("/signup/check-slug")
def check_slug() -> Response:
    """Whether a workspace address can be had, with free alternatives (for the form's
    live check; the form itself checks again)."""
    slug = request.args.get("slug", "")[:100].strip()
    company = request.args.get("company", "")[:200]
    problem = slugs.slug_problem(slug)
    available = problem is None and not slugs.is_taken(db.session, slug)
    if problem is not None:
        message = problem
    elif available:
        message = _("%(slug)s is available.", slug=slug)
    else:
        message = _("This address is taken.")
    return jsonify(
        slug=slug,
        available=available,
        message=message,
        suggestions=[]
        if available
        else slugs.suggestions(db.session, company_name=company, slug=slug),
    )


@bp.get("/signup/<token>")
def progress(token: str) -> Any:
    """Progress of a signup; once ready, the new workspace, signed in."""
    signup = _own_signup(token)
    if signup.status == SignupStatus.READY:
        handoff = services.issue_handoff(db.session, signup)
        tenant_slug = _slug_of(signup)
        if handoff is not None and tenant_slug is not None:
            return redirect(
                url_for(
                    "onboarding.welcome",
                    tenant_slug=tenant_slug,
                    token=handoff,
                    _external=True,
                )
            )
    services.redispatch_if_stuck(signup)
    response = Response(
        render_template(
            "signup/progress.html",
            signup=signup,
            token=token,
            progress=PROGRESS[signup.status],
            tenant_slug=_slug_of(signup),
        )
    )
    if signup.status in (SignupStatus.PENDING, SignupStatus.PROVISIONING):
        response.headers["Cache-Control"] = "no-store"
    return response


def _slug_of(signup: Signup) -> str | None:
    from tenants.models import Tenant

    if signup.tenant_id is None:
        return None
    tenant = db.session.get(Tenant, signup.tenant_id)
    return tenant.slug if tenant is not None else None


@bp.get("/signup/<token>/status")
def status(token: str) -> Response:
    """The signup's status as JSON, polled by the progress page."""
    signup = _own_signup(token)
    response = jsonify(
        status=str(signup.status),
        progress=PROGRESS[signup.status],
        done=signup.status in (SignupStatus.READY, SignupStatus.FAILED),
        next=url_for("signup.progress", token=token),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------- workspace hosts


def _link_problem_page(problem: LinkProblem, kind: str) -> tuple[str, int]:
    status_code = 404 if problem == LinkProblem.UNKNOWN else 400
    return render_template("signup/link_invalid.html", kind=kind, status=status_code), status_code


@onboarding.get("/welcome")
def welcome() -> Any:
    """Sign the new owner in with the handoff token from the progress page."""
    outcome = services.accept_handoff(
        db.session, request.args.get("token", ""), tenant_id=g.tenant.id
    )
    if not isinstance(outcome, User):
        return _link_problem_page(outcome, "welcome")
    found = load_member(g.tenant.id, outcome.id)
    if found is None:
        return _link_problem_page(LinkProblem.SPENT, "welcome")
    sign_in(found)
    flash(
        _("Welcome to %(workspace)s! Your workspace is ready.", workspace=g.tenant.name), "success"
    )
    return redirect(url_for("workspace.home"))


@onboarding.get("/verify-email/<token>")
def verify_email(token: str) -> Any:
    """Spend a verification link (signed in or not) and say so."""
    outcome = spend_verification(db.session, token, tenant_id=g.tenant.id)
    if not isinstance(outcome, User):
        return _link_problem_page(outcome, "verify")
    return render_template("signup/verified.html")


@onboarding.post("/verify-email/resend")
@login_required
def resend_verification() -> Response:
    """Send the verification mail again (at most one a minute)."""
    user = db.session.get(User, current_user.id)
    if user is None:
        abort(404)
    result = request_email_verification(db.session, user=user, tenant=g.tenant)
    if result == VerificationRequest.SENT:
        flash(_("We sent a new confirmation link to %(email)s.", email=user.email), "success")
    elif result == VerificationRequest.TOO_SOON:
        flash(_("A link was sent less than a minute ago. Please wait a moment."), "error")
    else:
        flash(_("Your email address is already confirmed."), "info")
    return redirect(url_for("workspace.home"))
