"""Deal services: the only writers of deals. Each write is audited and lands on the
client timeline in the same transaction.

The rules hold whoever calls (API, pages, the board later): a deal sits in a stage of
its pipeline, its ``status`` is that stage's kind, amounts are exact in the currency's
minor units, linked contacts and companies are ones the actor may see, and its owner is
an active member the actor may assign. A stage move resets ``stage_entered_at`` and
records how long the deal sat in the previous stage; closing (won/lost) and reopening
set or clear the closing fields together, so a deal never looks half closed.

Input is a dict keyed like the API body (``amount`` and ``won_amount`` as decimals in
major units); a refusal is an :class:`app.errors.InvalidInput` naming every bad field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select

from app.access.policy import Actor, apply_record_scope, record_in_scope
from app.audit.services import record
from app.board.history import record_move
from app.board.loss_reasons import canonical_reason
from app.companies.services import get_visible_company
from app.contacts.services import get_visible_contact
from app.custom_fields.services import clean_values, split_changes
from app.database import DbSession
from app.deals import money
from app.deals.models import DEAL_STATUSES, Deal
from app.errors import InvalidInput
from app.identity.services import active_membership
from app.input_rules import (
    CONTROL_ANY,
    CONTROL_EXCEPT_LINE_BREAKS,
    MAX_BIGINT,
    UNSTORABLE,
    substring_pattern,
)
from app.pipelines.models import Pipeline, Stage
from app.tags import has_tag, normalize_tags
from app.timeline.services import changes, json_value, record_event, snapshot
from tenants.context import require_tenant

TITLE_MAX = 200
SOURCE_MAX = 100
REASON_MAX = 200
NOTES_MAX = 20000
# What the audit and the timeline compare before and after a write.
TRACKED_FIELDS = (
    "title",
    "amount_minor",
    "currency",
    "pipeline_id",
    "stage_id",
    "status",
    "probability",
    "expected_close_date",
    "closed_at",
    "won_amount_minor",
    "lost_reason",
    "lost_to_competitor",
    "source",
    "notes",
    "contact_id",
    "company_id",
    "owner_id",
    "tags",
    "custom_fields",
)
# Set by a stage move itself: told by the "stage_changed" event, not by "updated".
STAGE_FIELDS = (
    "pipeline_id",
    "stage_id",
    "status",
    "closed_at",
    "won_amount_minor",
    "lost_reason",
    "lost_to_competitor",
)
# Keys of the input dict (as in the API body).
INPUT_FIELDS = (
    "title",
    "amount",
    "currency",
    "pipeline_id",
    "stage_id",
    "probability",
    "expected_close_date",
    "owner_id",
    "contact_id",
    "company_id",
    "source",
    "notes",
    "lost_reason",
    "lost_to_competitor",
    "won_amount",
    "tags",
    "custom_fields",
)
LOST_REASON_REQUIRED = "Say why the deal was lost."
NO_SUCH_CONTACT = "No such contact."
NO_SUCH_COMPANY = "No such company."


class DealMoved(Exception):
    """The deal left the stage the client saw (someone else moved it meanwhile): the
    move is refused (API 409 ``conflict``) instead of silently moving it again from a
    stage the client never saw. ``stage_id`` is where the deal is now."""

    def __init__(self, stage_id: int) -> None:
        self.stage_id = stage_id
        self.message = "Someone else moved this deal meanwhile. Look at where it is now."
        super().__init__(self.message)


class _Refusals:
    """Collects per-field messages, so that one answer names every bad field."""

    def __init__(self) -> None:
        self.details: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.details.setdefault(field, []).append(message)

    def merge(self, refusal: InvalidInput) -> None:
        for field, messages in refusal.details.items():
            for message in messages:
                self.add(field, message)

    def raise_any(self) -> None:
        if self.details:
            raise InvalidInput(self.details)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _text(
    refusals: _Refusals,
    field: str,
    value: Any,
    max_length: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """A trimmed, storable single-line (or ``multiline``) text, blank -> None."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value.strip()
    else:
        refusals.add(field, "Not a valid string.")
        return None
    control = CONTROL_EXCEPT_LINE_BREAKS if multiline else CONTROL_ANY
    if UNSTORABLE.search(text) or control.search(text):
        refusals.add(field, "Contains characters that are not allowed.")
        return None
    if len(text) > max_length:
        refusals.add(field, f"At most {max_length} characters.")
        return None
    if required and not text:
        refusals.add(field, "Give the deal a title.")
        return None
    return text or None


