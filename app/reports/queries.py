"""The reports, each computed by PostgreSQL: aggregate queries over the deals and the
stage history the member may see, never rows summed in Python.

Money is summed per currency and answered per currency (:data:`Money`): amounts in two
currencies are never added together, there being no rate that would make the sum mean
anything. Counts and rates mix currencies freely (a deal is a deal).

Definitions (also in ``docs/reports.md``):

- *Cohort*: the deals of the pipeline created in the period.
- *Reached a stage*: a cohort deal that is or was in the stage or in a later open stage
  (by position), or that was won. Every cohort deal reached the first stage (it entered
  the funnel there, even one created straight into a closed stage). Conversion from
  one stage to the next is reached(next) / reached(this); the drop-off is the rest,
  split into the deals lost there and those still open there.
- *Win rate*: won / (won + lost) among the deals closed in the period.
- *Time in stage*: the time deals spent in a stage, from the moves out of it made in the
  period (``seconds_in_from_stage`` of the stage history).
- *Sales cycle*: from creation to closing, for the deals won (or lost) in the period.
- *Forecast*: open deals by month of expected close, amount and amount times the deal's
  probability (its own, else its stage's).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    Date,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from app.access.policy import Actor, owner_condition, scope_for
from app.activities.models import Activity
from app.board.models import DealStageHistory
from app.database import DbSession
from app.deals.models import Deal
from app.identity.members import team_members
from app.pipelines.models import Stage
from app.reports.filters import ReportFilters, deal_condition, narrows_deals
from tenants.context import require_tenant

# Currency -> amount in its minor units.
Money = dict[str, int]
SECONDS_PER_DAY = 86_400
FORECAST_MONTHS = 6
REPORT_NAMES = (
    "funnel",
    "win-rate",
    "stage-times",
    "loss-reasons",
    "forecast",
    "owners",
    "sources",
)


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to four decimals, None when there is no whole."""
    return round(part / whole, 4) if whole else None


def _add(money: Money, currency: str, minor: int | None) -> None:
    if minor:
        money[currency] = money.get(currency, 0) + int(minor)
    else:
        money.setdefault(currency, 0)


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    months, month = [], _month_start(first)
    while month <= last:
        months.append(month)
        month = _next_month(month)
    return months


def _local_month(column: Any, filters: ReportFilters) -> Any:
    """The first day of the month of ``column`` (a timestamp) in the member's zone."""
    return cast(func.date_trunc("month", func.timezone(filters.zone.key, column)), Date)


# --- funnel ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStage:
    stage_id: int
    name: str
    color: str
    reached: int
    next_reached: int
    still_open: int
    lost_here: int

    @property
    def conversion(self) -> float | None:
        return rate(self.next_reached, self.reached)

    @property
    def drop_off(self) -> int:
        return self.reached - self.next_reached

    @property
    def drop_off_rate(self) -> float | None:
        return rate(self.drop_off, self.reached)


@dataclass(frozen=True)
class Funnel:
    entered: int
    won: int
    lost: int
    open: int
    stages: list[FunnelStage]

    @property
    def conversion(self) -> float | None:
        return rate(self.won, self.entered)


