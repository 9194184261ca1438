"""The reports as the API answers them (JSON) and as files (CSV), from one registry.

Money in JSON is a list of ``{"currency", "amount"}`` (amount as a decimal string in
major units, exact), one entry per currency, never one summed number. In CSV, where a
spreadsheet wants one row per thing, each currency gets its own column
(``won_amount_EUR``, ``won_amount_USD``): a row never mixes currencies in one cell.
Text cells go through the export writers' formula guard (a loss reason typed as
``=HYPERLINK(...)`` stays text in a spreadsheet).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.access.policy import Actor
from app.database import DbSession
from app.deals import money
from app.exports.writers import UTF8_BOM, Cell, csv_text
from app.reports import queries
from app.reports.filters import ReportFilters
from app.reports.queries import Money


def money_json(amounts: Money) -> list[dict[str, str]]:
    """Per-currency amounts as the API writes them."""
    return [
        {"currency": currency, "amount": money.amount_text(minor, currency) or "0"}
        for currency, minor in sorted(amounts.items())
    ]


def _currencies(rows: Sequence[Money]) -> list[str]:
    return sorted({currency for amounts in rows for currency in amounts})


def _money_cells(amounts: Money, currencies: list[str]) -> list[Cell]:
    cells: list[Cell] = []
    for currency in currencies:
        minor = amounts.get(currency)
        cells.append(money.from_minor(minor, currency) if minor is not None else None)
    return cells


# --- JSON ------------------------------------------------------------------------------


def funnel_json(report: queries.Funnel) -> dict[str, Any]:
    return {
        "entered": report.entered,
        "won": report.won,
        "lost": report.lost,
        "open": report.open,
        "conversion": report.conversion,
        "stages": [
            {
                "stage_id": s.stage_id,
                "name": s.name,
                "reached": s.reached,
                "conversion_to_next": s.conversion,
                "drop_off": s.drop_off,
                "drop_off_rate": s.drop_off_rate,
                "lost_here": s.lost_here,
                "still_open": s.still_open,
            }
            for s in report.stages
        ],
    }


def win_rate_json(report: queries.WinRate) -> dict[str, Any]:
    return {
        "won": report.won,
        "lost": report.lost,
        "win_rate": report.win_rate,
        "won_amount": money_json(report.won_amount),
        "lost_amount": money_json(report.lost_amount),
        "average_won_amount": money_json(report.average_won),
        "months": [
            {
                "month": m.month.strftime("%Y-%m"),
                "won": m.won,
                "lost": m.lost,
                "win_rate": m.win_rate,
            }
            for m in report.months
        ],
    }


def _cycle_json(cycle: queries.Cycle) -> dict[str, Any]:
    return {
        "deals": cycle.deals,
        "average_days": cycle.average_days,
        "median_days": cycle.median_days,
    }


def stage_times_json(report: queries.StageTimes) -> dict[str, Any]:
    return {
        "stages": [
            {
                "stage_id": s.stage_id,
                "name": s.name,
                "kind": s.kind,
                "moves": s.moves,
                "average_days": s.average_days,
                "median_days": s.median_days,
            }
            for s in report.stages
        ],
        "sales_cycle": {
            "won": _cycle_json(report.won_cycle),
            "lost": _cycle_json(report.lost_cycle),
        },
    }


def _loss_json(groups: list[queries.LossGroup], total: int) -> list[dict[str, Any]]:
    return [
        {
            "name": g.name,
            "deals": g.deals,
            "share": queries.rate(g.deals, total),
            "amount": money_json(g.amount),
        }
        for g in groups
    ]


def loss_reasons_json(report: queries.LossReasons) -> dict[str, Any]:
    return {
        "lost": report.lost,
        "reasons": _loss_json(report.reasons, report.lost),
        "competitors": _loss_json(report.competitors, report.lost),
    }


def forecast_json(report: queries.Forecast) -> dict[str, Any]:
    return {
        "first_month": report.first_month.strftime("%Y-%m"),
        "last_month": report.last_month.strftime("%Y-%m"),
        "buckets": [
            {
                "kind": b.kind,
                "month": b.month.strftime("%Y-%m") if b.month else None,
                "deals": b.deals,
                "amount": money_json(b.amount),
                "weighted_amount": money_json(b.weighted),
            }
            for b in report.buckets
        ],
        "total_amount": money_json(report.total("amount")),
        "total_weighted_amount": money_json(report.total("weighted")),
    }


def owners_json(rows: list[queries.OwnerRow]) -> dict[str, Any]:
    return {
        "owners": [
            {
                "owner_id": r.owner_id,
                "name": r.name or None,
                "created": r.created,
                "won": r.won,
                "lost": r.lost,
                "open": r.open,
                "win_rate": r.win_rate,
                "conversion": r.conversion,
                "won_amount": money_json(r.won_amount),
                "activities": r.activities,
            }
            for r in rows
        ]
    }


def sources_json(rows: list[queries.SourceRow]) -> dict[str, Any]:
    return {
        "sources": [
            {
                "source": r.source,
                "deals": r.deals,
                "won": r.won,
                "lost": r.lost,
                "conversion": r.conversion,
                "won_amount": money_json(r.won_amount),
            }
            for r in rows
        ]
    }


# --- CSV -------------------------------------------------------------------------------

Table = tuple[list[str], list[list[Cell]]]


def funnel_csv(report: queries.Funnel) -> Table:
    header = [
        "stage",
        "reached",
        "conversion_to_next",
        "drop_off",
        "drop_off_rate",
        "lost_here",
        "still_open",
    ]
    rows: list[list[Cell]] = [
        [s.name, s.reached, s.conversion, s.drop_off, s.drop_off_rate, s.lost_here, s.still_open]
        for s in report.stages
    ]
    rows.append(["(won)", report.won, None, None, None, None, None])
    return header, rows


def win_rate_csv(report: queries.WinRate) -> Table:
    header = ["month", "won", "lost", "win_rate"]
    rows: list[list[Cell]] = [
        [m.month.strftime("%Y-%m"), m.won, m.lost, m.win_rate] for m in report.months
    ]
    rows.append(["(total)", report.won, report.lost, report.win_rate])
    return header, rows


def stage_times_csv(report: queries.StageTimes) -> Table:
    header = ["stage", "kind", "moves", "average_days", "median_days"]
    rows: list[list[Cell]] = [
        [s.name, s.kind, s.moves, s.average_days, s.median_days] for s in report.stages
    ]
    for label, cycle in (
        ("(sales cycle, won)", report.won_cycle),
        ("(sales cycle, lost)", report.lost_cycle),
    ):
        rows.append([label, "cycle", cycle.deals, cycle.average_days, cycle.median_days])
    return header, rows


def loss_reasons_csv(report: queries.LossReasons) -> Table:
    groups = [("reason", g) for g in report.reasons] + [
        ("competitor", g) for g in report.competitors
    ]
    currencies = _currencies([g.amount for _, g in groups])
    header = ["kind", "name", "deals", "share"] + [f"amount_{c}" for c in currencies]
    rows: list[list[Cell]] = [
        [
            kind,
            g.name,
            g.deals,
            queries.rate(g.deals, report.lost),
            *_money_cells(g.amount, currencies),
        ]
        for kind, g in groups
    ]
    return header, rows


def forecast_csv(report: queries.Forecast) -> Table:
    currencies = report.currencies
    header = ["month", "deals"]
    header += [f"amount_{c}" for c in currencies] + [f"weighted_{c}" for c in currencies]
    rows: list[list[Cell]] = [
        [
            b.month.strftime("%Y-%m") if b.month else f"({b.kind})",
            b.deals,
            *_money_cells(b.amount, currencies),
            *_money_cells(b.weighted, currencies),
        ]
        for b in report.buckets
    ]
    return header, rows


def owners_csv(rows_in: list[queries.OwnerRow]) -> Table:
    currencies = _currencies([r.won_amount for r in rows_in])
    header = ["owner_id", "owner", "created", "won", "lost", "open", "win_rate", "conversion"]
    header += [f"won_amount_{c}" for c in currencies] + ["activities"]
    rows: list[list[Cell]] = [
        [
            r.owner_id,
            r.name,
            r.created,
            r.won,
            r.lost,
            r.open,
            r.win_rate,
            r.conversion,
            *_money_cells(r.won_amount, currencies),
            r.activities,
        ]
        for r in rows_in
    ]
    return header, rows


def sources_csv(rows_in: list[queries.SourceRow]) -> Table:
    currencies = _currencies([r.won_amount for r in rows_in])
    header = ["source", "deals", "won", "lost", "conversion"]
    header += [f"won_amount_{c}" for c in currencies]
    rows: list[list[Cell]] = [
        [r.source, r.deals, r.won, r.lost, r.conversion, *_money_cells(r.won_amount, currencies)]
        for r in rows_in
    ]
    return header, rows


# --- registry --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportKind:
    """How one report is computed and written."""

    name: str
    compute: Callable[[DbSession, Actor, ReportFilters], Any]
    to_json: Callable[[Any], dict[str, Any]]
    to_csv: Callable[[Any], Table]


REPORTS: dict[str, ReportKind] = {
    kind.name: kind
    for kind in (
        ReportKind("funnel", queries.funnel, funnel_json, funnel_csv),
        ReportKind("win-rate", queries.win_rate, win_rate_json, win_rate_csv),
        ReportKind("stage-times", queries.stage_times, stage_times_json, stage_times_csv),
        ReportKind("loss-reasons", queries.loss_reasons, loss_reasons_json, loss_reasons_csv),
        ReportKind("forecast", queries.forecast, forecast_json, forecast_csv),
        ReportKind("owners", queries.owners, owners_json, owners_csv),
        ReportKind("sources", queries.sources, sources_json, sources_csv),
    )
}
assert tuple(REPORTS) == queries.REPORT_NAMES


def report_json(name: str, result: Any, filters: ReportFilters) -> dict[str, Any]:
    """The API's answer: the report's name, the filters it ran with, its numbers."""
    return {"report": name, "filters": filters.as_dict(), **REPORTS[name].to_json(result)}


def report_csv(name: str, result: Any) -> bytes:
    """The report as a UTF-8 CSV file (with a byte order mark, for Excel)."""
    header, rows = REPORTS[name].to_csv(result)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_text(h) for h in header])
    for row in rows:
        writer.writerow([csv_text(cell) for cell in row])
    return (UTF8_BOM + buffer.getvalue()).encode("utf-8")


def csv_filename(name: str, filters: ReportFilters) -> str:
    """``report-funnel-2026-08-26-2026-11-23.csv``: what, and over which period."""
    return f"report-{name}-{filters.date_from.isoformat()}-{filters.date_to.isoformat()}.csv"


def run(session: DbSession, actor: Actor, name: str, filters: ReportFilters) -> Any:
    """Compute one report."""
    return REPORTS[name].compute(session, actor, filters)