def _valid_id(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_BIGINT


def _probability(refusals: _Refusals, value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= 100:
        refusals.add("probability", "Give a percentage from 0 to 100.")
        return None
    return value


def _close_date(refusals: _Refusals, value: Any) -> dt.date | None:
    if value is None:
        return None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        refusals.add("expected_close_date", "Not a valid date.")
        return None
    return value


def _custom_values(
    session: DbSession, refusals: _Refusals, value: Any, current: dict[str, Any] | None
) -> dict[str, Any]:
    """The deal's custom field values after the write (``current`` None: a new deal);
    see :func:`app.custom_fields.services.clean_values`."""
    try:
        return clean_values(session, "deal", value, current=current)
    except InvalidInput as refusal:
        refusals.merge(refusal)
        return dict(current or {})


def _currency(refusals: _Refusals, value: Any) -> str | None:
    if value is None:
        return money.DEFAULT_CURRENCY
    try:
        return money.normalize_currency(value)
    except money.MoneyError as exc:
        refusals.add("currency", exc.message)
        return None


def _minor(refusals: _Refusals, field: str, value: Any, currency: str | None) -> int | None:
    """``value`` in minor units of ``currency`` (None stays None)."""
    if value is None:
        return None
    try:
        if currency is None:  # the currency was refused: still check the amount's form
            money.parse_amount(value)
            return None
        return money.to_minor(value, currency)
    except money.MoneyError as exc:
        refusals.add(field, exc.message)
        return None


def _reexpress(
    refusals: _Refusals, field: str, minor: int | None, old: str, new: str | None
) -> int | None:
    """An amount stored in ``old`` currency, kept as the same number in ``new``
    (10.00 EUR -> 10 JPY); refused when it has decimals the new currency lacks."""
    if minor is None or new is None or old == new:
        return minor
    try:
        return money.to_minor(money.from_minor(minor, old), new)
    except money.MoneyError:
        refusals.add(field, f"Give the amount again: {new} has fewer decimals than {old}.")
        return None


# --- lookups ---------------------------------------------------------------------


def default_pipeline(session: DbSession) -> Pipeline | None:
    """The workspace's default pipeline (else its first one)."""
    stmt = select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.position, Pipeline.id)
    return session.scalars(stmt.limit(1)).first()


def pipelines(session: DbSession) -> list[Pipeline]:
    """Every pipeline of the workspace, in board order."""
    return list(session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id)))


def stages_of(session: DbSession, pipeline_id: int) -> list[Stage]:
    """The stages of one pipeline, in order."""
    stmt = select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position)
    return list(session.scalars(stmt))


def first_stage(session: DbSession, pipeline_id: int) -> Stage | None:
    """Where a new deal starts in a pipeline: its first open stage (its first stage if
    none is open)."""
    stages = stages_of(session, pipeline_id)
    return next((s for s in stages if s.kind == "open"), stages[0] if stages else None)


def load_stages(session: DbSession, stage_ids: Iterable[int]) -> dict[int, Stage]:
    """Stages by id, with their pipelines, in one query (for lists and cards)."""
    wanted = set(stage_ids)
    if not wanted:
        return {}
    rows = session.scalars(select(Stage).where(Stage.id.in_(wanted)))
    stages = {stage.id: stage for stage in rows}
    pipeline_ids = {stage.pipeline_id for stage in stages.values()}
    # Loads the pipelines into the identity map: stage.pipeline then costs no query.
    list(session.scalars(select(Pipeline).where(Pipeline.id.in_(pipeline_ids))))
    return stages


