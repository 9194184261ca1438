"""Workspace pages: exporting a list or a segment, and the member's exports.

The "Export" menu of the contact, company and deal lists posts the list's current
filter (its query string) or a segment id with the chosen format. A small CSV is
streamed straight back as the download, a small XLSX is written in the request and sent;
anything larger goes to a worker, and the member lands on the exports page, which shows
its progress and, once done, the download link (see app.exports.services).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import StringField
from wtforms.validators import Length, Optional, Regexp

from app.access.policy import may
from app.database import db
from app.errors import InvalidInput
from app.exports import services as exports
from app.exports.models import EXPORT_ENTITIES, EXPORT_FORMATS, ExportJob
from app.hosts import workspace_blueprint
from app.web import guards
from app.web.workspace import member

bp = workspace_blueprint("exports", __name__)
guards.install(bp)

# Where each kind of record is listed (a refused export goes back there).
LIST_ENDPOINTS = {
    "contact": "workspace.contacts",
    "company": "companies.companies",
    "deal": "deals.deal_list",
}
MAX_FILTER_QUERY = 4000


class ExportForm(FlaskForm):
    """The hidden fields of a list's "Export" menu (and its CSRF token)."""

    entity = StringField(validators=[Optional(), Regexp(r"^(contact|company|deal)$")])
    format = StringField(validators=[Regexp(r"^(csv|xlsx)$")])
    filters = StringField(validators=[Optional(), Length(max=MAX_FILTER_QUERY)])
    segment_id = StringField(validators=[Optional(), Regexp(r"^[0-9]{1,19}$")])


@bp.app_context_processor
def _export_helpers() -> dict[str, Any]:
    return {
        "may_export": _may_export,
        "export_filters": _current_filters,
        "format_count": format_number,
    }


def _may_export(entity: str) -> bool:
    """Whether the signed-in member may export ``entity`` records (the list menus)."""
    return bool(current_user.is_authenticated) and exports.may_export(member().actor, entity)


def _current_filters() -> str:
    """This page's query string without paging, as the menu posts it."""
    pairs = [
        (name, value)
        for name, value in request.args.items(multi=True)
        if name not in exports.PAGING_PARAMETERS
    ]
    return urlencode(pairs)


def _filter_args(query: str | None) -> dict[str, str]:
    """A posted query string as parameters (the first of a repeated one, as the list
    page reads it)."""
    args: dict[str, str] = {}
    for name, value in parse_qsl(query or "", keep_blank_values=False):
        args.setdefault(name, value)
    return args


def _back_to(entity: str | None) -> str:
    return url_for(LIST_ENDPOINTS.get(entity or "", "exports.exports_page"))


def _attachment(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
    }


def _send(job: ExportJob) -> BaseResponse | None:
    path = exports.download_path(job)
    if path is None:
        return None
    return Response(
        exports.file_chunks(path),
        mimetype=exports.MEDIA_TYPES[job.format],
        headers=exports.download_headers(job, path),
    )


@bp.get("/exports")
@login_required
def exports_page() -> str:
    """The member's recent exports, with progress while they run."""
    actor = member().actor
    if not may(actor, "exports", "export"):
        abort(403)
    jobs = exports.recent_exports(db.session, actor)
    return render_template(
        "workspace/exports/list.html",
        jobs=jobs,
        file_name=exports.file_name,
        direct_max=exports.setting("EXPORT_DIRECT_MAX_ROWS", exports.DEFAULT_DIRECT_MAX_ROWS),
    )


@bp.post("/exports")
@login_required
def export_start() -> BaseResponse:
    """Export what the list shows (or a segment) as CSV or XLSX."""
    actor = member().actor
    if not may(actor, "exports", "export"):
        abort(403)
    form = ExportForm()
    entity = form.entity.data if form.entity.data in EXPORT_ENTITIES else None
    if not form.validate_on_submit():
        flash(_("The export could not be started. Reload the page and try again."), "error")
        return redirect(_back_to(entity), 303)
    if entity is not None and not exports.may_export(actor, entity):
        abort(403)
    fmt = form.format.data
    assert fmt in EXPORT_FORMATS  # the form's pattern
    try:
        selection = exports.select_records(
            db.session,
            actor,
            entity=entity,
            filters=_filter_args(form.filters.data),
            segment_id=int(form.segment_id.data) if form.segment_id.data else None,
        )
    except InvalidInput as refusal:
        db.session.rollback()
        for messages in refusal.details.values():
            for message in messages:
                flash(_("Not exported: %(reason)s", reason=message), "error")
        return redirect(_back_to(entity), 303)
    if not exports.may_export(actor, selection.entity):
        abort(403)
    direct_max = exports.setting("EXPORT_DIRECT_MAX_ROWS", exports.DEFAULT_DIRECT_MAX_ROWS)
    if fmt == "csv":
        stream = exports.open_stream(actor, selection, direct_max)
        if stream is not None:
            try:
                job = exports.record_streamed_export(db.session, actor, selection, stream)
            except BaseException:
                stream.close()
                raise
            response = Response(
                stream_with_context(stream.chunks()),
                mimetype="text/csv",
                headers=_attachment(exports.file_name(job)),
            )
            # Also when the body is never read (the client left at once): the stream
            # holds a database session until closed.
            response.call_on_close(stream.close)
            return response
    elif exports.is_small(actor, selection, direct_max):
        job = exports.start_export(db.session, actor, selection, fmt, dispatch=False)
        done = exports.run_export(db.session, job.id)
        sent = _send(done) if done is not None else None
        if sent is not None:
            return sent
        flash(_("The export failed. Try again; if it fails again, tell an admin."), "error")
        return redirect(url_for("exports.exports_page"), 303)
    job = exports.start_export(db.session, actor, selection, fmt)
    if job.status == "failed":
        flash(job.error or _("The export failed."), "error")
    else:
        flash(_("Your export is being prepared. It appears below when it is ready."), "success")
    return redirect(url_for("exports.exports_page"), 303)


def _job_or_404(export_id: int) -> ExportJob:
    actor = member().actor
    if not may(actor, "exports", "export"):
        abort(403)
    job = exports.get_visible_export(db.session, actor, export_id)
    if job is None:
        abort(404)
    return job


@bp.get("/exports/<int:export_id>/status")
@login_required
def export_status(export_id: int) -> Response:
    """An export's progress, for the page's polling."""
    job = _job_or_404(export_id)
    return jsonify(
        {
            "id": job.id,
            "status": job.status,
            "percent": job.percent,
            "rows_written": job.rows_written,
            "rows_total": job.rows_total,
            "error": job.error,
            "download_url": (
                url_for("exports.export_download", export_id=job.id)
                if job.status == "done" and job.delivery == "file"
                else None
            ),
        }
    )


@bp.get("/exports/<int:export_id>/download")
@login_required
def export_download(export_id: int) -> BaseResponse:
    """The export's file; back to the exports page when it is not (or no longer) there."""
    job = _job_or_404(export_id)
    if not exports.may_export(member().actor, job.entity):
        abort(403)
    sent = _send(job)
    if sent is not None:
        return sent
    flash(_("This export has no file to download (any more). Start a new one."), "error")
    return redirect(url_for("exports.exports_page"), 303)
