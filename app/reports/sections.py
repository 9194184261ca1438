"""The reports page's sections: each report's numbers turned into charts (see
:mod:`app.reports.charts`) with words in the member's language and locale.

Kept apart from the view so that the view stays thin and the page, the API and the CSV
files read the same results (:mod:`app.reports.queries`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel.numbers import format_compact_currency
from flask_babel import format_date, format_decimal, format_number, format_percent, get_locale
from flask_babel import gettext as _

from app.access.policy import Actor
from app.database import DbSession
from app.deals import money
from app.reports import output, queries
from app.reports.charts import Chart, Column, Row, Segment, bar_chart, column_chart
from app.reports.filters import ReportFilters
from app.reports.queries import Money

# Shown where there is no number (nothing counted), rather than a misleading 0.
NO_VALUE = "\u2013"


def percent(value: float | None) -> str:
    """A rate as people read it ("67 %"), a dash when there is none."""
    return NO_VALUE if value is None else str(format_percent(value))


def days(value: float | None) -> str:
    """A number of days with one decimal, a dash when there is none."""
    return NO_VALUE if value is None else _("%(days)s d", days=format_decimal(value, "#,##0.0"))


def amounts(values: Money) -> list[str]:
    """Per-currency amounts formatted in the locale, one string per currency."""
    return [money.format_minor(minor, currency) for currency, minor in sorted(values.items())]


def compact_money(minor: int, currency: str) -> str:
    """A short amount for a chart label ("€1.2M"); tables show it exactly."""
    locale = get_locale()
    return str(
        format_compact_currency(
            money.from_minor(minor, currency),
            currency,
            locale=str(locale or "en"),
            fraction_digits=1,
        )
    )


def month_label(month: dt.date) -> str:
    """ "Nov 2026" in the member's language."""
    return str(format_date(month, "MMM y"))


def short_month_label(month: dt.date) -> str:
    """ "Nov 26": a month under a chart column."""
    return str(format_date(month, "MMM yy"))


def day_label(day: dt.date) -> str:
    """A date as the member's locale writes it."""
    return str(format_date(day, "medium"))


@dataclass
class Section:
    """One report on the page: its name (for links and CSV), its results, its charts."""

    name: str
    title: str
    result: Any
    charts: list[Chart]


def _funnel(report: queries.Funnel) -> list[Chart]:
    rows = [
        Row(
            label=s.name,
            segments=[Segment(s.reached, f"chart-stage swatch-{s.color}")],
            value_text=f"{format_number(s.reached)} · {percent(s.conversion)}",
        )
        for s in report.stages
    ]
    rows.append(
        Row(
            label=_("Won"),
            segments=[Segment(report.won, "chart-won")],
            value_text=str(format_number(report.won)),
        )
    )
    return [
        bar_chart(
            _("Funnel"),
            _(
                "How many of the %(count)s deals created in the period reached each stage, "
                "and the share that went on to the next.",
                count=format_number(report.entered),
            ),
            rows,
            centered=True,
        )
    ]


def _win_rate(report: queries.WinRate) -> list[Chart]:
    columns = [
        Column(
            label=short_month_label(m.month),
            segments=[
                Segment(
                    m.won,
                    "chart-won",
                    _("%(month)s: %(count)s won", month=month_label(m.month), count=m.won),
                ),
                Segment(
                    m.lost,
                    "chart-lost",
                    _("%(month)s: %(count)s lost", month=month_label(m.month), count=m.lost),
                ),
            ],
            value_text=percent(m.win_rate),
        )
        for m in report.months
    ]
    return [
        column_chart(
            _("Won and lost by month"),
            _("Deals won (green) and lost (red) per month; the win rate above each month."),
            columns,
        )
    ]


def _stage_times(report: queries.StageTimes) -> list[Chart]:
    rows = [
        Row(
            label=s.name,
            segments=[Segment(s.average_days or 0.0, f"chart-stage swatch-{s.color}")],
            value_text=days(s.average_days),
        )
        for s in report.stages
    ]
    return [
        bar_chart(
            _("Average time in stage"),
            _("Average days deals spent in each stage before moving on."),
            rows,
        )
    ]


def _loss_rows(groups: list[queries.LossGroup], total: int, none_label: str) -> list[Row]:
    return [
        Row(
            label=g.name or none_label,
            segments=[Segment(g.deals, "chart-lost")],
            value_text=f"{format_number(g.deals)} · {percent(queries.rate(g.deals, total))}",
        )
        for g in groups
    ]


