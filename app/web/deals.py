"""Workspace pages: deals (list, card, create, edit, stage move, delete).

Views stay thin: parse the form, ask the policy, fetch through
:func:`app.deals.services.get_visible_deal`, call a service, render. A refusal from a
service lands on the field it names, with what was typed kept.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.access.policy import apply_record_scope, may, record_in_scope
from app.companies.models import Company
from app.contacts.models import Contact
from app.contacts.services import get_visible_contact
from app.database import db
from app.deals import money
from app.deals import services as deal_services
from app.deals.models import Deal
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.input_rules import MAX_BIGINT
from app.pipelines.models import Stage
from app.timeline.queries import card_timeline
from app.web import guards
from app.web.custom_field_forms import custom_field_values, with_custom_fields
from app.web.deal_forms import DealForm, StageMoveForm
from app.web.forms import show_refusal
from app.web.list_view import filter_view
from app.web.listing import list_page, record_or_404
from app.web.workspace import member

bp = workspace_blueprint("deals", __name__)
guards.install(bp)

# How many contacts and companies the form's pickers offer (newest first).
PICKER_SIZE = 200
DEFAULT_SORT = "-created_at"
SORT_CHOICES = (
    ("-created_at", _l("Newest first")),
    ("created_at", _l("Oldest first")),
    ("title", _l("Title A-Z")),
    ("-amount", _l("Largest amount first")),
    ("amount", _l("Smallest amount first")),
)
STATUS_LABELS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}


@bp.app_template_filter("money")
def _money_filter(minor: int | None, currency: str) -> str:
    return money.format_minor(minor, currency)


@bp.app_template_filter("money_amount")
def _money_amount_filter(amount: Decimal | None, currency: str) -> str:
    return money.format_money(amount, currency)


@bp.app_template_global("deals_of_contact")
def _deals_of_contact(contact_id: int) -> dict[str, Any] | None:
    """The contact card's deal section (None when the member may not see deals)."""
    actor = member().actor
    if not may(actor, "deals", "view"):
        return None
    rows = deal_services.deals_of_contact(db.session, actor, contact_id)
    return {
        "deals": rows,
        "stages": deal_services.load_stages(db.session, {d.stage_id for d in rows}),
        "can_create": may(actor, "deals", "create"),
        "status_labels": STATUS_LABELS,
    }


def _deal_or_404(deal_id: int, action: str = "view") -> Deal:
    """The deal if the member may see it (404 otherwise) and may ``action`` it (403)."""
    return record_or_404(deal_services.get_visible_deal, member().actor, "deals", deal_id, action)


def _stage_choices(form: StageMoveForm, pipeline_id: int | None = None) -> dict[int, Stage]:
    """Fill the stage picker (every pipeline's stages, or one pipeline's) and answer
    the stages by id."""
    by_id: dict[int, Stage] = {}
    choices: list[tuple[int, str]] = []
    for pipeline in deal_services.pipelines(db.session):
        if pipeline_id is not None and pipeline.id != pipeline_id:
            continue
        for stage in deal_services.stages_of(db.session, pipeline.id):
            by_id[stage.id] = stage
            label = stage.name if pipeline_id is not None else f"{pipeline.name} · {stage.name}"
            choices.append((stage.id, label))
    form.stage_id.choices = choices
    return by_id


def _picker(
    model: Any, label: Any, resource: str, chosen: int | None, visible: Any
) -> list[tuple[Any, str]]:
    """Choices of a contact or company picker: none, the chosen record (when visible)
    and the newest ones the member may see."""
    actor = member().actor
    stmt = apply_record_scope(select(model), actor, resource, "view", model.owner_id)
    rows = list(db.session.scalars(stmt.order_by(model.id.desc()).limit(PICKER_SIZE)))
    if chosen is not None and all(r.id != chosen for r in rows):
        record = visible(chosen)
        if record is not None:
            rows.insert(0, record)
    return [("", _("— None —")), *((r.id, label(r)) for r in rows)]


def _fill_pickers(form: DealForm, contact_id: int | None, company_id: int | None) -> None:
    actor = member().actor
    form.contact_id.choices = _picker(
        Contact,
        lambda c: c.full_name or _("Unnamed contact"),
        "contacts",
        contact_id,
        lambda cid: get_visible_contact(db.session, actor, cid),
    )
    form.company_id.choices = _picker(
        Company,
        lambda c: c.name,
        "companies",
        company_id,
        lambda cid: deal_services.get_visible_company(db.session, actor, cid),
    )


def _query_id(name: str) -> int | None:
    raw = request.args.get(name, "")
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_BIGINT:
        return int(raw)
    return None


@bp.get("/deals")
@login_required
def deal_list() -> str:
    """Deal list with search, filters (app.lists), segments, sort and keyset pages."""
    actor = member().actor
    if not may(actor, "deals", "view"):
        abort(403)
    lists = filter_view("deal")
    listing = list_page(
        lambda _q: lists.query(), Deal.id, lists.sorts, lists.default_sort(DEFAULT_SORT)
    )
    rows = listing.rows
    status = lists.spec.get("status")
    pipeline_id = lists.spec.get("pipeline_id")
    return render_template(
        "workspace/deals/list.html",
        deals=rows,
        stages=deal_services.load_stages(db.session, {d.stage_id for d in rows}),
        pipelines=deal_services.pipelines(db.session),
        pipeline_id=int(pipeline_id) if pipeline_id and pipeline_id.isdigit() else None,
        status=status,
        status_labels=STATUS_LABELS,
        lists=lists,
        export_segment_id=lists.segment_id,
        q=lists.q,
        filtered=lists.filtered,
        sort=listing.sort,
        sort_choices=lists.sort_choices(SORT_CHOICES),
        is_first_page=listing.is_first_page,
        next_cursor=listing.next_cursor,
        can_create=may(actor, "deals", "create"),
    )


