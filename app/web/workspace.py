"""Pages of a workspace host (``<slug>.<domain>``): sign-in and contacts."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.access.policy import may, record_in_scope
from app.companies import services as company_services
from app.contacts import services as contact_services
from app.contacts.models import Contact
from app.database import db
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.identity.account import password_sign_in
from app.identity.services import workspaces_of
from app.identity.sessions import Member, load_member, sign_in
from app.identity.throttle import Limits
from app.timeline.queries import card_timeline
from app.web import guards
from app.web.account import begin_second_factor, locked_response
from app.web.custom_field_forms import custom_field_values, with_custom_fields
from app.web.forms import ContactForm, LoginForm, show_refusal
from app.web.list_view import filter_view
from app.web.listing import list_page, record_or_404
from billing.limits import PlanLimitExceeded
from tenants.models import Tenant, TenantStatus

bp = workspace_blueprint("workspace", __name__)
guards.install(bp)

# A contact's company is picked from a list when the member sees at most this many
# companies; beyond it the form asks for the company's name or domain (with
# suggestions), because a select of thousands of options is unusable on a phone.
MAX_COMPANY_CHOICES = 200
DEFAULT_SORT = "-created_at"
SORT_CHOICES = (
    ("-created_at", _l("Newest first")),
    ("created_at", _l("Oldest first")),
    ("last_name", _l("Last name A-Z")),
    ("-last_name", _l("Last name Z-A")),
    ("email", _l("Email A-Z")),
)
ROLE_LABELS = {
    "owner": _l("Owner"),
    "admin": _l("Admin"),
    "manager": _l("Manager"),
    "sales_rep": _l("Sales rep"),
    "viewer": _l("Viewer"),
}
LIMIT_LABELS = {
    "contacts": _l("contacts"),
    "seats": _l("users"),
    "pipelines": _l("pipelines"),
    "custom_fields": _l("custom fields"),
}
# Control characters and whitespace never appear in a path we redirect to; browsers
# drop tabs and newlines, which would turn "/\t/evil.example" into "//evil.example".
_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x20\x7f\\]")


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    # App-wide, so that error pages rendered on a workspace host can use it too.
    return {
        "role_label": lambda key: ROLE_LABELS.get(key, key),
        "limit_message": plan_limit_message,
        "other_workspaces": _other_workspaces,
    }


def _other_workspaces() -> list[Tenant]:
    """The signed-in person's other workspaces, for the user menu (asked for only when a
    page draws the menu)."""
    if not current_user.is_authenticated or g.get("tenant") is None:
        return []
    return [t for t in workspaces_of(db.session, member().id) if t.id != g.tenant.id]


def plan_limit_message(refusal: PlanLimitExceeded) -> str:
    """What people read at a plan's cap: the cap, and who can lift it."""
    return _(
        "Your %(plan)s plan allows %(max)s %(resource)s and this workspace has %(used)s. "
        "A workspace admin can upgrade the plan to add more.",
        plan=refusal.plan_name,
        max=refusal.max,
        resource=LIMIT_LABELS.get(refusal.limit, refusal.limit),
        used=refusal.used,
    )


def member() -> Member:
    """The signed-in member."""
    current: Member = current_user._get_current_object()
    return current


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this host, else the contact list (no open redirect)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not _UNSAFE_IN_NEXT.search(target)
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("workspace.contacts")