def resolve_stage(session: DbSession, pipeline_id: int | None, stage_id: int | None) -> Stage:
    """The stage a deal goes to, from what the caller named.

    Neither: the default pipeline's first open stage. Only a pipeline: its first open
    stage. A stage (and optionally its pipeline): that stage, which must belong to the
    pipeline when both are given.
    """
    if stage_id is not None:
        stage = session.get(Stage, stage_id) if _valid_id(stage_id) else None
        if stage is None:
            raise InvalidInput({"stage_id": ["No such stage."]})
        if pipeline_id is not None and stage.pipeline_id != pipeline_id:
            if not _valid_id(pipeline_id) or session.get(Pipeline, pipeline_id) is None:
                raise InvalidInput({"pipeline_id": ["No such pipeline."]})
            raise InvalidInput({"stage_id": ["This stage belongs to another pipeline."]})
        return stage
    if pipeline_id is not None:
        pipeline = session.get(Pipeline, pipeline_id) if _valid_id(pipeline_id) else None
        if pipeline is None:
            raise InvalidInput({"pipeline_id": ["No such pipeline."]})
    else:
        pipeline = default_pipeline(session)
        if pipeline is None:
            raise InvalidInput({"pipeline_id": ["This workspace has no pipeline yet."]})
    stage = first_stage(session, pipeline.id)
    if stage is None:
        raise InvalidInput({"pipeline_id": ["This pipeline has no stages."]})
    return stage


def _check_links(
    session: DbSession, actor: Actor, refusals: _Refusals, values: dict[str, Any]
) -> None:
    """Linked records must be visible to the actor: an id they can not see gets the same
    message as one that does not exist, so the answer tells nothing about it."""
    contact_id = values.get("contact_id")
    if contact_id is not None and (
        not _valid_id(contact_id) or get_visible_contact(session, actor, contact_id) is None
    ):
        refusals.add("contact_id", NO_SUCH_CONTACT)
    company_id = values.get("company_id")
    if company_id is not None and get_visible_company(session, actor, company_id) is None:
        refusals.add("company_id", NO_SUCH_COMPANY)


def _check_owner(
    session: DbSession, actor: Actor, refusals: _Refusals, owner_id: Any, action: str
) -> None:
    """Roles limited to their own deals may only name themselves; anyone named must be
    an active member of the bound workspace."""
    if not record_in_scope(actor, "deals", action, owner_id if _valid_id(owner_id) else None):
        refusals.add("owner_id", "You may only assign deals to yourself.")
        return
    if owner_id is None:
        return
    tenant = require_tenant()
    if not _valid_id(owner_id) or active_membership(session, owner_id, tenant.id) is None:
        refusals.add("owner_id", "Not an active member of this workspace.")


def check_owner(session: DbSession, actor: Actor, owner_id: Any, action: str) -> None:
    """``owner_id`` may own a deal that ``actor`` creates or edits (``action``); raises
    :class:`InvalidInput` on ``owner_id`` otherwise (bulk reassignment uses it)."""
    refusals = _Refusals()
    _check_owner(session, actor, refusals, owner_id, action)
    refusals.raise_any()


# --- closing rules -----------------------------------------------------------------


