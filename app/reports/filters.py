"""The reports' filters (pipeline, period, owner) and the deal scope they run in.

One parser serves the page, the API and the CSV downloads, so that a bad value is
refused the same way everywhere: a field error naming the parameter, never a 500 and
never a silently different report.

Decisions:

- The pipeline is one pipeline (stages are what a funnel is made of, and two pipelines'
  stages do not line up); without one, the workspace's default pipeline.
- The period is whole days ``from``..``to`` (both included) in the member's time zone,
  by default the last 90 days up to today. Dates before 2000 or after 2100 are refused,
  and so is a period longer than 20 years: nothing real is that long, and the bounds
  keep every date arithmetic far from overflow.
- The owner is a member's user id, or ``me``. A member of the workspace who has left is
  still accepted (their past deals are still theirs); any other id is refused.
- Scope: a report shows what the member may see of deals *and* of reports: the narrower
  of the two scopes (a sales rep sees their own deals only).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, select

from app.access.policy import Actor, owner_condition, scope_for
from app.activities.services import user_zone
from app.database import DbSession
from app.errors import InvalidInput
from app.identity.models import Membership
from app.input_rules import MAX_BIGINT
from app.pipelines.models import Pipeline, Stage
from tenants.context import require_tenant

DEFAULT_DAYS = 90
MIN_DATE = dt.date(2000, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
MAX_SPAN_DAYS = 366 * 20
FILTER_PARAMS = ("pipeline_id", "from", "to", "owner")
_SCOPE_ORDER = ("none", "own", "team", "all")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class ReportFilters:
    """What a report is about, checked: one pipeline and its stages, a period (dates as
    given and their UTC bounds, end exclusive), an optional owner, and the scope."""

    pipeline: Pipeline
    stages: tuple[Stage, ...]
    date_from: dt.date
    date_to: dt.date
    start: dt.datetime
    end: dt.datetime
    zone: ZoneInfo
    owner_id: int | None
    owner_param: str
    period_given: bool
    scope: str

    @property
    def pipeline_id(self) -> int:
        return self.pipeline.id

    @property
    def open_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if s.kind == "open")

    def as_dict(self) -> dict[str, Any]:
        """The filters as the API echoes them."""
        return {
            "pipeline_id": self.pipeline.id,
            "pipeline_name": self.pipeline.name,
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "owner": self.owner_param or None,
            "timezone": self.zone.key,
        }

    def query_args(self) -> dict[str, str]:
        """The filters as query parameters (links to CSV files and between pages)."""
        args = {"pipeline_id": str(self.pipeline.id)}
        if self.period_given:
            args.update(**{"from": self.date_from.isoformat(), "to": self.date_to.isoformat()})
        if self.owner_param:
            args["owner"] = self.owner_param
        return args


def report_scope(actor: Actor) -> str:
    """The narrower of the actor's deal and report view scopes."""
    deals = scope_for(actor, "deals", "view")
    reports = scope_for(actor, "reports", "view")
    return min(deals, reports, key=_SCOPE_ORDER.index)


def may_view_reports(actor: Actor) -> bool:
    """Whether ``actor`` sees any report at all."""
    return report_scope(actor) != "none"


def may_export_reports(actor: Actor) -> bool:
    """Whether ``actor`` may download reports as CSV (the reports export right)."""
    return may_view_reports(actor) and scope_for(actor, "reports", "export") != "none"


def deal_condition(actor: Actor, filters: ReportFilters, deal: Any) -> ColumnElement[bool]:
    """SQL condition on ``deal`` (the Deal model or an alias): this pipeline, within the
    actor's scope, and the owner filter."""
    conditions = [
        deal.pipeline_id == filters.pipeline.id,
        owner_condition(actor, filters.scope, deal.owner_id),
    ]
    if filters.owner_id is not None:
        conditions.append(deal.owner_id == filters.owner_id)
    return and_(*conditions)