@bp.get("/suspended")
def suspended() -> tuple[str, int] | Response:
    """The page every user of a suspended workspace sees."""
    if g.tenant.status != TenantStatus.SUSPENDED:
        return redirect(url_for("workspace.home"))
    return render_template("workspace/suspended.html"), 403


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """Sign in to this workspace.

    A wrong email and a wrong password get the same message, so the page does not tell
    who is a member. Failures are counted per address and per client; while either is
    locked the page says so (429) and the password is not even checked. Members with
    two-factor sign-in continue to the code page.
    """
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    login_failed = False
    if form.validate_on_submit():
        result = password_sign_in(
            db.session,
            tenant_id=g.tenant.id,
            email=form.email.data or "",
            password=form.password.data or "",
            remote_addr=request.remote_addr,
            limits=Limits.from_config(),
        )
        if result.locked_until is not None:
            return locked_response("workspace/login.html", result.locked_until, form=form)
        if result.user is not None and result.needs_second_factor:
            return begin_second_factor(
                result.user, remember=bool(form.remember.data), next_url=next_url
            )
        found = load_member(g.tenant.id, result.user.id) if result.user is not None else None
        if found is not None:
            sign_in(found, remember=bool(form.remember.data))
            return redirect(next_url)
        login_failed = True
    return render_template("workspace/login.html", form=form, login_failed=login_failed)


@bp.post("/logout")
def logout() -> Response:
    """Sign out (a "remember me" cookie is cleared too)."""
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("workspace.login"))


@bp.get("/")
@login_required
def home() -> Response:
    """The workspace start page (contacts until dashboards arrive)."""
    return redirect(url_for("workspace.contacts"))


@bp.get("/contacts")
@login_required
def contacts() -> str:
    """Contact list with search, filters (app.lists), segments, sort and keyset
    pagination."""
    actor = member().actor
    if not may(actor, "contacts", "view"):
        abort(403)
    lists = filter_view("contact")
    listing = list_page(
        lambda _q: lists.query(), Contact.id, lists.sorts, lists.default_sort(DEFAULT_SORT)
    )
    rows = listing.rows
    return render_template(
        "workspace/contacts/list.html",
        contacts=rows,
        company_names=company_services.company_names(
            db.session, actor, (c.company_id for c in rows if c.company_id)
        ),
        lists=lists,
        export_segment_id=lists.segment_id,
        q=lists.q,
        sort=listing.sort,
        sort_choices=lists.sort_choices(SORT_CHOICES),
        is_first_page=listing.is_first_page,
        next_cursor=listing.next_cursor,
        can_create=may(actor, "contacts", "create"),
    )


def _contact_or_404(contact_id: int, action: str = "view") -> Contact:
    """The contact if the member may see it (404 otherwise) and may ``action`` it (403)."""
    return record_or_404(
        contact_services.get_visible_contact, member().actor, "contacts", contact_id, action
    )


def _company_picker(form: ContactForm, contact: Contact | None) -> dict[str, Any]:
    """Fill the form's company choices; returns the template's picker context.

    Few companies: a select of them (plus the contact's current company, so that an
    edit never drops a link the member can not see). Many: a text input with
    suggestions, resolved by :func:`_chosen_company_id`.
    """
    actor = member().actor
    options = company_services.company_choices(db.session, actor, MAX_COMPANY_CHOICES)
    listed = len(options) <= MAX_COMPANY_CHOICES
    choices = [SelectChoice("", _("No company"))] + [
        SelectChoice(str(c.id), c.name) for c in options
    ]
    current = contact.company_id if contact is not None else None
    if current and str(current) not in {choice.value for choice in choices}:
        names = company_services.company_names(db.session, actor, [current])
        label = names.get(current, _("A company you can not see"))
        choices.append(SelectChoice(str(current), label))
        if not listed and not form.is_submitted():
            form.company_lookup.data = names.get(current, "")
    elif current and not listed and not form.is_submitted():
        form.company_lookup.data = next((c.name for c in options if c.id == current), "")
    form.company_id.choices = choices
    return {"company_listed": listed, "company_options": options[:MAX_COMPANY_CHOICES]}


