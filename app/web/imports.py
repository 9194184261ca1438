"""Workspace pages: importing contacts and companies from CSV or XLSX.

Upload (with a progress bar when scripts run) -> map the columns and preview the first
rows -> start -> watch the progress bar -> read the report and download the rows that
were not imported. Views stay thin: the import services do the reading, checking and
writing; a refusal lands on the form's fields.
"""

from __future__ import annotations

from typing import Any

from flask import Response as FlaskResponse
from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from app.access.policy import may
from app.database import db
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.imports import services
from app.imports.models import IMPORT_ENTITIES, ImportJob
from app.imports.report import report_body
from app.web import guards
from app.web.forms import PlainText, show_error, show_refusal, strip
from app.web.workspace import member, plan_limit_message
from billing.limits import PlanLimitExceeded

bp = workspace_blueprint("imports", __name__)
guards.install(bp)

ENTITY_CHOICES = [SelectChoice("contact", _l("Contacts")), SelectChoice("company", _l("Companies"))]
POLICY_CHOICES = [
    SelectChoice("skip", _l("Skip the row")),
    SelectChoice("update", _l("Update the existing record")),
    SelectChoice("create", _l("Create a new record anyway")),
]
MATCH_LABELS = {
    "email": _l("Email"),
    "phone": _l("Phone"),
    "name_company": _l("Name and company"),
    "domain": _l("Website domain"),
    "name": _l("Name"),
}
STATUS_LABELS = {
    "uploaded": _l("Waiting for the mapping"),
    "mapped": _l("Waiting to start"),
    "queued": _l("Queued"),
    "running": _l("Importing"),
    "done": _l("Done"),
    "failed": _l("Stopped"),
    "cancelled": _l("Cancelled"),
}
LIST_ROWS = 50
_MULTIPART_SLACK = 1024 * 1024


class UploadForm(FlaskForm):
    """Choose what to import and the file."""

    entity = SelectField(_l("Import"), choices=ENTITY_CHOICES, default="contact")
    file = FileField(_l("CSV or XLSX file"), render_kw={"accept": ".csv,.txt,.xlsx"})
    sheet = StringField(
        _l("Sheet (XLSX, optional)"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=100)],
    )


class MappingForm(FlaskForm):
    """The duplicate policy and match keys; the column selects are named ``col_<n>``
    and read by :func:`_mapping_from_form` (their number depends on the file)."""

    dedup_policy = SelectField(_l("When a row matches an existing record"), choices=POLICY_CHOICES)


def _actor() -> Any:
    return member().actor


def _job_or_404(import_id: int) -> ImportJob:
    job = services.get_visible_job(db.session, _actor(), import_id)
    if job is None:
        abort(404)
    return job


def _require_import(entity: str) -> None:
    if not services.may_import(_actor(), entity):
        abort(403)


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "import_status_label": lambda status: STATUS_LABELS.get(status, status),
        # Asked only by pages that show an "Import" button (a member is signed in).
        "may_import": lambda entity: services.may_import(_actor(), entity),
    }


@bp.get("/imports")
@login_required
def import_list() -> str:
    """The workspace's recent imports the member may see."""
    if not may(_actor(), "imports", "view"):
        abort(403)
    jobs = list(
        db.session.scalars(
            services.visible_jobs_query(_actor()).order_by(ImportJob.id.desc()).limit(LIST_ROWS)
        )
    )
    return render_template(
        "workspace/imports/list.html",
        jobs=jobs,
        can_import=any(services.may_import(_actor(), e) for e in IMPORT_ENTITIES),
    )


@bp.route("/imports/new", methods=["GET", "POST"])
@login_required
def import_new() -> str | Response:
    """Upload a file; on success, on to the mapping. A file over the size cap is a
    field error (the service stops reading it at the cap)."""
    if not any(services.may_import(_actor(), e) for e in IMPORT_ENTITIES):
        abort(403)
    form = UploadForm()
    if request.method == "GET" and request.args.get("entity") in IMPORT_ENTITIES:
        form.entity.data = request.args["entity"]
    if form.validate_on_submit():
        _require_import(form.entity.data)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            show_error(form, "file", _("Choose a CSV or XLSX file."))
        else:
            try:
                job = services.upload(
                    db.session,
                    _actor(),
                    entity=form.entity.data,
                    stream=upload.stream,
                    file_name=upload.filename,
                    sheet=form.sheet.data or None,
                )
            except InvalidInput as refusal:
                db.session.rollback()
                show_refusal(form, refusal)
            else:
                return redirect(url_for("imports.import_map", import_id=job.id))
    return render_template(
        "workspace/imports/new.html",
        form=form,
        max_mb=services.setting("IMPORT_MAX_BYTES") // (1024 * 1024),
        max_rows=services.setting("IMPORT_MAX_ROWS"),
    )


