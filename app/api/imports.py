"""REST API: imports of contacts and companies (routes on the shared API blueprint).

Upload a CSV or XLSX file (multipart), check the guessed mapping, start the job, poll
its status, download the rows it could not import. Handlers stay thin: parse ->
authorize -> fetch through the access helper -> service -> serialize.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, request, url_for

from app.api.pagination import parse_limit
from app.api.views import _json_body, _query_args, _require, bp, member
from app.database import db
from app.errors import ApiError, not_found, validation_error
from app.imports import services
from app.imports.models import IMPORT_ENTITIES, ImportJob
from app.imports.report import report_body
from app.input_rules import MAX_BIGINT

# Room for the multipart envelope and the form fields around the file.
_MULTIPART_SLACK = 1024 * 1024


def job_payload(job: ImportJob, *, detail: bool = True) -> dict[str, Any]:
    """A job as the API answers it (``detail`` adds the targets and first errors)."""
    payload: dict[str, Any] = {
        "id": job.id,
        "entity": job.entity,
        "status": job.status,
        "file_name": job.file_name,
        "file_kind": job.file_kind,
        "file_size": job.file_size,
        "encoding": job.encoding,
        "delimiter": job.delimiter,
        "sheet_name": job.sheet_name,
        "notices": list(job.notices),
        "headers": list(job.headers),
        "mapping": dict(zip(job.headers, job.mapping, strict=True)),
        "dedup_policy": job.dedup_policy,
        "match_on": list(job.match_on),
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "progress": job.progress,
        "counts": {
            "created": job.created_count,
            "updated": job.updated_count,
            "skipped": job.skipped_count,
            "failed": job.failed_count,
        },
        "error": job.error,
        "created_by_id": job.created_by_id,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    if detail:
        payload["targets"] = [
            {"key": t.key, "label": t.label} for t in services.targets(db.session, job.entity)
        ]
        payload["errors"] = services.errors_summary(db.session, job)
    return payload


def _fetch_job(import_id: int) -> ImportJob:
    job = services.get_visible_job(db.session, member().actor, import_id)
    if job is None:
        raise not_found()
    return job


def _require_import(entity: str) -> None:
    _require("imports", "create")
    if not services.may_import(member().actor, entity):
        raise ApiError(403, "forbidden", f"Your role may not import {entity} records.")


def _json_field(raw: str | None, name: str) -> Any:
    """A form field holding JSON (``mapping``), or None when absent."""
    if raw is None or raw == "":
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise validation_error({name: ["Give this field as JSON."]}) from exc


def _match_on(raw: str | None) -> Any:
    if raw is None or raw == "":
        return None
    if raw.lstrip().startswith("["):
        return _json_field(raw, "match_on")
    return [part.strip() for part in raw.split(",") if part.strip()]


@bp.get("/imports")
def list_imports() -> Response:
    """The workspace's imports the caller may see, newest first."""
    _require("imports", "view")
    args = _query_args()
    unknown = sorted(set(args) - {"cursor", "limit"})
    if unknown:
        raise validation_error({name: ["Unknown parameter."] for name in unknown})
    limit = parse_limit(args.get("limit"))
    stmt = services.visible_jobs_query(member().actor).order_by(ImportJob.id.desc())
    cursor = args.get("cursor")
    if cursor:
        if not (cursor.isascii() and cursor.isdigit() and 1 <= int(cursor) <= MAX_BIGINT):
            raise validation_error({"cursor": ["Not a valid cursor."]})
        stmt = stmt.where(ImportJob.id < int(cursor))
    rows = list(db.session.scalars(stmt.limit(limit + 1)))
    items = rows[:limit]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return jsonify(
        {"items": [job_payload(j, detail=False) for j in items], "next_cursor": next_cursor}
    )


@bp.post("/imports")
def create_import() -> tuple[Response, int, dict[str, str]]:
    """Upload a CSV or XLSX file (multipart: ``file``, ``entity``, and optionally
    ``sheet``, ``mapping``, ``dedup_policy``, ``match_on``)."""
    _require("imports", "create")
    request.max_content_length = services.setting("IMPORT_MAX_BYTES") + _MULTIPART_SLACK
    if request.mimetype != "multipart/form-data":
        raise ApiError(
            415, "unsupported_media_type", "Send the file as multipart/form-data (field `file`)."
        )
    entity = request.form.get("entity") or "contact"
    if entity not in IMPORT_ENTITIES:
        raise validation_error({"entity": [f"Choose one of: {', '.join(IMPORT_ENTITIES)}."]})
    _require_import(entity)
    upload = request.files.get("file")
    if upload is None:
        raise validation_error({"file": ["Attach a CSV or XLSX file as `file`."]})
    job = services.upload(
        db.session,
        member().actor,
        entity=entity,
        stream=upload.stream,
        file_name=upload.filename or "upload",
        sheet=request.form.get("sheet") or None,
        mapping=_json_field(request.form.get("mapping"), "mapping"),
        policy=request.form.get("dedup_policy") or None,
        match_on=_match_on(request.form.get("match_on")),
    )
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_import", import_id=job.id)
    return jsonify(job_payload(job)), 201, {"Location": location}


@bp.get("/imports/<int:import_id>")
def get_import(import_id: int) -> Response:
    """A job's status, counts and first errors (poll it while it runs)."""
    _require("imports", "view")
    return jsonify(job_payload(_fetch_job(import_id)))


@bp.get("/imports/<int:import_id>/preview")
def preview_import(import_id: int) -> Response:
    """The first rows as the import would treat them with the job's settings."""
    _require("imports", "view")
    job = _fetch_job(import_id)
    settings = services.check_settings(db.session, job)
    rows = services.preview(db.session, member().actor, job, settings)
    return jsonify(
        {
            "items": [
                {"row": r.number, "cells": r.cells, "outcome": r.outcome, "messages": r.messages}
                for r in rows
            ]
        }
    )


@bp.post("/imports/<int:import_id>/start")
def start_import(import_id: int) -> tuple[Response, int]:
    """Start (or resume) a job, with the given settings or the ones it has."""
    job = _fetch_job(import_id)
    _require_import(job.entity)
    body = _json_body() if request.get_data(cache=True) else {}
    unknown = sorted(set(body) - {"mapping", "dedup_policy", "match_on"})
    if unknown:
        raise validation_error({name: ["Unknown field."] for name in unknown})
    settings = services.check_settings(
        db.session, job, body.get("mapping"), body.get("dedup_policy"), body.get("match_on")
    )
    job = services.start(db.session, member().actor, job, settings)
    return jsonify(job_payload(job)), 202


@bp.get("/imports/<int:import_id>/failed-rows")
def import_failed_rows(import_id: int) -> Response:
    """The rows that failed or were skipped, with the reason, as CSV."""
    _require("imports", "view")
    job = _fetch_job(import_id)
    return Response(
        report_body(job, services.failed_rows(db.session, job)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{job.id}-problems.csv"'},
    )


@bp.delete("/imports/<int:import_id>")
def cancel_import(import_id: int) -> Response:
    """Cancel a job (a running one stops after the chunk it is writing)."""
    job = _fetch_job(import_id)
    _require_import(job.entity)
    return jsonify(job_payload(services.cancel(db.session, member().actor, job)))
