"""Workspace pages: the kanban board of a pipeline, moving cards, and the loss reasons
settings.

The board works without JavaScript: a card's "Move" link opens the deal's own page,
whose stage form moves it, and "Load more" links open the next page of a column.
``board.js`` turns each "Move" link into a button that opens the board's one shared
"Move to" dialog (a card carries no form of its own: a board draws hundreds), adds drag
and drop, a dialog asking why for a lost stage, in-place "Load more" and live column
totals; it posts to :func:`board_move` and reads a JSON answer (``Accept:
application/json``). A lost stage without a reason posted without the script comes
back as a page asking for it.

Views stay thin: parse, ask the policy, fetch through the access helpers, call the deal
services (which lock the deal and refuse a stale move with ``DealMoved``), render.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from babel import Locale
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf.csrf import generate_csrf
from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from werkzeug.wrappers import Response

from app.access.policy import Actor, apply_record_scope, may, record_in_scope
from app.board import loss_reasons as reason_services
from app.board import queries
from app.board.models import LossReason
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import db
from app.deals import money
from app.deals import services as deal_services
from app.deals.models import Deal
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.identity.models import Membership, User
from app.input_rules import MAX_BIGINT
from app.pipelines import services as pipeline_services
from app.pipelines.models import Pipeline, Stage
from app.tags import MAX_TAG_LENGTH
from app.web import guards
from app.web.board_forms import BoardMoveForm, LossReasonDeleteForm, LossReasonForm
from app.web.forms import show_refusal
from app.web.list_view import owner_choices
from app.web.listing import record_or_404
from app.web.workspace import member
from tenants.context import require_tenant

bp = workspace_blueprint("board", __name__)
guards.install(bp)


# --- parsing -------------------------------------------------------------------------


def _id_value(raw: str | None) -> int | None:
    raw = raw or ""
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_BIGINT:
        return int(raw)
    return None


def _date_value(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw or "")
    except ValueError:
        return None


def _filters(
    actor: Actor, args: Mapping[str, str] | None = None
) -> tuple[queries.BoardFilters, list[str]]:
    """The board's filters from the query string (or ``args``), and what was wrong
    with them. A value that can not be one (a word for an id, a bad date, a tag that
    is too long) is left out of the filters and named in a message, so that the board
    never looks filtered when it is not, nor becomes an error page."""
    args = request.args if args is None else args
    problems: list[str] = []
    owner = (args.get("owner_id") or "").strip()
    owner_id = actor.user_id if owner == "me" else _id_value(owner)
    if owner and owner_id is None:
        problems.append(
            _("The owner filter was not applied: “%(value)s” is not a person.", value=owner[:50])
        )
    tag = (args.get("tag") or "").strip()
    if len(tag) > MAX_TAG_LENGTH:
        problems.append(
            _(
                "The tag filter was not applied: a tag has at most %(n)d characters.",
                n=MAX_TAG_LENGTH,
            )
        )
        tag = ""
    dates: dict[str, dt.date | None] = {}
    for name, label in (
        ("expected_close_from", _("Closing from")),
        ("expected_close_to", _("until")),
    ):
        raw = (args.get(name) or "").strip()
        dates[name] = _date_value(raw) if raw else None
        if raw and dates[name] is None:
            problems.append(
                _(
                    "The “%(label)s” date was not applied: “%(value)s” is not a date (YYYY-MM-DD).",
                    label=label,
                    value=raw[:50],
                )
            )
    close_from, close_to = dates["expected_close_from"], dates["expected_close_to"]
    if close_from is not None and close_to is not None and close_from > close_to:
        problems.append(
            _(
                "The closing dates are the wrong way round: no deal closes after %(start)s and "
                "before %(end)s.",
                start=close_from.isoformat(),
                end=close_to.isoformat(),
            )
        )
    filters = queries.BoardFilters(
        owner_id=owner_id, tag=tag or None, close_from=close_from, close_to=close_to
    )
    return filters, problems


def _filter_args() -> dict[str, str]:
    """The filters as given, to carry over to links (load more, list view, back)."""
    names = ("owner_id", "tag", "expected_close_from", "expected_close_to")
    return {n: request.args[n] for n in names if request.args.get(n)}


def _safe_back(value: Any, default: str) -> str:
    """A path on this site to go back to (never another host)."""
    if (
        isinstance(value, str)
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and len(value) <= 2000
    ):
        return value
    return default


# --- access --------------------------------------------------------------------------


def _require_view() -> Actor:
    actor = member().actor
    if not may(actor, "deals", "view") or not may(actor, "pipelines", "view"):
        abort(403)
    return actor


def _pipeline_or_404(pipeline_id: int) -> Pipeline:
    pipeline = pipeline_services.get_pipeline(db.session, pipeline_id)
    if pipeline is None:
        abort(404)
    return pipeline


# --- cards ---------------------------------------------------------------------------


def _id_array(ids: set[int]) -> Any:
    """Ids as one array parameter (``= ANY(:ids)``): one bound value, where ``IN``
    would bind and render one per card."""
    return bindparam("ids", sorted(ids), type_=ARRAY(BigInteger))


def _links(actor: Actor, cards: list[queries.Card]) -> dict[str, dict[int, str]]:
    """Names of the contacts and companies on the cards that ``actor`` may see (two
    queries for the whole page, reading the name columns only)."""
    contact_ids = {c.contact_id for c in cards if c.contact_id}
    company_ids = {c.company_id for c in cards if c.company_id}
    contacts: dict[int, str] = {}
    companies: dict[int, str] = {}
    if contact_ids:
        people = (
            apply_record_scope(select(Contact), actor, "contacts", "view", Contact.owner_id)
            .with_only_columns(Contact.id, Contact.first_name, Contact.last_name, Contact.email)
            .where(Contact.id == any_(_id_array(contact_ids)))
        )
        unnamed = _("Unnamed contact")
        # Contact.full_name's rule, on rows rather than loaded contacts.
        contacts = {
            cid: f"{first} {last}".strip() or email or unnamed
            for cid, first, last, email in db.session.execute(people)
        }
    if company_ids:
        firms = (
            apply_record_scope(select(Company), actor, "companies", "view", Company.owner_id)
            .with_only_columns(Company.id, Company.name)
            .where(Company.id == any_(_id_array(company_ids)))
        )
        companies = {cid: name for cid, name in db.session.execute(firms)}
    return {"contacts": contacts, "companies": companies}


class CardView(NamedTuple):
    """A card with its texts made: the template only writes them out (per-card
    formatting, URL building and translation calls are what made a 300-card board
    slow, so they are made here, once per distinct value where they repeat)."""

    card: queries.Card
    url: str
    amount: str
    days: str
    company: str | None
    contact: str | None
    owner: str | None
    owner_label: str
    movable: bool


_SENTINEL_ID = 987654321987


class _AmountText:
    """:func:`app.deals.money.format_minor` for the many amounts of a page: what
    Babel's ``format_currency`` looks up on every call (the parsed locale and its
    currency pattern) is looked up once, then each amount is only the pattern's
    ``apply`` (the call ``format_currency`` ends in, with the same defaults)."""

    def __init__(self, locale: str) -> None:
        self.locale = Locale.parse(locale)
        self.pattern = self.locale.currency_formats["standard"]

    def __call__(self, minor: int | None, currency: str) -> str:
        if minor is None:
            return ""
        amount = money.from_minor(minor, currency)
        return str(self.pattern.apply(amount, self.locale, currency=currency))


def _url_maker(endpoint: str, key: str) -> Callable[[int | str], str]:
    """``url_for(endpoint, key=id)`` for many ids at the cost of one call: the URL is
    built once with a sentinel id and split around it."""
    values: dict[str, Any] = {key: _SENTINEL_ID}
    head, _sep, tail = url_for(endpoint, **values).partition(str(_SENTINEL_ID))
    return lambda value: f"{head}{value}{tail}"


def _card_views(actor: Actor, cards: list[queries.Card], owners: dict[int, str]) -> list[CardView]:
    """The texts of every card of a page (see :class:`CardView`)."""
    links = _links(actor, cards)
    contacts, companies = links["contacts"], links["companies"]
    detail_url = _url_maker("deals.deal_detail", "deal_id")
    amount_text = _AmountText(str(get_locale() or "en"))
    can_move = may(actor, "deals", "edit")
    days: dict[int, str] = {}
    owner_labels: dict[str, str] = {"": ""}
    movable: dict[int | None, bool] = {}
    views = []
    for card in cards:
        if card.days_in_stage not in days:
            days[card.days_in_stage] = ngettext("%(num)d day", "%(num)d days", card.days_in_stage)
        owner = owners.get(card.owner_id) if card.owner_id else None
        if owner and owner not in owner_labels:
            owner_labels[owner] = _("Owner: %(name)s", name=owner)
        if card.owner_id not in movable:
            movable[card.owner_id] = can_move and record_in_scope(
                actor, "deals", "edit", card.owner_id
            )
        views.append(
            CardView(
                card=card,
                url=detail_url(card.id),
                amount=amount_text(card.amount_minor, card.currency),
                days=days[card.days_in_stage],
                company=companies.get(card.company_id) if card.company_id else None,
                contact=contacts.get(card.contact_id) if card.contact_id else None,
                owner=owner,
                owner_label=owner_labels[owner or ""],
                movable=movable[card.owner_id],
            )
        )
    return views


def _owners() -> dict[int, str]:
    return {int(uid): name for uid, name in owner_choices()}


def _owner_of(owner_id: int | None) -> dict[int, str]:
    """The one owner a single card names (a move's answer), by the rule of
    :func:`app.web.list_view.owner_choices` (active members, name else email),
    without reading the whole team."""
    if owner_id is None:
        return {}
    row = db.session.execute(
        select(User.name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.tenant_id == require_tenant().id,
            Membership.user_id == owner_id,
            Membership.is_active,
        )
    ).first()
    return {owner_id: row.name or row.email} if row is not None else {}


def _card_context(actor: Actor) -> dict[str, Any]:
    """What every card of a page needs besides its own texts, made once per page."""
    return {
        "card_labels": {
            "days": _("Days in this stage"),
            "rotting": _("Rotting"),
            "move": _("Move"),
        },
        "can_move": may(actor, "deals", "edit"),
    }


# --- the board -----------------------------------------------------------------------


def _board(pipeline: Pipeline) -> str:
    actor = _require_view()
    filters, problems = _filters(actor)
    stages = pipeline_services.stages_in_order(db.session, pipeline.id)
    totals = queries.column_totals(db.session, actor, stages, filters)
    pages = queries.first_pages(db.session, actor, stages, filters)
    owner_options = owner_choices()
    owners = {int(uid): name for uid, name in owner_options}
    views = _card_views(actor, [c for page in pages.values() for c in page.cards], owners)
    columns = []
    start = 0
    for stage in stages:
        page = pages[stage.id]
        columns.append((stage, page, views[start : start + len(page.cards)]))
        start += len(page.cards)
    args = _filter_args()
    return render_template(
        "workspace/board/board.html",
        pipeline=pipeline,
        stages=stages,
        columns=columns,
        totals=totals,
        empty_totals=queries.ColumnTotals(),
        pipelines=deal_services.pipelines(db.session),
        filters=filters,
        filter_problems=problems,
        filter_args=args,
        owner_options=owner_options,
        reasons=reason_services.list_loss_reasons(db.session, active_only=True),
        back=request.full_path.rstrip("?"),
        csrf=generate_csrf(),
        move_url=_url_maker("board.board_move", "deal_id")("{id}"),
        list_url=url_for("deals.deal_list", **_list_args(args, pipeline.id)),
        **_card_context(actor),
    )


def _list_args(args: dict[str, str], pipeline_id: int) -> dict[str, Any]:
    """The board's filters in the deal list's grammar (app.lists.filters)."""
    values: dict[str, Any] = {k: v for k, v in args.items() if k != "tag"}
    if "tag" in args:
        values["tag_any"] = args["tag"]
    values["pipeline_id"] = pipeline_id
    return values


@bp.get("/deals/board")
@login_required
def deals_board() -> str | Response:
    """The board of the default pipeline."""
    _require_view()
    pipeline = deal_services.default_pipeline(db.session)
    if pipeline is None:
        abort(404)
    return _board(pipeline)


@bp.get("/pipelines/<int:pipeline_id>/board")
@login_required
def pipeline_board(pipeline_id: int) -> str:
    """The board of one pipeline: a column per stage, 50 cards each, newest first."""
    _require_view()
    return _board(_pipeline_or_404(pipeline_id))


@bp.get("/pipelines/<int:pipeline_id>/board/stages/<int:stage_id>")
@login_required
def board_column(pipeline_id: int, stage_id: int) -> str:
    """The next page of one column (``?after=<last card id>``): the cards alone for
    the board's script (``?partial=1``), else a page of its own."""
    actor = _require_view()
    pipeline = _pipeline_or_404(pipeline_id)
    stage = pipeline_services.get_stage(db.session, pipeline, stage_id)
    if stage is None:
        abort(404)
    filters, _problems = _filters(actor)  # the board itself says what was wrong
    page = queries.column_page(
        db.session, actor, stage, filters, _id_value(request.args.get("after"))
    )
    args = _filter_args()
    board_args: dict[str, Any] = {"pipeline_id": pipeline.id, **args}
    board_url = url_for("board.pipeline_board", **board_args)
    return render_template(
        "workspace/board/_cards.html"
        if request.args.get("partial")
        else "workspace/board/column.html",
        pipeline=pipeline,
        stage=stage,
        page=page,
        cards=_card_views(actor, page.cards, _owners()),
        filter_args=args,
        board_url=board_url,
        **_card_context(actor),
    )


# --- moving a card -------------------------------------------------------------------


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _render_card(actor: Actor, deal: Deal, stages: list[Stage]) -> str:
    stage = next(s for s in stages if s.id == deal.stage_id)
    card = queries.card_of(deal, stage, dt.datetime.now(dt.UTC))
    return render_template(
        "workspace/board/_card.html",
        view=_card_views(actor, [card], _owner_of(card.owner_id))[0],
        **_card_context(actor),
    )


@bp.post("/deals/<int:deal_id>/board-move")
@login_required
def board_move(deal_id: int) -> Any:
    """Move a card to another stage of its pipeline (form post or the board's script).

    A stale move (the card's ``from_stage_id`` is no longer the deal's stage) is
    refused: the page says so, the script gets a 409 with the card as it is now."""
    actor = member().actor
    deal = record_or_404(deal_services.get_visible_deal, actor, "deals", deal_id, "edit")
    stages = pipeline_services.stages_in_order(db.session, deal.pipeline_id)
    kinds = {s.id: s.kind for s in stages}
    form = BoardMoveForm()
    form.stage_id.choices = [(s.id, s.name) for s in stages]
    default_back = url_for("board.pipeline_board", pipeline_id=deal.pipeline_id)
    back = _safe_back(form.back.data, default_back)
    if form.validate_on_submit():
        # The columns whose totals change: where the card was drawn, where the deal
        # was, where it goes (the answer recounts only these).
        touched = {deal.stage_id, form.stage_id.data, form.from_stage_id.data}
        try:
            deal_services.update_deal(db.session, actor, deal, form.values(kinds))
        except deal_services.DealMoved as moved:
            db.session.rollback()
            return _moved_elsewhere(actor, deal_id, moved, back, touched)
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            if _wants_json():
                return jsonify(_move_answer(actor, deal, back, touched))
            flash(_("Deal moved."), "success")
            return redirect(back)
    if _wants_json():
        errors = {name: [str(m) for m in ms] for name, ms in form.errors.items()}
        return jsonify(
            {
                "error": {
                    "code": "validation_error",
                    "message": _("The deal was not moved."),
                    "details": errors,
                }
            }
        ), 400
    deal = record_or_404(deal_services.get_visible_deal, actor, "deals", deal_id, "edit")
    return render_template(
        "workspace/board/move.html",
        deal=deal,
        form=form,
        stage_kinds=kinds,
        reasons=reason_services.list_loss_reasons(db.session, active_only=True),
        back=back,
    ), 400


def _moved_elsewhere(
    actor: Actor, deal_id: int, moved: deal_services.DealMoved, back: str, touched: set[Any]
) -> Any:
    message = _("Someone else moved this deal meanwhile; it is shown where it is now.")
    deal = deal_services.get_visible_deal(db.session, actor, deal_id)
    if _wants_json():
        body: dict[str, Any] = {
            "error": {"code": "conflict", "message": message, "details": {}},
            "stage_id": moved.stage_id,
        }
        if deal is not None:
            body.update(_move_answer(actor, deal, back, touched))
        return jsonify(body), 409
    flash(message, "error")
    return redirect(back)


def _move_answer(actor: Actor, deal: Deal, back: str, touched: set[Any]) -> dict[str, Any]:
    """The moved card and the totals of the columns the move changed (with the filters
    of the board the card was moved on, read from its ``back`` URL). The rest of the
    board is not read again: a move recounts two columns, not the pipeline."""
    args = {k: v[-1] for k, v in parse_qs(urlsplit(back).query).items()}
    filters, _problems = _filters(actor, args)
    stages = pipeline_services.stages_in_order(db.session, deal.pipeline_id)
    touched = {*touched, deal.stage_id}
    changed = [s for s in stages if s.id in touched]
    totals = queries.column_totals(db.session, actor, changed, filters, whole_pipeline=False)
    empty = queries.ColumnTotals()
    return {
        "deal_id": deal.id,
        "stage_id": deal.stage_id,
        "card_html": _render_card(actor, deal, stages),
        "columns": {str(s.id): queries.totals_json(totals.get(s.id, empty)) for s in changed},
    }


# --- loss reasons settings -----------------------------------------------------------


def _require_edit_pipelines() -> Actor:
    actor = member().actor
    if not may(actor, "pipelines", "edit"):
        abort(403)
    return actor


def _reason_or_404(reason_id: int) -> LossReason:
    reason = reason_services.get_loss_reason(db.session, reason_id)
    if reason is None:
        abort(404)
    return reason


def _row_ids(form: LossReasonForm, reason: LossReason) -> LossReasonForm:
    """Give a row's fields ids of their own (every row posts the same names, so that
    one handler reads them; ids must be unique on the page for the labels)."""
    for item in form:
        item.id = f"reason-{reason.id}-{item.short_name}"
        item.label.field_id = item.id
    return form


def _reasons_page(
    add_form: LossReasonForm | None = None,
    forms: dict[int, LossReasonForm] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    reasons = reason_services.list_loss_reasons(db.session)
    given = forms or {}
    rows = [
        (r, _row_ids(given.get(r.id) or LossReasonForm(formdata=None, obj=r, prefix="reason"), r))
        for r in reasons
    ]
    return render_template(
        "workspace/board/loss_reasons.html",
        rows=rows,
        add_form=add_form or LossReasonForm(formdata=None, prefix="new"),
        delete_form=LossReasonDeleteForm(formdata=None),
    ), status


@bp.route("/settings/loss-reasons", methods=["GET", "POST"])
@login_required
def loss_reason_list() -> tuple[str, int] | Response:
    """The list of loss reasons; posting adds one."""
    actor = _require_edit_pipelines()
    if request.method == "GET":
        return _reasons_page()
    form = LossReasonForm(prefix="new")
    if form.validate_on_submit():
        try:
            reason_services.create_loss_reason(
                db.session, actor, {"name": form.name.data, "active": form.active.data}
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            flash(_("Loss reason added."), "success")
            return redirect(url_for("board.loss_reason_list"))
    return _reasons_page(add_form=form, status=400)


@bp.post("/settings/loss-reasons/<int:reason_id>")
@login_required
def loss_reason_update(reason_id: int) -> tuple[str, int] | Response:
    """Rename a reason, or retire it / offer it again."""
    actor = _require_edit_pipelines()
    reason = _reason_or_404(reason_id)
    form = LossReasonForm(prefix="reason")
    if form.validate_on_submit():
        try:
            reason_services.update_loss_reason(
                db.session, actor, reason, {"name": form.name.data, "active": form.active.data}
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            flash(_("Loss reason saved."), "success")
            return redirect(url_for("board.loss_reason_list"))
    return _reasons_page(forms={reason_id: form}, status=400)


@bp.post("/settings/loss-reasons/<int:reason_id>/move")
@login_required
def loss_reason_move(reason_id: int) -> Response:
    """Move a reason one place up or down (``direction``)."""
    actor = _require_edit_pipelines()
    reason = _reason_or_404(reason_id)
    form = LossReasonDeleteForm()
    if form.validate_on_submit():
        ordered = [r.id for r in reason_services.list_loss_reasons(db.session)]
        index = ordered.index(reason.id)
        step = -1 if form.direction.data == "up" else 1
        target = min(max(index + step, 0), len(ordered) - 1)
        reason_services.update_loss_reason(db.session, actor, reason, {"position": target})
    return redirect(url_for("board.loss_reason_list"))


@bp.post("/settings/loss-reasons/<int:reason_id>/delete")
@login_required
def loss_reason_delete(reason_id: int) -> Response:
    """Delete a reason (deals lost for it keep their text)."""
    actor = _require_edit_pipelines()
    reason = _reason_or_404(reason_id)
    form = LossReasonDeleteForm()
    if form.validate_on_submit():
        name = reason.name
        reason_services.delete_loss_reason(db.session, actor, reason)
        flash(_("%(name)s was removed from the list.", name=name), "success")
    return redirect(url_for("board.loss_reason_list"))