def _mapping_from_form(job: ImportJob) -> list[str | None] | None:
    """The column selects of the mapping form (None when the form has none)."""
    if "col_0" not in request.form:
        return None
    return [request.form.get(f"col_{i}") or None for i in range(len(job.headers))]


def _match_from_form() -> list[str] | None:
    if "match_on_sent" not in request.form:
        return None
    return request.form.getlist("match_on")


@bp.route("/imports/<int:import_id>/map", methods=["GET", "POST"])
@login_required
def import_map(import_id: int) -> str | Response:
    """Map the columns, choose what happens to duplicates, preview the first rows and
    start the import."""
    job = _job_or_404(import_id)
    _require_import(job.entity)
    if job.status not in ("uploaded", "mapped", "failed"):
        return redirect(url_for("imports.import_detail", import_id=job.id))
    form = MappingForm(data={"dedup_policy": job.dedup_policy})
    settings = None
    shown: dict[str, Any] = {
        "mapping": list(job.mapping),
        "match_on": list(job.match_on),
    }
    if form.validate_on_submit():
        shown = {
            "mapping": _mapping_from_form(job) or list(job.mapping),
            "match_on": _match_from_form() or [],
        }
        try:
            settings = services.check_settings(
                db.session, job, _mapping_from_form(job), form.dedup_policy.data, _match_from_form()
            )
            if request.form.get("action") == "start":
                services.start(db.session, _actor(), job, settings)
                flash(_("The import started."), "success")
                return redirect(url_for("imports.import_detail", import_id=job.id))
            services.save_settings(db.session, _actor(), job, settings)
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
            settings = None
        except PlanLimitExceeded as refusal:
            form.form_errors = [*form.form_errors, plan_limit_message(refusal)]
    elif request.method == "GET":
        try:
            settings = services.check_settings(db.session, job)
        except InvalidInput:
            settings = None  # a guessed mapping may be incomplete: no preview yet
    rows = services.preview(db.session, _actor(), job, settings) if settings else []
    return render_template(
        "workspace/imports/map.html",
        job=job,
        form=form,
        targets=services.targets(db.session, job.entity),
        shown=shown,
        match_keys=[(k, MATCH_LABELS[k]) for k in services.MATCH_KEYS[job.entity]],
        rows=rows,
        preview_ready=settings is not None,
    )


def _status(job: ImportJob) -> dict[str, Any]:
    return {
        "status": job.status,
        "status_label": str(STATUS_LABELS.get(job.status, job.status)),
        "active": job.is_active,
        "progress": job.progress,
        "processed_rows": job.processed_rows,
        "total_rows": job.total_rows,
        "counts": {
            "created": job.created_count,
            "updated": job.updated_count,
            "skipped": job.skipped_count,
            "failed": job.failed_count,
        },
    }


@bp.get("/imports/<int:import_id>")
@login_required
def import_detail(import_id: int) -> str:
    """The job's progress while it runs, its report when it is over."""
    job = _job_or_404(import_id)
    return render_template(
        "workspace/imports/detail.html",
        job=job,
        errors=services.errors_summary(db.session, job),
        has_issues=job.failed_count + job.skipped_count > 0,
        can_import=services.may_import(_actor(), job.entity),
        status=_status(job),
    )


@bp.get("/imports/<int:import_id>/status")
@login_required
def import_status(import_id: int) -> FlaskResponse:
    """The job's progress as JSON (the progress bar polls it)."""
    return jsonify(_status(_job_or_404(import_id)))


@bp.post("/imports/<int:import_id>/cancel")
@login_required
def import_cancel(import_id: int) -> Response:
    """Cancel the job (a running one stops after its current chunk)."""
    job = _job_or_404(import_id)
    _require_import(job.entity)
    try:
        services.cancel(db.session, _actor(), job)
    except InvalidInput as refusal:
        db.session.rollback()
        for messages in refusal.details.values():
            for message in messages:
                flash(message, "error")
    else:
        flash(_("The import was cancelled."), "success")
    return redirect(url_for("imports.import_detail", import_id=job.id))


@bp.get("/imports/<int:import_id>/problems.csv")
@login_required
def import_problems(import_id: int) -> FlaskResponse:
    """Download the rows that failed or were skipped, with the reason."""
    job = _job_or_404(import_id)
    return FlaskResponse(
        report_body(job, services.failed_rows(db.session, job)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{job.id}-problems.csv"'},
    )