@bp.route("/deals/new", methods=["GET", "POST"])
@login_required
def deal_new() -> str | Response:
    """Create a deal (``?contact_id=`` / ``?company_id=`` preselect the links)."""
    actor = member().actor
    if not may(actor, "deals", "create"):
        abort(403)
    form = with_custom_fields(DealForm, "deal")
    stages = _stage_choices(form)
    if request.method == "GET":
        form.contact_id.data = _query_id("contact_id")
        form.company_id.data = _query_id("company_id")
        first = deal_services.resolve_stage(db.session, None, None) if stages else None
        form.stage_id.data = first.id if first is not None else None
    _fill_pickers(form, form.contact_id.data, form.company_id.data)
    if form.validate_on_submit():
        kinds = {sid: s.kind for sid, s in stages.items()}
        try:
            deal = deal_services.create_deal(
                db.session, actor, {**form.values(kinds), **custom_field_values(form)}
            )
        except InvalidInput as refusal:
            show_refusal(form, refusal, {"pipeline_id": "stage_id"})
        else:
            flash(_("Deal created."), "success")
            return redirect(url_for("deals.deal_detail", deal_id=deal.id))
    return render_template(
        "workspace/deals/form.html", form=form, deal=None, stage_kinds=_kinds(stages)
    )


def _kinds(stages: dict[int, Stage]) -> dict[int, str]:
    return {sid: s.kind for sid, s in stages.items()}


def _card(deal: Deal, move_form: StageMoveForm | None = None) -> str:
    actor = member().actor
    stage = deal_services.load_stages(db.session, [deal.stage_id]).get(deal.stage_id)
    can_edit = record_in_scope(actor, "deals", "edit", deal.owner_id)
    stage_kinds: dict[int, str] = {}
    if can_edit and move_form is None:
        move_form = StageMoveForm(formdata=None)
        move_form.stage_id.data = deal.stage_id
    if move_form is not None:
        stage_kinds = _kinds(_stage_choices(move_form, deal.pipeline_id))
    contact = get_visible_contact(db.session, actor, deal.contact_id) if deal.contact_id else None
    company = (
        deal_services.get_visible_company(db.session, actor, deal.company_id)
        if deal.company_id
        else None
    )
    context = card_timeline(
        db.session,
        actor,
        entity="deal",
        entity_id=deal.id,
        cursor=request.args.get("timeline_cursor") or None,
    )
    return render_template(
        "workspace/deals/detail.html",
        deal=deal,
        stage=stage,
        contact=contact,
        company=company,
        probability=deal_services.effective_probability(deal, stage),
        weighted=deal_services.weighted_amount(deal, stage),
        status_labels=STATUS_LABELS,
        is_mine=deal.owner_id == actor.user_id,
        can_edit=can_edit,
        can_delete=record_in_scope(actor, "deals", "delete", deal.owner_id),
        move_form=move_form,
        stage_kinds=stage_kinds,
        **context,
    )


@bp.get("/deals/<int:deal_id>")
@login_required
def deal_detail(deal_id: int) -> str:
    """The deal card."""
    return _card(_deal_or_404(deal_id))


@bp.post("/deals/<int:deal_id>/move")
@login_required
def deal_move(deal_id: int) -> str | Response:
    """Move the deal to another stage of its pipeline (the card's small form)."""
    deal = _deal_or_404(deal_id, "edit")
    form = StageMoveForm()
    stages = _stage_choices(form, deal.pipeline_id)
    if form.validate_on_submit():
        try:
            deal_services.update_deal(db.session, member().actor, deal, form.values(_kinds(stages)))
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal, {"pipeline_id": "stage_id"})
        else:
            flash(_("Deal moved."), "success")
            return redirect(url_for("deals.deal_detail", deal_id=deal.id))
    return _card(deal, form)


@bp.route("/deals/<int:deal_id>/edit", methods=["GET", "POST"])
@login_required
def deal_edit(deal_id: int) -> str | Response:
    """Edit a deal (changing its stage here moves it, as on the card)."""
    deal = _deal_or_404(deal_id, "edit")
    form = with_custom_fields(DealForm, "deal", obj=deal if request.method == "GET" else None)
    stages = _stage_choices(form)
    if request.method == "GET":
        form.amount.data = money.amount_text(deal.amount_minor, deal.currency) or ""
        form.won_amount.data = money.amount_text(deal.won_amount_minor, deal.currency) or ""
        form.tags.data = ", ".join(deal.tags or [])
    _fill_pickers(form, form.contact_id.data, form.company_id.data)
    if form.validate_on_submit():
        try:
            deal_services.update_deal(
                db.session,
                member().actor,
                deal,
                {**form.values(_kinds(stages)), **custom_field_values(form)},
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal, {"pipeline_id": "stage_id"})
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("deals.deal_detail", deal_id=deal.id))
    return render_template(
        "workspace/deals/form.html", form=form, deal=deal, stage_kinds=_kinds(stages)
    )


@bp.get("/deals/<int:deal_id>/delete")
@login_required
def deal_delete_confirm(deal_id: int) -> str:
    """Ask before deleting (pages with scripts ask in a dialog on the card instead)."""
    return render_template("workspace/deals/delete.html", deal=_deal_or_404(deal_id, "delete"))


@bp.post("/deals/<int:deal_id>/delete")
@login_required
def deal_delete(deal_id: int) -> Response:
    """Delete a deal."""
    deal = _deal_or_404(deal_id, "delete")
    title = deal.title
    deal_services.delete_deal(db.session, member().actor, deal)
    flash(_("%(title)s was deleted.", title=title), "success")
    return redirect(url_for("deals.deal_list"))
