"""Workspace pages: the reports (charts and tables for one pipeline, a period and an
owner) and each report as a CSV file.

The filter form is a plain GET form, so a report is a link that can be bookmarked and
shared (the receiver sees it within their own scope). A bad value is shown as a field
error on the form (400), never a server error.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template, request
from flask_babel import format_number
from flask_login import current_user, login_required

from app.database import db
from app.deals import services as deal_services
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.reports import output, queries, sections
from app.reports.filters import (
    FILTER_PARAMS,
    may_export_reports,
    may_view_reports,
    parse_filters,
)
from app.web import guards
from app.web.list_view import owner_choices
from app.web.workspace import member

bp = workspace_blueprint("reports", __name__)
guards.install(bp)


@bp.app_context_processor
def _reports_nav() -> dict[str, Any]:
    # App-wide: the workspace layout shows "Reports" to members who may see them.
    return {"may_view_reports": _may_view_reports}


def _may_view_reports() -> bool:
    return bool(current_user.is_authenticated and may_view_reports(current_user.actor))


def _args() -> dict[str, str]:
    """The filter parameters of the query string (the first of a repeated one)."""
    return {name: request.args.get(name, "") for name in FILTER_PARAMS if name in request.args}


def _form_page(args: dict[str, str], errors: dict[str, list[str]]) -> tuple[str, int]:
    return (
        render_template(
            "workspace/reports/page.html",
            args=args,
            errors=errors,
            filters=None,
            sections=[],
            pipelines=deal_services.pipelines(db.session),
            owner_options=owner_choices(),
            may_export=may_export_reports(member().actor),
        ),
        400,
    )


@bp.get("/reports")
@login_required
def reports_page() -> str | tuple[str, int]:
    """Every report for the filters, each with a chart, a table and a CSV link."""
    actor = member().actor
    if not may_view_reports(actor):
        abort(403)
    args = _args()
    try:
        filters = parse_filters(db.session, actor, args)
    except InvalidInput as refusal:
        return _form_page(args, refusal.details)
    return render_template(
        "workspace/reports/page.html",
        args=args,
        errors={},
        filters=filters,
        sections=sections.build(db.session, actor, filters),
        pipelines=deal_services.pipelines(db.session),
        owner_options=owner_choices(),
        may_export=may_export_reports(actor),
        csv_args=filters.query_args(),
        percent=sections.percent,
        days=sections.days,
        amounts=sections.amounts,
        month_label=sections.month_label,
        bucket_label=sections.bucket_label,
        day_label=sections.day_label,
        number=format_number,
        rate=queries.rate,
    )


@bp.get("/reports/export.csv")
@login_required
def report_csv() -> Response | tuple[str, int]:
    """One report (``?report=funnel``, same filters as the page) as a CSV file."""
    actor = member().actor
    if not may_export_reports(actor):
        abort(403)
    name = request.args.get("report", "")
    if name not in queries.REPORT_NAMES:
        abort(404)
    args = _args()
    try:
        filters = parse_filters(db.session, actor, args)
    except InvalidInput as refusal:
        return _form_page(args, refusal.details)
    result = output.run(db.session, actor, name, filters)
    return Response(
        output.report_csv(name, result),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{output.csv_filename(name, filters)}"',
            "Cache-Control": "private, no-store",
        },
    )
