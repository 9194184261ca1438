"""REST API: exports of lists and segments (routes on the shared API blueprint).

``POST /exports`` queues an export (202 and the job); the job is polled with
``GET /exports/<id>`` until ``status`` is ``done``, then its file is fetched from
``GET /exports/<id>/download``. Every API export goes through the worker, whatever its
size: a client polls anyway, and a request never holds a database snapshot open for
the length of a download. A job is visible to the member who started it only (others
get 404, like for a missing one).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from app.api.pagination import page, paginate, parse_limit, parse_sort
from app.api.views import _json_body, _load, _query_args, _require, bp, member
from app.database import db
from app.errors import ApiError, not_found, validation_error
from app.exports import services as exports
from app.exports.models import ExportJob
from app.exports.schemas import ExportRequestSchema

EXPORT_SORTS = {"created_at": (ExportJob.created_at, "datetime")}
DEFAULT_SORT = "-created_at"
LIST_PARAMETERS = frozenset({"cursor", "limit", "sort"})
_request = ExportRequestSchema()


def _blueprint() -> str:
    return (request.blueprint or "api").split(".")[0]


def export_payload(job: ExportJob) -> dict[str, Any]:
    """An export job as the API answers it."""
    downloadable = job.status == "done" and job.delivery == "file"
    return {
        "id": job.id,
        "entity": job.entity,
        "format": job.format,
        "status": job.status,
        "delivery": job.delivery,
        "filter": job.filters,
        "segment_id": job.segment_id,
        "segment_name": job.segment_name,
        "rows_total": job.rows_total,
        "rows_written": job.rows_written,
        "progress": job.percent,
        "file_name": exports.file_name(job),
        "file_size": job.file_size,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
        "download_url": (
            url_for(f"{_blueprint()}.download_export", export_id=job.id) if downloadable else None
        ),
    }


def _require_entity(entity: str) -> None:
    if not exports.may_export(member().actor, entity):
        raise ApiError(403, "forbidden", f"Your role may not export {exports.RESOURCES[entity]}.")


def _fetch(export_id: int) -> ExportJob:
    job = exports.get_visible_export(db.session, member().actor, export_id)
    if job is None:
        raise not_found()
    return job


@bp.post("/exports")
def create_export() -> tuple[Response, int, dict[str, str]]:
    """Queue an export of a filtered list or of a segment."""
    _require("exports", "export")
    data = _load(_request, _json_body())
    actor = member().actor
    if data.get("entity") is not None:
        _require_entity(data["entity"])
    selection = exports.select_records(
        db.session,
        actor,
        entity=data.get("entity"),
        filters=data.get("filter"),
        segment_id=data.get("segment_id"),
    )
    _require_entity(selection.entity)
    job = exports.start_export(db.session, actor, selection, data["format"])
    location = url_for(f"{_blueprint()}.get_export", export_id=job.id)
    return jsonify(export_payload(job)), 202, {"Location": location}


@bp.get("/exports")
def list_exports() -> Response:
    """The caller's exports, newest first, cursor-paginated."""
    _require("exports", "export")
    args = _query_args()
    unknown = sorted(set(args) - LIST_PARAMETERS)
    if unknown:
        raise validation_error({name: ["Unknown parameter."] for name in unknown})
    limit = parse_limit(args.get("limit"))
    sort = parse_sort(args.get("sort"), EXPORT_SORTS, DEFAULT_SORT)
    stmt = exports.exports_query(member().actor)
    rows = list(db.session.scalars(paginate(stmt, sort, ExportJob.id, args.get("cursor"), limit)))
    items, next_cursor = page(rows, sort, limit)
    return jsonify({"items": [export_payload(job) for job in items], "next_cursor": next_cursor})


@bp.get("/exports/<int:export_id>")
def get_export(export_id: int) -> Response:
    """One export: its status and progress, and its download link once done."""
    _require("exports", "export")
    return jsonify(export_payload(_fetch(export_id)))


@bp.get("/exports/<int:export_id>/download")
def download_export(export_id: int) -> Response:
    """The export's file (409 until it is ready, and after it expired)."""
    _require("exports", "export")
    job = _fetch(export_id)
    _require_entity(job.entity)
    path = exports.download_path(job)
    if path is None:
        messages = {
            "queued": "The export is not ready yet; poll its status.",
            "running": "The export is not ready yet; poll its status.",
            "failed": "The export failed; start a new one.",
            "expired": "The export's file has expired; start a new one.",
        }
        message = messages.get(
            job.status, "This export was downloaded when it was made; start a new one."
        )
        raise ApiError(409, "conflict", message)
    return Response(
        exports.file_chunks(path),
        mimetype=exports.MEDIA_TYPES[job.format],
        headers=exports.download_headers(job, path),
    )