def narrows_deals(filters: ReportFilters) -> bool:
    """Whether the scope or the owner filter narrows deals (history rows then need their
    deal to be checked)."""
    return filters.scope != "all" or filters.owner_id is not None


def _date(details: dict[str, list[str]], name: str, raw: str | None) -> dt.date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        value = dt.date.fromisoformat(text)
    except ValueError:
        details[name] = [str(_l("Give a date as YYYY-MM-DD."))]
        return None
    if not MIN_DATE <= value <= MAX_DATE:
        details[name] = [str(_l("Give a date between 2000 and 2100."))]
        return None
    return value


def _pipeline(
    session: DbSession, details: dict[str, list[str]], raw: str | None
) -> Pipeline | None:
    text = (raw or "").strip()
    if not text:
        stmt = select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.position, Pipeline.id)
        pipeline = session.scalars(stmt.limit(1)).first()
        if pipeline is None:
            details["pipeline_id"] = [str(_l("The workspace has no pipeline."))]
        return pipeline
    pipeline = None
    if _DIGITS.fullmatch(text) and 1 <= int(text) <= MAX_BIGINT:
        pipeline = session.get(Pipeline, int(text))
    if pipeline is None:
        details["pipeline_id"] = [str(_l("No such pipeline."))]
    return pipeline


def _owner(
    session: DbSession, actor: Actor, details: dict[str, list[str]], raw: str | None
) -> tuple[int | None, str]:
    text = (raw or "").strip().lower()
    if not text:
        return None, ""
    if text == "me":
        return actor.user_id, "me"
    if _DIGITS.fullmatch(text) and 1 <= int(text) <= MAX_BIGINT:
        user_id = int(text)
        member = session.scalar(
            select(Membership.id).where(
                Membership.tenant_id == require_tenant().id, Membership.user_id == user_id
            )
        )
        if member is not None:
            return user_id, str(user_id)
        details["owner"] = [str(_l("Not a member of this workspace."))]
        return None, ""
    details["owner"] = [str(_l("Give a member's user id, or me."))]
    return None, ""


def parse_filters(
    session: DbSession, actor: Actor, args: Mapping[str, str], today: dt.date | None = None
) -> ReportFilters:
    """The filters of ``args`` (query parameters), or InvalidInput with a message per
    refused parameter."""
    details: dict[str, list[str]] = {}
    pipeline = _pipeline(session, details, args.get("pipeline_id"))
    date_from = _date(details, "from", args.get("from"))
    date_to = _date(details, "to", args.get("to"))
    owner_id, owner_param = _owner(session, actor, details, args.get("owner"))
    zone = user_zone(session, actor.user_id)
    if today is None:
        today = dt.datetime.now(zone).date()
    period_given = date_from is not None or date_to is not None
    if "from" not in details and "to" not in details:
        if date_to is None:
            date_to = max(today, date_from) if date_from is not None else today
        if date_from is None:
            date_from = max(MIN_DATE, date_to - dt.timedelta(days=DEFAULT_DAYS - 1))
        if date_from > date_to:
            details["to"] = [str(_l("The end of the period is before its start."))]
        elif (date_to - date_from).days >= MAX_SPAN_DAYS:
            details["from"] = [str(_l("The period can not be longer than 20 years."))]
    if details:
        raise InvalidInput(details, "Invalid report filters.")
    assert pipeline is not None and date_from is not None and date_to is not None
    stages = tuple(
        session.scalars(
            select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)
        )
    )
    start = dt.datetime.combine(date_from, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end_day = date_to + dt.timedelta(days=1)
    end = dt.datetime.combine(end_day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    return ReportFilters(
        pipeline=pipeline,
        stages=stages,
        date_from=date_from,
        date_to=date_to,
        start=start,
        end=end,
        zone=zone,
        owner_id=owner_id,
        owner_param=owner_param,
        period_given=period_given,
        scope=report_scope(actor),
    )
