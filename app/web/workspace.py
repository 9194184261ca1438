"""Pages of a workspace host (``<slug>.<domain>``): sign-in and contacts."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from app.access.policy import may, record_in_scope
from app.api.pagination import page, paginate, parse_sort
from app.contacts import services as contact_services
from app.contacts.models import Contact
from app.database import db
from app.errors import ApiError
from app.hosts import workspace_blueprint
from app.identity.services import authenticate
from app.identity.sessions import Member, load_member
from app.web.forms import ContactForm, LoginForm
from tenants.models import TenantStatus

bp = workspace_blueprint("workspace", __name__)

PAGE_SIZE = 25
SORTS = {
    "created_at": (Contact.created_at, "datetime"),
    "last_name": (Contact.last_name, "str"),
    "email": (Contact.email, "str"),
}
OPEN_ENDPOINTS = frozenset({"workspace.login", "workspace.suspended"})


@bp.before_request
def _guard() -> Response | None:
    # Loading the member flags a cookie that names another workspace (or a removed
    # member); such a visitor gets "not found", as if the workspace were not there.
    _ = current_user.is_authenticated
    if g.get("foreign_identity"):
        abort(404)
    if g.tenant.status == TenantStatus.SUSPENDED and request.endpoint != "workspace.suspended":
        return redirect(url_for("workspace.suspended"))
    return None


def member() -> Member:
    """The signed-in member."""
    current: Member = current_user._get_current_object()
    return current


def _safe_next(target: str | None) -> str:
    # Only same-host paths: never an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("workspace.contacts")


@bp.get("/suspended")
def suspended() -> str | Response:
    """The page every user of a suspended workspace sees."""
    if g.tenant.status != TenantStatus.SUSPENDED:
        return redirect(url_for("workspace.home"))
    return render_template("workspace/suspended.html"), 403  # type: ignore[return-value]


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """Sign in to this workspace."""
    if current_user.is_authenticated:
        return redirect(url_for("workspace.contacts"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, tenant_id=g.tenant.id, email=form.email.data or "", password=form.password.data or "")
        if user is not None:
            found = load_member(g.tenant.id, user.id)
            if found is not None:
                login_user(found, remember=bool(form.remember.data))
                return redirect(_safe_next(request.args.get("next")))
        form.password.errors = [_("Wrong email or password.")]
    return render_template("workspace/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    logout_user()
    return redirect(url_for("workspace.login"))


@bp.get("/")
@login_required
def home() -> Response:
    """The workspace start page (contacts until dashboards arrive)."""
    return redirect(url_for("workspace.contacts"))


@bp.get("/contacts")
@login_required
def contacts() -> str:
    """Contact list with search, sort and keyset pagination."""
    actor = member().actor
    if not may(actor, "contacts", "view"):
        abort(403)
    q = request.args.get("q", "")[:200]
    try:
        sort = parse_sort(request.args.get("sort"), SORTS, "-created_at")
        stmt = paginate(contact_services.visible_contacts_query(actor, q), sort, Contact.id, request.args.get("cursor"), PAGE_SIZE)
        rows, next_cursor = page(list(db.session.scalars(stmt)), sort, PAGE_SIZE)
    except ApiError:
        # A hand-edited sort or cursor: show the first page instead of an error.
        sort = parse_sort(None, SORTS, "-created_at")
        stmt = paginate(contact_services.visible_contacts_query(actor, q), sort, Contact.id, None, PAGE_SIZE)
        rows, next_cursor = page(list(db.session.scalars(stmt)), sort, PAGE_SIZE)
    return render_template(
        "workspace/contacts/list.html",
        contacts=rows,
        q=q,
        sort=("-" if sort.descending else "") + sort.name,
        next_cursor=next_cursor,
        can_create=may(actor, "contacts", "create"),
    )


def _contact_or_404(contact_id: int, action: str = "view") -> Contact:
    contact = contact_services.get_visible_contact(db.session, member().actor, contact_id)
    if contact is None:
        abort(404)
    if action != "view" and not record_in_scope(member().actor, "contacts", action, contact.owner_id):
        abort(403)
    return contact


@bp.route("/contacts/new", methods=["GET", "POST"])
@login_required
def contact_new() -> str | Response:
    """Create a contact."""
    if not may(member().actor, "contacts", "create"):
        abort(403)
    form = ContactForm()
    if form.validate_on_submit():
        contact = contact_services.create_contact(db.session, member().actor, form.values())
        flash(_("Contact created."), "success")
        return redirect(url_for("workspace.contact_detail", contact_id=contact.id))
    return render_template("workspace/contacts/form.html", form=form, contact=None)


@bp.get("/contacts/<int:contact_id>")
@login_required
def contact_detail(contact_id: int) -> str:
    """The contact card."""
    contact = _contact_or_404(contact_id)
    actor = member().actor
    return render_template(
        "workspace/contacts/detail.html",
        contact=contact,
        can_edit=record_in_scope(actor, "contacts", "edit", contact.owner_id),
        can_delete=record_in_scope(actor, "contacts", "delete", contact.owner_id),
    )


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@login_required
def contact_edit(contact_id: int) -> str | Response:
    """Edit a contact."""
    contact = _contact_or_404(contact_id, "edit")
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        contact_services.update_contact(db.session, member().actor, contact, form.values())
        flash(_("Contact saved."), "success")
        return redirect(url_for("workspace.contact_detail", contact_id=contact.id))
    return render_template("workspace/contacts/form.html", form=form, contact=contact)


@bp.post("/contacts/<int:contact_id>/delete")
@login_required
def contact_delete(contact_id: int) -> Response:
    """Delete a contact."""
    contact = _contact_or_404(contact_id, "delete")
    contact_services.delete_contact(db.session, member().actor, contact)
    flash(_("Contact deleted."), "success")
    return redirect(url_for("workspace.contacts"))