def _loss_reasons(report: queries.LossReasons) -> list[Chart]:
    charts = [
        bar_chart(
            _("Loss reasons"),
            _("Deals lost in the period by reason, and their share of all lost deals."),
            _loss_rows(report.reasons, report.lost, _("No reason given")),
        )
    ]
    if report.competitors:
        charts.append(
            bar_chart(
                _("Lost to competitors"),
                _("Deals lost in the period to each competitor."),
                _loss_rows(report.competitors, report.lost, ""),
            )
        )
    return charts


def bucket_label(bucket: queries.ForecastBucket) -> str:
    if bucket.kind == "overdue":
        return _("Overdue")
    if bucket.kind == "undated":
        return _("No date")
    assert bucket.month is not None
    return month_label(bucket.month)


def _forecast(report: queries.Forecast) -> list[Chart]:
    charts = []
    for currency in report.currencies:
        columns = []
        for bucket in report.buckets:
            amount = bucket.amount.get(currency, 0)
            weighted = bucket.weighted.get(currency, 0)
            label = bucket_label(bucket)
            columns.append(
                Column(
                    label=short_month_label(bucket.month) if bucket.month else label,
                    segments=[
                        Segment(
                            amount,
                            "chart-amount",
                            _(
                                "%(when)s: %(amount)s in open deals",
                                when=label,
                                amount=money.format_minor(amount, currency),
                            ),
                        ),
                        Segment(
                            weighted,
                            "chart-weighted",
                            _(
                                "%(when)s: %(amount)s weighted",
                                when=label,
                                amount=money.format_minor(weighted, currency),
                            ),
                        ),
                    ],
                    value_text=compact_money(weighted, currency) if weighted else "",
                    overlay=True,
                )
            )
        charts.append(
            column_chart(
                _("Forecast in %(currency)s", currency=currency),
                _(
                    "Open deals in %(currency)s by month of expected close: the full amount "
                    "(light) and the amount weighted by probability (dark, written above).",
                    currency=currency,
                ),
                columns,
            )
        )
    return charts


def _owners(rows: list[queries.OwnerRow]) -> list[Chart]:
    chart_rows = [
        Row(
            label=r.name or _("Nobody"),
            segments=[
                Segment(
                    r.won,
                    "chart-won",
                    _("%(name)s: %(count)s won", name=r.name or _("Nobody"), count=r.won),
                ),
                Segment(
                    r.lost,
                    "chart-lost",
                    _("%(name)s: %(count)s lost", name=r.name or _("Nobody"), count=r.lost),
                ),
            ],
            value_text=_(
                "%(won)s won · %(rate)s", won=format_number(r.won), rate=percent(r.win_rate)
            ),
        )
        for r in rows
    ]
    return [
        bar_chart(
            _("Won and lost per owner"),
            _("Deals each owner won (green) and lost (red) in the period, and their win rate."),
            chart_rows,
        )
    ]


def _sources(rows: list[queries.SourceRow]) -> list[Chart]:
    chart_rows = []
    for r in rows:
        name = r.source or _("Unknown")
        chart_rows.append(
            Row(
                label=name,
                segments=[
                    Segment(
                        r.won, "chart-won", _("%(name)s: %(count)s won", name=name, count=r.won)
                    ),
                    Segment(
                        r.lost, "chart-lost", _("%(name)s: %(count)s lost", name=name, count=r.lost)
                    ),
                    Segment(
                        r.deals - r.won - r.lost,
                        "chart-open",
                        _("%(name)s: %(count)s open", name=name, count=r.deals - r.won - r.lost),
                    ),
                ],
                value_text=f"{format_number(r.deals)} · {percent(r.conversion)}",
            )
        )
    return [
        bar_chart(
            _("Deals by lead source"),
            _(
                "Deals created in the period per source: won (green), lost (red), still "
                "open (grey); the share won."
            ),
            chart_rows,
        )
    ]


_CHARTS: dict[str, Callable[[Any], list[Chart]]] = {
    "funnel": _funnel,
    "win-rate": _win_rate,
    "stage-times": _stage_times,
    "loss-reasons": _loss_reasons,
    "forecast": _forecast,
    "owners": _owners,
    "sources": _sources,
}


def titles() -> dict[str, str]:
    """Each report's heading, in the member's language."""
    return {
        "funnel": _("Conversion funnel"),
        "win-rate": _("Win rate"),
        "stage-times": _("Time in stage and sales cycle"),
        "loss-reasons": _("Loss reasons and competitors"),
        "forecast": _("Weighted forecast"),
        "owners": _("Performance per owner"),
        "sources": _("Lead sources"),
    }


def build(session: DbSession, actor: Actor, filters: ReportFilters) -> list[Section]:
    """Every report for ``filters``, with its charts."""
    names = titles()
    sections = []
    for name in queries.REPORT_NAMES:
        result = output.run(session, actor, name, filters)
        sections.append(
            Section(name=name, title=names[name], result=result, charts=_CHARTS[name](result))
        )
    return sections
