"""OpenAPI documentation of the report endpoints.

Called by :func:`app.api.openapi.build_spec`; kept beside the handlers so that the
endpoints and their description change together.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from app.input_rules import MAX_BIGINT

TAG: dict[str, Any] = {
    "name": "reports",
    "description": (
        "Funnel analytics over one pipeline: conversion and drop-off, win rate, time in "
        "stage and sales cycle, loss reasons and competitors, weighted forecast, "
        "performance per owner, lead sources. Every report takes the same filters and "
        "answers JSON, or CSV with `format=csv` (or `Accept: text/csv`; needs the reports "
        "export right). Money is answered per currency, never summed across currencies. "
        "Rates are fractions (0.25 = 25 %), null when nothing was counted. A report covers "
        "the deals the caller may see (the narrower of the deal and report view scopes)."
    ),
}

_ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT}
_COUNT = {"type": "integer", "minimum": 0}
_RATE = {"type": "number", "minimum": 0, "maximum": 1, "nullable": True}
_DAYS = {"type": "number", "minimum": 0, "nullable": True, "description": "Days, one decimal."}
_MONTH = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "example": "2026-11"}
_MONEY = {"type": "array", "items": {"$ref": "#/components/schemas/ReportMoney"}}


def _object(properties: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": sorted(properties),
        "properties": properties,
    }
    if description:
        schema["description"] = description
    return schema


MONEY_SCHEMA = _object(
    {
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "amount": {
            "type": "string",
            "example": "1234.50",
            "description": "Exact decimal in major units, with the currency's decimals.",
        },
    },
    "An amount in one currency. Lists hold one entry per currency, never a mixed sum.",
)

FILTERS_SCHEMA = _object(
    {
        "pipeline_id": _ID,
        "pipeline_name": {"type": "string"},
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "owner": {
            "type": "string",
            "nullable": True,
            "description": "`me`, a member's user id, or null (every owner in scope).",
        },
        "timezone": {
            "type": "string",
            "description": "The caller's time zone: days and months are counted in it.",
        },
    },
    "The filters the report ran with (defaults filled in).",
)


def _report(name: str, properties: dict[str, Any], description: str) -> dict[str, Any]:
    return _object(
        {
            "report": {"type": "string", "enum": [name]},
            "filters": {"$ref": "#/components/schemas/ReportFilters"},
            **properties,
        },
        description,
    )


_CYCLE = _object({"deals": _COUNT, "average_days": _DAYS, "median_days": _DAYS})
_LOSS = _object(
    {
        "name": {"type": "string", "nullable": True, "description": "null: none given."},
        "deals": _COUNT,
        "share": _RATE,
        "amount": _MONEY,
    }
)

SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "funnel": (
        "ReportFunnel",
        _report(
            "funnel",
            {
                "entered": _COUNT,
                "won": _COUNT,
                "lost": _COUNT,
                "open": _COUNT,
                "conversion": _RATE,
                "stages": {
                    "type": "array",
                    "items": _object(
                        {
                            "stage_id": _ID,
                            "name": {"type": "string"},
                            "reached": _COUNT,
                            "conversion_to_next": _RATE,
                            "drop_off": _COUNT,
                            "drop_off_rate": _RATE,
                            "lost_here": _COUNT,
                            "still_open": _COUNT,
                        }
                    ),
                },
            },
            "The deals created in the period (`entered`) and how far they got: per open "
            "stage, how many reached it (were in it or a later stage, or were won), the "
            "conversion to the next stage (the last one's: to won), and the drop-off, "
            "split into deals lost there and deals still open there. `conversion` is "
            "won / entered.",
        ),
    ),
    "win-rate": (
        "ReportWinRate",
        _report(
            "win-rate",
            {
                "won": _COUNT,
                "lost": _COUNT,
                "win_rate": _RATE,
                "won_amount": _MONEY,
                "lost_amount": _MONEY,
                "average_won_amount": _MONEY,
                "months": {
                    "type": "array",
                    "items": _object(
                        {"month": _MONTH, "won": _COUNT, "lost": _COUNT, "win_rate": _RATE}
                    ),
                },
            },
            "Deals closed in the period: won / (won + lost), in total and per month. Won "
            "amounts are the amounts the deals were won for.",
        ),
    ),
    "stage-times": (
        "ReportStageTimes",
        _report(
            "stage-times",
            {
                "stages": {
                    "type": "array",
                    "items": _object(
                        {
                            "stage_id": _ID,
                            "name": {"type": "string"},
                            "kind": {"type": "string", "enum": ["open", "won", "lost"]},
                            "moves": _COUNT,
                            "average_days": _DAYS,
                            "median_days": _DAYS,
                        }
                    ),
                },
                "sales_cycle": _object({"won": _CYCLE, "lost": _CYCLE}),
            },
            "Time spent in each stage, from the moves out of it made in the period; the "
            "sales cycle (creation to closing) of the deals won and lost in the period.",
        ),
    ),
    "loss-reasons": (
        "ReportLossReasons",
        _report(
            "loss-reasons",
            {
                "lost": _COUNT,
                "reasons": {"type": "array", "items": _LOSS},
                "competitors": {"type": "array", "items": _LOSS},
            },
            "Deals lost in the period by reason and by competitor (largest first); "
            "`share` is of all deals lost in the period.",
        ),
    ),
    "forecast": (
        "ReportForecast",
        _report(
            "forecast",
            {
                "first_month": _MONTH,
                "last_month": _MONTH,
                "buckets": {
                    "type": "array",
                    "items": _object(
                        {
                            "kind": {"type": "string", "enum": ["overdue", "month", "undated"]},
                            "month": {**_MONTH, "nullable": True},
                            "deals": _COUNT,
                            "amount": _MONEY,
                            "weighted_amount": _MONEY,
                        }
                    ),
                },
                "total_amount": _MONEY,
                "total_weighted_amount": _MONEY,
            },
            "Open deals by month of expected close over the period's months (without a "
            "period: this month and the next five), plus those whose expected close is "
            "already past (`overdue`) and those without one (`undated`). The weighted "
            "amount is the amount times the deal's probability (its own, else its "
            "stage's), rounded half up to the currency's minor unit per deal group.",
        ),
    ),
    "owners": (
        "ReportOwners",
        _report(
            "owners",
            {
                "owners": {
                    "type": "array",
                    "items": _object(
                        {
                            "owner_id": {**_ID, "nullable": True},
                            "name": {"type": "string", "nullable": True},
                            "created": _COUNT,
                            "won": _COUNT,
                            "lost": _COUNT,
                            "open": _COUNT,
                            "win_rate": _RATE,
                            "conversion": _RATE,
                            "won_amount": _MONEY,
                            "activities": _COUNT,
                        }
                    ),
                }
            },
            "Per owner: deals created in the period, won and lost in the period, open "
            "now, win rate, conversion (created in the period and won by now / created), "
            "won amounts, and activities done in the period (calls, meetings, emails and "
            "notes by date, tasks by completion).",
        ),
    ),
    "sources": (
        "ReportSources",
        _report(
            "sources",
            {
                "sources": {
                    "type": "array",
                    "items": _object(
                        {
                            "source": {"type": "string", "nullable": True},
                            "deals": _COUNT,
                            "won": _COUNT,
                            "lost": _COUNT,
                            "conversion": _RATE,
                            "won_amount": _MONEY,
                        }
                    ),
                }
            },
            "Deals created in the period by lead source (null: none given), how many are "
            "won or lost by now, conversion (won / deals) and won amounts.",
        ),
    ),
}

_OPERATIONS = {
    "funnel": ("report_funnel", "Funnel: stage-to-stage conversion and drop-off"),
    "win-rate": ("report_win_rate", "Win rate of the deals closed in the period"),
    "stage-times": ("report_stage_times", "Time in each stage and sales cycle length"),
    "loss-reasons": ("report_loss_reasons", "Loss reasons and competitors"),
    "forecast": ("report_forecast", "Weighted forecast by month"),
    "owners": ("report_owners", "Performance per owner"),
    "sources": ("report_sources", "Lead sources"),
}


def _parameters() -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": description,
        }

    return [
        query("pipeline_id", _ID, "The pipeline (default: the workspace's default pipeline)."),
        query(
            "from",
            {"type": "string", "format": "date"},
            "First day of the period, in your time zone (default: 89 days before `to`).",
        ),
        query(
            "to",
            {"type": "string", "format": "date"},
            "Last day of the period, included (default: today). At most 20 years after "
            "`from`; dates from 2000 to 2100.",
        ),
        query(
            "owner",
            {"type": "string", "example": "me"},
            "Only deals owned by this member (`me` or a user id of a member).",
        ),
        query(
            "format",
            {"type": "string", "enum": ["json", "csv"]},
            "csv: the report as a CSV file (one column per currency for amounts).",
        ),
    ]


def document(spec: APISpec) -> None:
    """Add the report schemas and paths to ``spec``."""
    from app.api.openapi import COMMON_ERRORS, _error

    spec.components.schema("ReportMoney", component=MONEY_SCHEMA)
    spec.components.schema("ReportFilters", component=FILTERS_SCHEMA)
    for name, (schema_name, schema) in SCHEMAS.items():
        spec.components.schema(schema_name, component=schema)
        operation_id, summary = _OPERATIONS[name]
        spec.path(
            path=f"/api/v1/reports/{name}",
            operations={
                "get": {
                    "operationId": operation_id,
                    "summary": summary,
                    "description": schema["description"],
                    "tags": [TAG["name"]],
                    "parameters": _parameters(),
                    "responses": {
                        "200": {
                            "description": "The report (JSON), or a CSV file.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": f"#/components/schemas/{schema_name}"}
                                },
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        },
                        "400": _error(
                            "A bad filter (`details` names it: `pipeline_id`, `from`, `to`, "
                            "`owner`, `format`), or an unknown or repeated parameter."
                        ),
                        **COMMON_ERRORS,
                    },
                }
            },
        )