def funnel(session: DbSession, actor: Actor, filters: ReportFilters) -> Funnel:
    """Conversion and drop-off, stage to stage, of the deals created in the period."""
    open_stages = filters.open_stages
    history = DealStageHistory
    rows: Sequence[Any] = ()
    if open_stages:
        positions = {stage.id: stage.position for stage in open_stages}
        # Every deal of the cohort entered the funnel at its first stage, so only moves
        # to a later open stage say how far a deal got.
        later = {stage.id: stage.position for stage in open_stages[1:]}
        furthest: Any = case(positions, value=Deal.stage_id)
        per_deal = select(Deal.status).select_from(Deal)
        if later:
            # The cohort's lowest deal id, a bound for the join below. "+ 0": computed
            # over the period's rows (found through the created-at index), not by
            # walking the primary key from its start until a row of the period.
            cohort = aliased(Deal)
            first_id = (
                select(func.min(cohort.id + 0))
                .where(
                    cohort.pipeline_id == filters.pipeline.id,
                    cohort.created_at >= filters.start,
                    cohort.created_at < filters.end,
                )
                .correlate(None)
                .scalar_subquery()
            )
            # Won deals reached every stage, open ones in the last open stage can not
            # have been further: their history is not read. A deal's moves are at or
            # after its creation, hence after the period's start: the bound lets the
            # (pipeline_id, moved_at) index skip every older row.
            furthest = func.greatest(furthest, func.max(case(later, value=history.to_stage_id)))
            per_deal = per_deal.outerjoin(
                history,
                and_(
                    history.deal_id == Deal.id,
                    Deal.status != "won",
                    Deal.stage_id != open_stages[-1].id,
                    history.pipeline_id == filters.pipeline.id,
                    history.moved_at >= filters.start,
                    history.to_stage_id.in_(list(later)),
                    # Ids grow with time: the moves of older deals made during the
                    # period are left out before the join (a bound, right whatever
                    # the order of ids).
                    history.deal_id >= first_id,
                ),
            )
        reach = (
            per_deal.add_columns(furthest.label("position"))
            .where(
                deal_condition(actor, filters, Deal),
                Deal.created_at >= filters.start,
                Deal.created_at < filters.end,
            )
            .group_by(Deal.id)
            .subquery("per_deal")
        )
        rows = session.execute(
            select(reach.c.position, reach.c.status, func.count().label("deals")).group_by(
                reach.c.position, reach.c.status
            )
        ).all()
    totals = {"open": 0, "won": 0, "lost": 0}
    # (furthest position, status) -> deals; a won deal reached every open stage.
    at: dict[tuple[int, str], int] = defaultdict(int)
    first = open_stages[0].position if open_stages else 0
    for position, status, deals in rows:
        totals[status] += deals
        at[(first if position is None else position, status)] += deals
    stages: list[FunnelStage] = []
    reached_counts = []
    for stage in open_stages:
        reached = totals["won"] + sum(
            n
            for (position, status), n in at.items()
            if status != "won" and position >= stage.position
        )
        reached_counts.append(reached)
    for index, stage in enumerate(open_stages):
        next_reached = reached_counts[index + 1] if index + 1 < len(open_stages) else totals["won"]
        stages.append(
            FunnelStage(
                stage_id=stage.id,
                name=stage.name,
                color=stage.color,
                reached=reached_counts[index],
                next_reached=next_reached,
                still_open=at.get((stage.position, "open"), 0),
                lost_here=at.get((stage.position, "lost"), 0),
            )
        )
    return Funnel(
        entered=sum(totals.values()),
        won=totals["won"],
        lost=totals["lost"],
        open=totals["open"],
        stages=stages,
    )


# --- win rate --------------------------------------------------------------------------


@dataclass(frozen=True)
class WinRateMonth:
    month: dt.date
    won: int
    lost: int

    @property
    def win_rate(self) -> float | None:
        return rate(self.won, self.won + self.lost)


@dataclass(frozen=True)
class WinRate:
    won: int
    lost: int
    won_amount: Money
    lost_amount: Money
    months: list[WinRateMonth]
    # The average won deal per currency (rounded half up to minor units).
    average_won: Money

    @property
    def win_rate(self) -> float | None:
        return rate(self.won, self.won + self.lost)


def _closed_in_period(actor: Actor, filters: ReportFilters) -> Any:
    return and_(
        deal_condition(actor, filters, Deal),
        Deal.status.in_(("won", "lost")),
        Deal.closed_at >= filters.start,
        Deal.closed_at < filters.end,
    )


def _won_value() -> Any:
    return func.coalesce(Deal.won_amount_minor, Deal.amount_minor)