def _closing_values(
    refusals: _Refusals,
    data: dict[str, Any],
    *,
    kind: str,
    entering: bool,
    current: Deal | None,
    currency: str | None,
    amount_minor: int | None,
) -> dict[str, Any]:
    """``status``, ``closed_at``, won and lost fields for a deal that is (or stays) in a
    stage of ``kind``; ``entering`` when the write puts it there."""
    was = current.status if current is not None else None
    values: dict[str, Any] = {"status": kind}
    given_reason = _text(refusals, "lost_reason", data.get("lost_reason"), REASON_MAX)
    given_rival = _text(refusals, "lost_to_competitor", data.get("lost_to_competitor"), REASON_MAX)
    given_won = _minor(refusals, "won_amount", data.get("won_amount"), currency)
    if kind != "lost":
        for name, given in (("lost_reason", given_reason), ("lost_to_competitor", given_rival)):
            if given is not None:
                refusals.add(name, "Only a lost deal has this.")
    if kind != "won" and given_won is not None:
        refusals.add("won_amount", "Only a won deal has a won amount.")
    if entering:
        values["stage_entered_at"] = _now()
        values["closed_at"] = None if kind == "open" else _now()
    if kind == "open":
        values.update(won_amount_minor=None, lost_reason=None, lost_to_competitor=None)
    elif kind == "won":
        values.update(lost_reason=None, lost_to_competitor=None)
        if given_won is not None:
            values["won_amount_minor"] = given_won
        elif entering or was != "won" or "won_amount" in data:
            # Winning (or clearing the won amount) takes the deal's amount.
            values["won_amount_minor"] = amount_minor
    else:
        values["won_amount_minor"] = None
        kept = current if was == "lost" else None
        reason = given_reason if "lost_reason" in data else (kept.lost_reason if kept else None)
        rival = (
            given_rival
            if "lost_to_competitor" in data
            else (kept.lost_to_competitor if kept else None)
        )
        if not reason and "lost_reason" not in refusals.details:
            refusals.add("lost_reason", LOST_REASON_REQUIRED)
        values.update(lost_reason=reason, lost_to_competitor=rival)
    return values


# --- writes ------------------------------------------------------------------------


def _deal_event(
    session: DbSession, actor: Actor, deal: Deal, kind: str, data: dict[str, Any]
) -> None:
    """Append ``kind`` to the deal's history and to its contact's and company's."""
    record_event(
        session,
        kind=kind,
        entity="deal",
        entity_id=deal.id,
        actor_id=actor.user_id,
        deal_id=deal.id,
        contact_id=deal.contact_id,
        company_id=deal.company_id,
        data=data,
    )


def create_deal(session: DbSession, actor: Actor, data: dict[str, Any]) -> Deal:
    """Create a deal owned by ``data['owner_id']`` or by the actor, in the named stage
    (default: the default pipeline's first open stage)."""
    refusals = _Refusals()
    values: dict[str, Any] = {
        "title": _text(refusals, "title", data.get("title"), TITLE_MAX, required=True),
        "source": _text(refusals, "source", data.get("source"), SOURCE_MAX),
        "notes": _text(refusals, "notes", data.get("notes"), NOTES_MAX, multiline=True),
        "probability": _probability(refusals, data.get("probability")),
        "expected_close_date": _close_date(refusals, data.get("expected_close_date")),
        "custom_fields": _custom_values(session, refusals, data.get("custom_fields"), None),
        "contact_id": data.get("contact_id"),
        "company_id": data.get("company_id"),
        "owner_id": data.get("owner_id", actor.user_id),
    }
    try:
        values["tags"] = normalize_tags(data.get("tags"))
    except InvalidInput as refusal:
        refusals.merge(refusal)
    currency = _currency(refusals, data.get("currency"))
    values["currency"] = currency
    values["amount_minor"] = _minor(refusals, "amount", data.get("amount"), currency)
    _check_links(session, actor, refusals, values)
    _check_owner(session, actor, refusals, values["owner_id"], "create")
    stage: Stage | None = None
    try:
        stage = resolve_stage(session, data.get("pipeline_id"), data.get("stage_id"))
    except InvalidInput as refusal:
        refusals.merge(refusal)
    if stage is not None:
        values.update(
            _closing_values(
                refusals,
                data,
                kind=stage.kind,
                entering=True,
                current=None,
                currency=currency,
                amount_minor=values["amount_minor"],
            )
        )
        values.update(pipeline_id=stage.pipeline_id, stage_id=stage.id)
    refusals.raise_any()
    assert stage is not None  # refusals were raised otherwise
    if values.get("lost_reason"):
        values["lost_reason"] = canonical_reason(session, values["lost_reason"])
    deal = Deal(created_by_id=actor.user_id, **values)
    session.add(deal)
    session.flush()
    record_move(
        session,
        deal_id=deal.id,
        pipeline_id=deal.pipeline_id,
        from_stage_id=None,
        to_stage_id=deal.stage_id,
        moved_by=actor.user_id,
        seconds_in_from_stage=None,
    )
    after = snapshot(deal, TRACKED_FIELDS)
    record(
        session,
        actor_id=actor.user_id,
        action="created",
        entity="deal",
        entity_id=deal.id,
        changes=split_changes(
            {k: [None, v] for k, v in after.items() if v not in (None, "", [], {})}
        ),
    )
    _deal_event(
        session,
        actor,
        deal,
        "created",
        {
            "title": deal.title,
            "stage": {"id": stage.id, "name": stage.name},
            "amount": money.amount_text(deal.amount_minor, deal.currency),
            "currency": deal.currency,
        },
    )
    session.commit()
    return deal


