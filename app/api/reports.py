"""REST API: the funnel reports (routes on the shared API blueprint).

``GET /api/v1/reports/<name>`` for each report, filtered by ``pipeline_id``, ``from``,
``to`` and ``owner``; JSON by default, CSV with ``format=csv`` or ``Accept: text/csv``.
Reading a report needs the reports view right and some deal view right (the narrower
scope applies); a CSV file also needs the reports export right, like every other file
that leaves the workspace.
"""

from __future__ import annotations

from flask import Response, jsonify, request

from app.api.views import _query_args, bp, member
from app.database import db
from app.errors import ApiError, validation_error
from app.reports import output
from app.reports.filters import (
    FILTER_PARAMS,
    may_export_reports,
    may_view_reports,
    parse_filters,
)

_PARAMS = frozenset((*FILTER_PARAMS, "format"))
_FORMATS = ("json", "csv")


def _wants_csv(fmt: str | None) -> bool:
    if fmt:
        return fmt == "csv"
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


def _answer(name: str) -> Response:
    """Parse, authorize, compute, serialize: the same steps for every report."""
    actor = member().actor
    if not may_view_reports(actor):
        raise ApiError(403, "forbidden", "Your role may not view reports.")
    args = _query_args()
    details = {key: ["Unknown parameter."] for key in sorted(set(args) - _PARAMS)}
    fmt = args.get("format")
    if fmt is not None and fmt not in _FORMATS:
        details["format"] = ["Give json or csv."]
    if details:
        raise validation_error(details)
    csv = _wants_csv(fmt)
    if csv and not may_export_reports(actor):
        raise ApiError(403, "forbidden", "Your role may not export reports.")
    filters = parse_filters(db.session, actor, args)
    result = output.run(db.session, actor, name, filters)
    if csv:
        filename = output.csv_filename(name, filters)
        return Response(
            output.report_csv(name, result),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return jsonify(output.report_json(name, result, filters))


@bp.get("/reports/funnel")
def report_funnel() -> Response:
    """Stage-to-stage conversion and drop-off of the deals created in the period."""
    return _answer("funnel")


@bp.get("/reports/win-rate")
def report_win_rate() -> Response:
    """Won against lost among the deals closed in the period, and by month."""
    return _answer("win-rate")


@bp.get("/reports/stage-times")
def report_stage_times() -> Response:
    """Time in each stage and the sales cycle length."""
    return _answer("stage-times")


@bp.get("/reports/loss-reasons")
def report_loss_reasons() -> Response:
    """Why deals were lost in the period, and to which competitors."""
    return _answer("loss-reasons")


@bp.get("/reports/forecast")
def report_forecast() -> Response:
    """Open deals by month of expected close, amount and weighted amount per currency."""
    return _answer("forecast")


@bp.get("/reports/owners")
def report_owners() -> Response:
    """Deals, amounts, win rate, conversion and activities per owner."""
    return _answer("owners")


@bp.get("/reports/sources")
def report_sources() -> Response:
    """The deals created in the period by lead source, and how they converted."""
    return _answer("sources")