def _round_div(total: Any, divisor: int) -> int:
    value = Decimal(total or 0) / Decimal(divisor)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def win_rate(session: DbSession, actor: Actor, filters: ReportFilters) -> WinRate:
    """Won against lost among the deals closed in the period, in total and by month."""
    month = _local_month(Deal.closed_at, filters)
    rows = session.execute(
        select(
            month.label("month"),
            Deal.status,
            Deal.currency,
            func.count().label("deals"),
            func.sum(case((Deal.status == "won", _won_value()), else_=Deal.amount_minor)).label(
                "amount"
            ),
        )
        .where(_closed_in_period(actor, filters))
        .group_by(month, Deal.status, Deal.currency)
    ).all()
    by_month: dict[dt.date, dict[str, int]] = defaultdict(lambda: {"won": 0, "lost": 0})
    won_amount: Money = {}
    lost_amount: Money = {}
    won_count: dict[str, int] = defaultdict(int)
    for row in rows:
        by_month[row.month][row.status] += row.deals
        if row.status == "won":
            _add(won_amount, row.currency, row.amount)
            won_count[row.currency] += row.deals
        else:
            _add(lost_amount, row.currency, row.amount)
    months = [
        WinRateMonth(month=m, won=by_month[m]["won"], lost=by_month[m]["lost"])
        for m in _months(filters.date_from, filters.date_to)
    ]
    won = sum(m.won for m in months)
    lost = sum(m.lost for m in months)
    average = {
        currency: _round_div(won_amount[currency], won_count[currency])
        for currency in won_amount
        if won_count[currency]
    }
    return WinRate(
        won=won,
        lost=lost,
        won_amount=dict(sorted(won_amount.items())),
        lost_amount=dict(sorted(lost_amount.items())),
        months=months,
        average_won=dict(sorted(average.items())),
    )


# --- time in stage and sales cycle -----------------------------------------------------


@dataclass(frozen=True)
class StageTime:
    stage_id: int
    name: str
    color: str
    kind: str
    moves: int
    average_days: float | None
    median_days: float | None


@dataclass(frozen=True)
class Cycle:
    deals: int
    average_days: float | None
    median_days: float | None


@dataclass(frozen=True)
class StageTimes:
    stages: list[StageTime]
    won_cycle: Cycle
    lost_cycle: Cycle


def _days(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / SECONDS_PER_DAY, 1)