def update_deal(session: DbSession, actor: Actor, deal: Deal, data: dict[str, Any]) -> Deal:
    """Apply the given fields (keys absent from ``data`` keep their values).

    Naming another stage (or another pipeline) moves the deal: its status follows the
    stage's kind, the timeline gets a "stage_changed" event with the time spent in
    the previous stage, and the stage history a row. Other changes make one "updated"
    event; a write that changes nothing records nothing.

    The deal's row is locked first and re-read, so that two concurrent writes are
    serialised and each sees what the other committed. ``data['from_stage_id']`` (the
    stage the client saw) makes a stale move fail with :class:`DealMoved`.
    """
    session.execute(
        select(Deal)
        .where(Deal.id == deal.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    seen = data.get("from_stage_id")
    if seen is not None and seen != deal.stage_id:
        raise DealMoved(deal.stage_id)
    refusals = _Refusals()
    new: dict[str, Any] = {}
    if "title" in data:
        new["title"] = _text(refusals, "title", data["title"], TITLE_MAX, required=True)
    if "source" in data:
        new["source"] = _text(refusals, "source", data["source"], SOURCE_MAX)
    if "notes" in data:
        new["notes"] = _text(refusals, "notes", data["notes"], NOTES_MAX, multiline=True)
    if "probability" in data:
        new["probability"] = _probability(refusals, data["probability"])
    if "expected_close_date" in data:
        new["expected_close_date"] = _close_date(refusals, data["expected_close_date"])
    if "custom_fields" in data:
        new["custom_fields"] = _custom_values(
            session, refusals, data["custom_fields"], deal.custom_fields
        )
    if "tags" in data:
        try:
            new["tags"] = normalize_tags(data["tags"])
        except InvalidInput as refusal:
            refusals.merge(refusal)
    currency: str | None = deal.currency
    if "currency" in data:
        currency = _currency(refusals, data["currency"])
        new["currency"] = currency
    if "amount" in data:
        amount_minor = _minor(refusals, "amount", data["amount"], currency)
    else:
        amount_minor = _reexpress(refusals, "amount", deal.amount_minor, deal.currency, currency)
    new["amount_minor"] = amount_minor
    links: dict[str, Any] = {
        name: data[name]
        for name in ("contact_id", "company_id")
        if name in data and data[name] != getattr(deal, name)
    }
    _check_links(session, actor, refusals, links)
    new.update(links)
    if "owner_id" in data and data["owner_id"] != deal.owner_id:
        _check_owner(session, actor, refusals, data["owner_id"], "edit")
        new["owner_id"] = data["owner_id"]

    for name in ("pipeline_id", "stage_id"):
        if name in data and data[name] is None:
            refusals.add(name, "A deal is always in a stage of a pipeline.")
    target: Stage | None = None
    wants_stage = data.get("stage_id") is not None
    wants_pipeline = data.get("pipeline_id") not in (None, deal.pipeline_id)
    if wants_stage or wants_pipeline:
        try:
            target = resolve_stage(
                session,
                data.get("pipeline_id"),
                data.get("stage_id") if wants_stage else None,
            )
        except InvalidInput as refusal:
            refusals.merge(refusal)
    moving = target is not None and target.id != deal.stage_id
    kind = target.kind if target is not None and moving else deal.status
    if target is not None and moving:
        new.update(pipeline_id=target.pipeline_id, stage_id=target.id)
    closing = _closing_values(
        refusals,
        data,
        kind=kind,
        entering=moving,
        current=deal,
        currency=currency,
        amount_minor=amount_minor,
    )
    if kind == "won" and not moving and "won_amount" not in data:
        # Staying won: the won amount stays, in the (possibly new) currency.
        closing["won_amount_minor"] = _reexpress(
            refusals, "won_amount", deal.won_amount_minor, deal.currency, currency
        )
    new.update(closing)
    refusals.raise_any()
    if "lost_reason" in data and new.get("lost_reason"):
        new["lost_reason"] = canonical_reason(session, new["lost_reason"])

    before = snapshot(deal, TRACKED_FIELDS)
    previous = session.get(Stage, deal.stage_id)
    left_at = deal.stage_entered_at
    for name, value in new.items():
        setattr(deal, name, value)
    diff = split_changes(changes(before, snapshot(deal, TRACKED_FIELDS)))
    if not diff:
        session.commit()
        return deal
    record(
        session,
        actor_id=actor.user_id,
        action="updated",
        entity="deal",
        entity_id=deal.id,
        changes=diff,
    )
    if moving and target is not None:
        seconds = max(0, int((_now() - left_at).total_seconds()))
        record_move(
            session,
            deal_id=deal.id,
            pipeline_id=target.pipeline_id,
            from_stage_id=before["stage_id"],
            to_stage_id=target.id,
            moved_by=actor.user_id,
            seconds_in_from_stage=seconds,
        )
        stage_data: dict[str, Any] = {
            "from_stage": {"id": previous.id, "name": previous.name} if previous else None,
            "to_stage": {"id": target.id, "name": target.name},
            "seconds_in_stage": seconds,
            "from_status": before["status"],
            "to_status": deal.status,
        }
        if before["status"] != "open" and deal.status == "open":
            stage_data["reopened"] = True
        if deal.status == "lost":
            stage_data["lost_reason"] = deal.lost_reason
            stage_data["lost_to_competitor"] = deal.lost_to_competitor
        if deal.status == "won":
            stage_data["won_amount"] = money.amount_text(deal.won_amount_minor, deal.currency)
            stage_data["currency"] = deal.currency
        _deal_event(session, actor, deal, "stage_changed", stage_data)
    shown = _readable_changes(
        {k: v for k, v in diff.items() if not (moving and k in STAGE_FIELDS)},
        before["currency"],
        deal.currency,
    )
    if shown:
        _deal_event(session, actor, deal, "updated", {"changes": shown})
    session.commit()
    return deal


def _readable_changes(
    diff: dict[str, list[Any]], old_currency: str, new_currency: str
) -> dict[str, list[Any]]:
    """Field changes as the timeline shows them: amounts as decimals, not minor units."""
    shown: dict[str, list[Any]] = {}
    for name, (old, new) in diff.items():
        if name in ("amount_minor", "won_amount_minor"):
            label = name.removesuffix("_minor")
            shown[label] = [
                money.amount_text(old, old_currency) if old is not None else None,
                money.amount_text(new, new_currency) if new is not None else None,
            ]
        else:
            shown[name] = [old, new]
    return shown


def delete_deal(session: DbSession, actor: Actor, deal: Deal) -> None:
    """Delete a deal. Its own history goes with it; the contact's and company's
    histories keep a "deleted" entry naming it."""
    record(
        session,
        actor_id=actor.user_id,
        action="deleted",
        entity="deal",
        entity_id=deal.id,
        changes={"title": [deal.title, None]},
    )
    if deal.contact_id is not None or deal.company_id is not None:
        record_event(
            session,
            kind="deleted",
            entity="deal",
            entity_id=deal.id,
            actor_id=actor.user_id,
            contact_id=deal.contact_id,
            company_id=deal.company_id,
            data={"title": deal.title},
        )
    session.delete(deal)
    session.commit()


# --- reads -------------------------------------------------------------------------


def get_visible_deal(
    session: DbSession, actor: Actor, deal_id: int, action: str = "view"
) -> Deal | None:
    """The deal if it exists and ``actor`` may ``action`` it; None otherwise (callers
    answer 404 either way, so "not yours" looks like "not there")."""
    if not _valid_id(deal_id):
        return None
    deal = session.get(Deal, deal_id)
    if deal is None or not record_in_scope(actor, "deals", action, deal.owner_id):
        return None
    return deal


def search_condition(q: str) -> Any:
    """Case-insensitive substring match on the title; ``%`` and ``_`` are matched
    literally. The title's trigram index (migration t0006) answers it when ``q`` has a
    trigram; for shorter terms the planner reads the deals in list order instead."""
    return Deal.title.ilike(substring_pattern(q), escape="\\")


def visible_deals_query(
    actor: Actor,
    q: str | None = None,
    *,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    status: str | None = None,
    owner_id: int | None = None,
    contact_id: int | None = None,
    company_id: int | None = None,
    tag: str | None = None,
) -> Select[tuple[Deal]]:
    """Deals ``actor`` may view, optionally matching ``q`` (in the title) and filters;
    scope is applied in SQL."""
    stmt = apply_record_scope(select(Deal), actor, "deals", "view", Deal.owner_id)
    if q and q.strip():
        stmt = stmt.where(search_condition(q))
    for column, value in (
        (Deal.pipeline_id, pipeline_id),
        (Deal.stage_id, stage_id),
        (Deal.owner_id, owner_id),
        (Deal.contact_id, contact_id),
        (Deal.company_id, company_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if status is not None:
        if status not in DEAL_STATUSES:
            raise ValueError(f"unknown deal status {status!r}")
        stmt = stmt.where(Deal.status == status)
    if tag is not None and tag.strip():
        stmt = stmt.where(has_tag(Deal.tags, tag))
    return stmt


def effective_probability(deal: Deal, stage: Stage | None) -> int:
    """The probability a forecast uses: 100 when won, 0 when lost, else the deal's own
    (when set) or its stage's."""
    if deal.status == "won":
        return 100
    if deal.status == "lost":
        return 0
    if deal.probability is not None:
        return deal.probability
    return stage.probability if stage is not None else 0


def weighted_amount(deal: Deal, stage: Stage | None) -> Decimal | None:
    """The amount times the effective probability, in the deal's currency."""
    return money.weighted(deal.amount_minor, deal.currency, effective_probability(deal, stage))


def deals_of_contact(
    session: DbSession, actor: Actor, contact_id: int, limit: int = 20
) -> list[Deal]:
    """The newest deals of a contact that ``actor`` may see (for the contact card)."""
    stmt = visible_deals_query(actor, contact_id=contact_id)
    return list(session.scalars(stmt.order_by(Deal.created_at.desc(), Deal.id.desc()).limit(limit)))


def jsonable(value: Any) -> Any:
    """``value`` as JSON holds it (shared with audit entries)."""
    return json_value(value)
