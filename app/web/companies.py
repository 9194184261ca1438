"""Workspace pages: companies (list, card, create, edit, delete).

Views stay thin: authorize with the policy, fetch through the access helper, call the
service, render. A refusal from the service lands on the form's fields.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import Select, func, select
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from app.access.policy import may, owner_condition, record_in_scope, scope_for
from app.companies import services as company_services
from app.companies.models import Company
from app.contacts import services as contact_services
from app.contacts.models import Contact
from app.database import db
from app.deals.models import Deal
from app.deals.money import format_minor
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.pipelines.models import Stage
from app.timeline.queries import card_timeline
from app.web import guards
from app.web.company_forms import CompanyForm
from app.web.custom_field_forms import custom_field_values, with_custom_fields
from app.web.forms import show_refusal
from app.web.list_view import filter_view
from app.web.listing import list_page, record_or_404
from app.web.workspace import member

bp = workspace_blueprint("companies", __name__)
guards.install(bp)

# How many of its contacts and deals a company card lists.
CARD_ROWS = 50
DEFAULT_SORT = "name"
SORT_CHOICES = (
    ("name", _l("Name A-Z")),
    ("-name", _l("Name Z-A")),
    ("-created_at", _l("Newest first")),
    ("created_at", _l("Oldest first")),
    ("-updated_at", _l("Recently changed")),
)


@bp.get("/companies")
@login_required
def companies() -> str:
    """Company list with search, filters (app.lists), segments, sort and keyset
    pagination."""
    actor = member().actor
    if not may(actor, "companies", "view"):
        abort(403)
    lists = filter_view("company")
    listing = list_page(
        lambda _q: lists.query(), Company.id, lists.sorts, lists.default_sort(DEFAULT_SORT)
    )
    rows = listing.rows
    return render_template(
        "workspace/companies/list.html",
        companies=rows,
        contact_counts=company_services.contact_counts(db.session, actor, (c.id for c in rows)),
        lists=lists,
        export_segment_id=lists.segment_id,
        q=lists.q,
        sort=listing.sort,
        sort_choices=lists.sort_choices(SORT_CHOICES),
        is_first_page=listing.is_first_page,
        next_cursor=listing.next_cursor,
        can_create=may(actor, "companies", "create"),
    )


def _company_or_404(company_id: int, action: str = "view") -> Company:
    """The company if the member may see it (404 otherwise) and may ``action`` it (403)."""
    return record_or_404(
        company_services.get_visible_company, member().actor, "companies", company_id, action
    )


@bp.route("/companies/new", methods=["GET", "POST"])
@login_required
def company_new() -> str | Response:
    """Create a company (owned by the member who creates it)."""
    if not may(member().actor, "companies", "create"):
        abort(403)
    form = with_custom_fields(CompanyForm, "company")
    if form.validate_on_submit():
        try:
            company = company_services.create_company(
                db.session, member().actor, {**form.values(), **custom_field_values(form)}
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            flash(_("Company created."), "success")
            return redirect(url_for("companies.company_detail", company_id=company.id))
    return render_template("workspace/companies/form.html", form=form, company=None)


def _deal_href(deal_id: int) -> str:
    """Link to a deal's page (served by the deals pages)."""
    try:
        return url_for("deals.deal_detail", deal_id=deal_id)
    except BuildError:
        return f"/deals/{deal_id}"


def _card_deals(company: Company) -> list[dict[str, Any]]:
    """The company's deals the member may see, newest first, with their stage name."""
    actor = member().actor
    if not may(actor, "deals", "view"):
        return []
    stmt = (
        select(Deal, Stage.name)
        .join(Stage, Stage.id == Deal.stage_id)
        .where(Deal.company_id == company.id)
        .where(owner_condition(actor, scope_for(actor, "deals", "view"), Deal.owner_id))
        .order_by(Deal.created_at.desc(), Deal.id.desc())
        .limit(CARD_ROWS)
    )
    return [
        {
            "id": deal.id,
            "title": deal.title,
            "stage": stage_name,
            "status": deal.status,
            "amount": format_minor(deal.amount_minor, deal.currency)
            if deal.amount_minor is not None
            else None,
            "href": _deal_href(deal.id),
        }
        for deal, stage_name in db.session.execute(stmt)
    ]


def _card_contacts(company: Company) -> tuple[list[Contact], int]:
    """Up to ``CARD_ROWS`` of the company's contacts the member may see, and how many
    there are in all."""
    actor = member().actor
    if not may(actor, "contacts", "view"):
        return [], 0
    stmt: Select[Any] = contact_services.visible_contacts_query(actor, company_id=company.id)
    total = int(db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = list(
        db.session.scalars(
            stmt.order_by(Contact.last_name, Contact.first_name, Contact.id).limit(CARD_ROWS)
        )
    )
    return rows, total


@bp.get("/companies/<int:company_id>")
@login_required
def company_detail(company_id: int) -> str:
    """The company card: key fields, its contacts and deals, and its history."""
    company = _company_or_404(company_id)
    actor = member().actor
    contacts, contact_total = _card_contacts(company)
    return render_template(
        "workspace/companies/detail.html",
        company=company,
        contacts=contacts,
        contact_total=contact_total,
        deals=_card_deals(company),
        can_view_deals=may(actor, "deals", "view"),
        is_mine=company.owner_id == actor.user_id,
        can_edit=record_in_scope(actor, "companies", "edit", company.owner_id),
        can_delete=record_in_scope(actor, "companies", "delete", company.owner_id),
        **card_timeline(
            db.session,
            actor,
            entity="company",
            entity_id=company.id,
            cursor=request.args.get("timeline_cursor"),
        ),
    )


@bp.route("/companies/<int:company_id>/edit", methods=["GET", "POST"])
@login_required
def company_edit(company_id: int) -> str | Response:
    """Edit a company."""
    company = _company_or_404(company_id, "edit")
    form = with_custom_fields(CompanyForm, "company", obj=company)
    if form.validate_on_submit():
        try:
            company_services.update_company(
                db.session, member().actor, company, {**form.values(), **custom_field_values(form)}
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("companies.company_detail", company_id=company.id))
    return render_template("workspace/companies/form.html", form=form, company=company)


@bp.get("/companies/<int:company_id>/delete")
@login_required
def company_delete_confirm(company_id: int) -> str:
    """Ask before deleting (pages with scripts ask in a dialog on the card instead)."""
    company = _company_or_404(company_id, "delete")
    return render_template("workspace/companies/delete.html", company=company)


@bp.post("/companies/<int:company_id>/delete")
@login_required
def company_delete(company_id: int) -> Response:
    """Delete a company; its contacts and deals stay."""
    company = _company_or_404(company_id, "delete")
    name = company.name
    company_services.delete_company(db.session, member().actor, company)
    flash(_("%(name)s was deleted.", name=name), "success")
    return redirect(url_for("companies.companies"))