def _histogram_median(histogram: list[tuple[int, int]]) -> float:
    """The median of values given as sorted (value, count) pairs (the mean of the two
    middle values for an even count, as ``percentile_cont(0.5)``)."""
    total = sum(n for _, n in histogram)
    middle = [(total - 1) // 2, total // 2]
    found: list[float] = []
    seen = 0
    for value, count in histogram:
        while middle and middle[0] < seen + count:
            found.append(value)
            middle.pop(0)
        seen += count
    return sum(found) / len(found)


def stage_times(session: DbSession, actor: Actor, filters: ReportFilters) -> StageTimes:
    """Average and median time in each stage (moves out of it in the period), and the
    sales cycle of the deals won and lost in the period."""
    history = DealStageHistory
    seconds = history.seconds_in_from_stage
    # Per stage, how many moves left it after each whole hour: a histogram small enough
    # to read whole (stages x hours), from which the average is exact and the median
    # exact to the hour. A median over the rows themselves would sort every move of
    # the period; hashing them into hours does not.
    hour = seconds // 3600
    stmt = (
        select(
            history.from_stage_id,
            hour.label("hour"),
            func.count().label("moves"),
            func.sum(seconds).label("seconds"),
        )
        .where(
            history.pipeline_id == filters.pipeline.id,
            history.moved_at >= filters.start,
            history.moved_at < filters.end,
            history.from_stage_id.in_([s.id for s in filters.stages]),
            seconds >= 0,
        )
        .group_by(history.from_stage_id, hour)
    )
    if narrows_deals(filters):
        stmt = stmt.join(Deal, Deal.id == history.deal_id).where(
            deal_condition(actor, filters, Deal)
        )
    histograms: dict[int, list[tuple[int, int]]] = defaultdict(list)
    sums: dict[int, int] = defaultdict(int)
    for row in session.execute(stmt):
        histograms[row.from_stage_id].append((int(row.hour), int(row.moves)))
        sums[row.from_stage_id] += int(row.seconds)
    stages = []
    for stage in filters.stages:
        histogram = sorted(histograms.get(stage.id, []))
        if stage.kind != "open" and not histogram:
            continue
        moves = sum(n for _, n in histogram)
        stages.append(
            StageTime(
                stage_id=stage.id,
                name=stage.name,
                color=stage.color,
                kind=stage.kind,
                moves=moves,
                average_days=_days(sums[stage.id] / moves) if moves else None,
                median_days=_days(_histogram_median(histogram) * 3600) if moves else None,
            )
        )
    cycle_seconds = func.extract("epoch", Deal.closed_at - Deal.created_at)
    cycles = {
        row.status: Cycle(
            deals=row.deals, average_days=_days(row.average), median_days=_days(row.median)
        )
        for row in session.execute(
            select(
                Deal.status,
                func.count().label("deals"),
                func.avg(cycle_seconds).label("average"),
                func.percentile_cont(0.5).within_group(cycle_seconds).label("median"),
            )
            .where(_closed_in_period(actor, filters))
            .group_by(Deal.status)
        )
    }
    empty = Cycle(deals=0, average_days=None, median_days=None)
    return StageTimes(
        stages=stages,
        won_cycle=cycles.get("won", empty),
        lost_cycle=cycles.get("lost", empty),
    )


# --- loss reasons and competitors ------------------------------------------------------


@dataclass(frozen=True)
class LossGroup:
    name: str | None
    deals: int
    amount: Money


@dataclass(frozen=True)
class LossReasons:
    lost: int
    reasons: list[LossGroup]
    competitors: list[LossGroup]


def _loss_groups(session: DbSession, column: Any, where: Any) -> list[LossGroup]:
    rows = session.execute(
        select(
            column.label("name"),
            Deal.currency,
            func.count().label("deals"),
            func.sum(Deal.amount_minor).label("amount"),
        )
        .where(where)
        .group_by(column, Deal.currency)
    ).all()
    groups: dict[str | None, tuple[int, Money]] = {}
    for row in rows:
        deals, amount = groups.get(row.name, (0, {}))
        _add(amount, row.currency, row.amount)
        groups[row.name] = (deals + row.deals, amount)
    ordered = sorted(groups.items(), key=lambda item: (-item[1][0], item[0] is None, item[0] or ""))
    return [
        LossGroup(name=name, deals=deals, amount=dict(sorted(amount.items())))
        for name, (deals, amount) in ordered
    ]


def loss_reasons(session: DbSession, actor: Actor, filters: ReportFilters) -> LossReasons:
    """Why the deals lost in the period were lost, and to whom."""
    lost = and_(
        deal_condition(actor, filters, Deal),
        Deal.status == "lost",
        Deal.closed_at >= filters.start,
        Deal.closed_at < filters.end,
    )
    reason = func.nullif(func.btrim(Deal.lost_reason), "")
    competitor = func.nullif(func.btrim(Deal.lost_to_competitor), "")
    reasons = _loss_groups(session, reason, lost)
    competitors = _loss_groups(session, competitor, and_(lost, competitor.is_not(None)))
    return LossReasons(lost=sum(g.deals for g in reasons), reasons=reasons, competitors=competitors)


# --- weighted forecast -----------------------------------------------------------------


@dataclass(frozen=True)
class ForecastBucket:
    # The first day of the month; None for the "overdue" and "no date" buckets.
    month: dt.date | None
    kind: str  # "month", "overdue" or "undated"
    deals: int
    amount: Money
    weighted: Money


@dataclass(frozen=True)
class Forecast:
    first_month: dt.date
    last_month: dt.date
    buckets: list[ForecastBucket]

    @property
    def currencies(self) -> list[str]:
        found = {c for b in self.buckets for c in b.amount}
        return sorted(found)

    def total(self, which: str) -> Money:
        sums: Money = {}
        for bucket in self.buckets:
            for currency, minor in getattr(bucket, which).items():
                sums[currency] = sums.get(currency, 0) + minor
        return dict(sorted(sums.items()))


def forecast_window(filters: ReportFilters, today: dt.date) -> tuple[dt.date, dt.date]:
    """The months a forecast covers: the period's when one was given, else this month
    and the next five (a forecast looks ahead; the default period looks back)."""
    if filters.period_given:
        return _month_start(filters.date_from), _month_start(filters.date_to)
    first = _month_start(today)
    last = first
    for _ in range(FORECAST_MONTHS - 1):
        last = _next_month(last)
    return first, last


def forecast(
    session: DbSession, actor: Actor, filters: ReportFilters, today: dt.date | None = None
) -> Forecast:
    """Open deals by month of expected close: amount and weighted amount per currency;
    with the open deals whose expected close is already past, and those with none."""
    if today is None:
        today = dt.datetime.now(filters.zone).date()
    first, last = forecast_window(filters, today)
    after_last = _next_month(last)
    probability = case((Deal.probability.is_not(None), Deal.probability), else_=Stage.probability)
    close = Deal.expected_close_date
    bucket = case(
        (close.is_(None), literal("undated")),
        (close < first, literal("overdue")),
        else_=literal("month"),
    )
    month = cast(func.date_trunc("month", close), Date)
    rows = session.execute(
        select(
            bucket.label("kind"),
            case((bucket == "month", month), else_=None).label("month"),
            Deal.currency,
            func.count().label("deals"),
            func.sum(Deal.amount_minor).label("amount"),
            func.sum(Deal.amount_minor * probability).label("weighted"),
        )
        .join(Stage, Stage.id == Deal.stage_id)
        .where(
            deal_condition(actor, filters, Deal),
            Deal.status == "open",
            or_(close.is_(None), close < after_last),
        )
        .group_by(bucket, month, Deal.currency)
    ).all()
    cells: dict[tuple[str, dt.date | None], tuple[int, Money, Money]] = {}
    for row in rows:
        key = (row.kind, row.month)
        deals, amount, weighted = cells.get(key, (0, {}, {}))
        _add(amount, row.currency, row.amount)
        if row.weighted is not None:
            weighted[row.currency] = weighted.get(row.currency, 0) + _round_div(row.weighted, 100)
        else:
            weighted.setdefault(row.currency, 0)
        cells[key] = (deals + row.deals, amount, weighted)

    def make(kind: str, month: dt.date | None) -> ForecastBucket:
        deals, amount, weighted = cells.get((kind, month), (0, {}, {}))
        return ForecastBucket(
            month=month,
            kind=kind,
            deals=deals,
            amount=dict(sorted(amount.items())),
            weighted=dict(sorted(weighted.items())),
        )

    buckets = [make("overdue", None)]
    buckets += [make("month", m) for m in _months(first, last)]
    buckets.append(make("undated", None))
    return Forecast(first_month=first, last_month=last, buckets=buckets)


# --- performance per owner -------------------------------------------------------------


@dataclass(frozen=True)
class OwnerRow:
    owner_id: int | None
    name: str
    created: int
    created_won: int
    won: int
    lost: int
    open: int
    won_amount: Money
    activities: int

    @property
    def win_rate(self) -> float | None:
        return rate(self.won, self.won + self.lost)

    @property
    def conversion(self) -> float | None:
        return rate(self.created_won, self.created)


def owner_names(session: DbSession) -> dict[int, str]:
    """Member user id -> display name (members who left included)."""
    return {
        user.id: user.name or user.email
        for _membership, user in team_members(session, require_tenant().id)
    }


def owners(session: DbSession, actor: Actor, filters: ReportFilters) -> list[OwnerRow]:
    """Per owner: deals created, won, lost in the period, open now, won amounts per
    currency, win rate, conversion of the created ones, and activities done."""
    created = and_(Deal.created_at >= filters.start, Deal.created_at < filters.end)
    closed = and_(Deal.closed_at >= filters.start, Deal.closed_at < filters.end)
    won_closed = and_(Deal.status == "won", closed)
    counts = session.execute(
        select(
            Deal.owner_id,
            func.count().filter(created).label("created"),
            func.count().filter(and_(created, Deal.status == "won")).label("created_won"),
            func.count().filter(won_closed).label("won"),
            func.count().filter(and_(Deal.status == "lost", closed)).label("lost"),
            func.count().filter(Deal.status == "open").label("open"),
        )
        .where(deal_condition(actor, filters, Deal), or_(created, closed, Deal.status == "open"))
        .group_by(Deal.owner_id)
    ).all()
    amounts = session.execute(
        select(Deal.owner_id, Deal.currency, func.sum(_won_value()).label("amount"))
        .where(deal_condition(actor, filters, Deal), won_closed)
        .group_by(Deal.owner_id, Deal.currency)
    ).all()
    done = or_(
        and_(
            Activity.type != "task",
            Activity.occurred_at >= filters.start,
            Activity.occurred_at < filters.end,
        ),
        and_(
            Activity.type == "task",
            Activity.done.is_(True),
            Activity.done_at >= filters.start,
            Activity.done_at < filters.end,
        ),
    )
    activity_stmt = (
        select(Activity.owner_id, func.count().label("activities"))
        .where(
            done,
            Activity.owner_id.is_not(None),
            owner_condition(actor, filters.scope, Activity.owner_id),
            owner_condition(actor, scope_for(actor, "activities", "view"), Activity.owner_id),
        )
        .group_by(Activity.owner_id)
    )
    if filters.owner_id is not None:
        activity_stmt = activity_stmt.where(Activity.owner_id == filters.owner_id)
    activities = {row.owner_id: row.activities for row in session.execute(activity_stmt)}
    won_amounts: dict[int | None, Money] = defaultdict(dict)
    for row in amounts:
        _add(won_amounts[row.owner_id], row.currency, row.amount)
    names = owner_names(session)
    found = {row.owner_id: row for row in counts}
    people = set(found) | {o for o in activities if o is not None}
    result = []
    for owner_id in people:
        counted = found.get(owner_id)
        result.append(
            OwnerRow(
                owner_id=owner_id,
                name=_owner_name(names, owner_id),
                created=counted.created if counted else 0,
                created_won=counted.created_won if counted else 0,
                won=counted.won if counted else 0,
                lost=counted.lost if counted else 0,
                open=counted.open if counted else 0,
                won_amount=dict(sorted(won_amounts.get(owner_id, {}).items())),
                activities=activities.get(owner_id, 0) if owner_id is not None else 0,
            )
        )
    result.sort(key=lambda r: (-r.won, -r.created, r.owner_id is None, r.name.lower()))
    return result


def _owner_name(names: dict[int, str], owner_id: int | None) -> str:
    if owner_id is None:
        return ""
    return names.get(owner_id, f"#{owner_id}")


# --- lead sources ----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRow:
    source: str | None
    deals: int
    won: int
    lost: int
    won_amount: Money

    @property
    def conversion(self) -> float | None:
        return rate(self.won, self.deals)


def sources(session: DbSession, actor: Actor, filters: ReportFilters) -> list[SourceRow]:
    """The deals created in the period by lead source: how many, how many are won or
    lost by now, and the amounts won per currency."""
    source = func.nullif(func.btrim(Deal.source), "")
    rows = session.execute(
        select(
            source.label("source"),
            Deal.currency,
            func.count().label("deals"),
            func.count().filter(Deal.status == "won").label("won"),
            func.count().filter(Deal.status == "lost").label("lost"),
            func.sum(_won_value()).filter(Deal.status == "won").label("amount"),
        )
        .where(
            deal_condition(actor, filters, Deal),
            Deal.created_at >= filters.start,
            Deal.created_at < filters.end,
        )
        .group_by(source, Deal.currency)
    ).all()
    groups: dict[str | None, list[Any]] = {}
    for row in rows:
        group = groups.setdefault(row.source, [0, 0, 0, {}])
        group[0] += row.deals
        group[1] += row.won
        group[2] += row.lost
        if row.won:
            _add(group[3], row.currency, row.amount)
    result = [
        SourceRow(
            source=name, deals=g[0], won=g[1], lost=g[2], won_amount=dict(sorted(g[3].items()))
        )
        for name, g in groups.items()
    ]
    result.sort(key=lambda r: (-r.deals, r.source is None, (r.source or "").lower()))
    return result