def _chosen_company_id(form: ContactForm, listed: bool, contact: Contact | None) -> Any:
    """The company id the form names: the selected one, or the one whose name or domain
    was typed. Raises InvalidInput (on the field shown) when the typed text names no
    company the member can see, or several."""
    if listed:
        raw = form.company_id.data or ""
        if not raw:
            return None
        if raw.isascii() and raw.isdigit() and len(raw) <= 19:
            return int(raw)
        raise InvalidInput({"company_id": [contact_services.COMPANY_MESSAGE]})
    typed = form.company_lookup.data or ""
    if not typed:
        return None
    found = company_services.find_visible_companies(db.session, member().actor, typed)
    if contact is not None and contact.company_id and len(found) != 1:
        # The current company, shown by name, kept as it was.
        names = company_services.company_names(db.session, member().actor, [contact.company_id])
        if names.get(contact.company_id) == typed:
            return contact.company_id
    if not found:
        raise InvalidInput({"company_lookup": [contact_services.COMPANY_MESSAGE]})
    if len(found) > 1:
        raise InvalidInput(
            {"company_lookup": [_("Several companies match; type the domain instead.")]}
        )
    return found[0].id


def _contact_values(form: ContactForm, listed: bool, contact: Contact | None) -> dict[str, Any]:
    return {
        **form.values(),
        **custom_field_values(form),
        "company_id": _chosen_company_id(form, listed, contact),
    }


@bp.route("/contacts/new", methods=["GET", "POST"])
@login_required
def contact_new() -> str | Response:
    """Create a contact."""
    if not may(member().actor, "contacts", "create"):
        abort(403)
    form = with_custom_fields(ContactForm, "contact")
    picker = _company_picker(form, None)
    if form.validate_on_submit():
        try:
            contact = contact_services.create_contact(
                db.session, member().actor, _contact_values(form, picker["company_listed"], None)
            )
        except InvalidInput as refusal:
            show_refusal(form, refusal)
        except PlanLimitExceeded as refusal:
            db.session.rollback()
            form.form_errors = [*form.form_errors, plan_limit_message(refusal)]
        else:
            flash(_("Contact created."), "success")
            return redirect(url_for("workspace.contact_detail", contact_id=contact.id))
    return render_template("workspace/contacts/form.html", form=form, contact=None, **picker)


@bp.get("/contacts/<int:contact_id>")
@login_required
def contact_detail(contact_id: int) -> str:
    """The contact card."""
    contact = _contact_or_404(contact_id)
    actor = member().actor
    company = (
        company_services.get_visible_company(db.session, actor, contact.company_id)
        if contact.company_id
        else None
    )
    return render_template(
        "workspace/contacts/detail.html",
        contact=contact,
        company=company,
        is_mine=contact.owner_id == actor.user_id,
        can_edit=record_in_scope(actor, "contacts", "edit", contact.owner_id),
        can_delete=record_in_scope(actor, "contacts", "delete", contact.owner_id),
        **card_timeline(
            db.session,
            actor,
            entity="contact",
            entity_id=contact.id,
            cursor=request.args.get("timeline_cursor"),
        ),
    )


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@login_required
def contact_edit(contact_id: int) -> str | Response:
    """Edit a contact."""
    contact = _contact_or_404(contact_id, "edit")
    form = with_custom_fields(ContactForm, "contact", obj=contact)
    picker = _company_picker(form, contact)
    if form.validate_on_submit():
        try:
            contact_services.update_contact(
                db.session,
                member().actor,
                contact,
                _contact_values(form, picker["company_listed"], contact),
            )
        except InvalidInput as refusal:
            show_refusal(form, refusal)
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("workspace.contact_detail", contact_id=contact.id))
    return render_template("workspace/contacts/form.html", form=form, contact=contact, **picker)


@bp.get("/contacts/<int:contact_id>/delete")
@login_required
def contact_delete_confirm(contact_id: int) -> str:
    """Ask before deleting (pages with scripts ask in a dialog on the card instead)."""
    contact = _contact_or_404(contact_id, "delete")
    return render_template("workspace/contacts/delete.html", contact=contact)


@bp.post("/contacts/<int:contact_id>/delete")
@login_required
def contact_delete(contact_id: int) -> Response:
    """Delete a contact."""
    contact = _contact_or_404(contact_id, "delete")
    name = contact.full_name
    contact_services.delete_contact(db.session, member().actor, contact)
    flash(_("%(name)s was deleted.", name=name) if name else _("Contact deleted."), "success")
    return redirect(url_for("workspace.contacts"))
