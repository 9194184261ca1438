"""Exports of lists and segments: the only writers of export jobs and export files.

What leaves: the records of one kind that the member may *export* (the "export" action
of app.access.policy, its scope applied in SQL by the lists' ``filtered_query``) and
that match a list's filter or a saved segment's. The member also needs the "export"
action on the ``exports`` resource. Anything else is refused before a row is read, and
re-checked when a queued job starts (a role may have changed in between).

How it leaves, by size (``EXPORT_DIRECT_MAX_ROWS``, 50,000 by default):

* small CSV from a page: streamed straight into the HTTP response from a server-side
  cursor (:func:`open_stream`), nothing on disk;
* small XLSX from a page: written to a file in the request, then sent (an XLSX is a ZIP
  archive and can not be streamed before it is complete);
* anything larger, and every API export: a tenant-bound Celery task writes the file
  (:func:`run_export`) while the job row tracks rows written against the total, and the
  file is served from disk for ``EXPORT_FILE_TTL_HOURS`` (24 by default).

Memory stays flat at any size: rows are read in batches of ``EXPORT_BATCH_ROWS`` from a
server-side cursor, each batch becomes bytes and is dropped before the next is fetched.
Rows are read in one REPEATABLE READ, read-only transaction, in which the total is
counted first: the count and the rows see the same snapshot, so progress ends at exactly
100 % and the audit's row count is the number of rows in the file.

Files live under the storage directory (``EXPORT_STORAGE_DIR``, else
``<instance>/exports``), one folder per tenant id, named by the job's id and a random
key: never by anything a client typed. In production the web and worker processes must
share that directory (a volume).

A job is visible to the member who started it only: another member's export may hold
records outside one's own scope, and the member's own list is what they need.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from app.access.policy import Actor, actor_for, may
from app.audit.services import record
from app.database import DbSession, db, utcnow
from app.errors import InvalidInput
from app.exports.columns import Layout, build_layout
from app.exports.models import EXPORT_ENTITIES, EXPORT_FORMATS, UNFINISHED_STATUSES, ExportJob
from app.exports.writers import Cell, csv_chunks, write_csv, write_xlsx
from app.identity.models import User
from app.identity.services import active_membership
from app.input_rules import MAX_BIGINT
from app.lists.filters import filtered_query, parse_filters
from app.lists.services import get_visible_segment
from tenants.context import require_tenant

log = logging.getLogger(__name__)

# The record resource of each exportable entity (app.access.builtin.RESOURCES).
RESOURCES = {"contact": "contacts", "company": "companies", "deal": "deals"}
# File names of downloads (server-made, ASCII, whatever the member's language).
FILE_STEMS = {"contact": "contacts", "company": "companies", "deal": "deals"}
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Query parameters of a list page that choose a page or an order, not records (a
# segment named in a list's address is posted as ``segment_id`` instead).
PAGING_PARAMETERS = frozenset({"cursor", "sort", "limit", "segment"})
MAX_FILTER_PARAMETERS = 50
MAX_FILTER_VALUE_LENGTH = 1000

DEFAULT_DIRECT_MAX_ROWS = 50_000
DEFAULT_BATCH_ROWS = 2_000
DEFAULT_FILE_TTL_HOURS = 24
# A job still queued or running after this long was lost (a worker killed mid-way, a
# broker that dropped the message): the sweep marks it failed so the page stops waiting.
DEFAULT_STALE_HOURS = 6
# How often a running job writes its progress (seconds): enough for a progress bar,
# negligible next to the export.
PROGRESS_EVERY_SECONDS = 1.0
RECENT_EXPORTS = 20


def setting(name: str, default: int) -> int:
    """An integer setting of the app (tests and deployments lower or raise them)."""
    value = current_app.config.get(name)
    return int(value) if value is not None else default


def may_export(actor: Actor, entity: str) -> bool:
    """Whether ``actor`` may export some ``entity`` records at all."""
    return (
        entity in RESOURCES
        and may(actor, "exports", "export")
        and may(actor, RESOURCES[entity], "export")
    )


# ----------------------------------------------------------------------------- what


@dataclass(frozen=True)
class Selection:
    """Which records an export covers: a kind of record and a filter, typed on a list
    or taken from a segment (then named, for the job list and the audit)."""

    entity: str
    spec: dict[str, Any]
    segment_id: int | None = None
    segment_name: str | None = None


def _filter_args(filters: Mapping[str, Any]) -> dict[str, str]:
    """A list's filter parameters as text, paging parameters dropped. Numbers are taken
    as typed; anything else is refused."""
    if len(filters) > MAX_FILTER_PARAMETERS:
        raise InvalidInput({"filter": [_("Too many filter parameters.")]})
    args: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name, value in filters.items():
        if not isinstance(name, str) or name in PAGING_PARAMETERS:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            errors[f"filter.{name}"] = [_("Give the filter value as text.")]
        elif len(value) > MAX_FILTER_VALUE_LENGTH:
            errors[f"filter.{name}"] = [_("The filter value is too long.")]
        else:
            args[name] = value
    if errors:
        raise InvalidInput(errors)
    return args


def select_records(
    session: DbSession,
    actor: Actor,
    *,
    entity: Any,
    filters: Mapping[str, Any] | None = None,
    segment_id: Any = None,
) -> Selection:
    """The records an export request names: ``entity`` with a list's ``filters`` (query
    parameters, as on the list page and the API), or a saved segment the actor may see
    (its kind of record then, and its filter as it is now). Refusals name the field."""
    if segment_id is not None:
        if filters:
            raise InvalidInput({"filter": [_("Give a filter or a segment, not both.")]})
        if (
            isinstance(segment_id, bool)
            or not isinstance(segment_id, int)
            or not 1 <= segment_id <= MAX_BIGINT
        ):
            raise InvalidInput({"segment_id": [_("Give the id of a segment.")]})
        segment = get_visible_segment(session, actor, segment_id)
        if segment is None:
            raise InvalidInput({"segment_id": [_("No such segment.")]})
        if entity is not None and entity != segment.entity:
            raise InvalidInput({"entity": [_("This segment is a list of other records.")]})
        spec = dict(segment.filters or {})
        try:
            # Checked again: a segment may name a custom field removed since it was saved.
            parse_filters(session, segment.entity, spec)
        except InvalidInput as refusal:
            reasons = "; ".join(m for messages in refusal.details.values() for m in messages)
            raise InvalidInput(
                {
                    "segment_id": [
                        _("This segment's filter no longer works: %(reasons)s", reasons=reasons)
                    ]
                }
            ) from refusal
        return Selection(segment.entity, spec, segment.id, segment.name)
    if entity not in EXPORT_ENTITIES:
        raise InvalidInput({"entity": [_("Choose contacts, companies or deals.")]})
    args = _filter_args(filters or {})
    try:
        spec = parse_filters(session, entity, args)
    except InvalidInput as refusal:
        # Named as the request names them: ``filter.<parameter>`` (the whole filter:
        # ``filter``).
        raise InvalidInput(
            {
                ("filter" if key == "filters" else f"filter.{key}"): messages
                for key, messages in refusal.details.items()
            },
            refusal.message,
        ) from refusal
    return Selection(entity, dict(spec))


def _check_format(fmt: Any) -> str:
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput({"format": [_("Choose CSV or XLSX.")]})
    return str(fmt)


# ----------------------------------------------------------------------------- reading


def _reader() -> Session:
    """A session of its own for reading an export, its transaction begun: REPEATABLE
    READ and read-only (bound to the current tenant as it begins), so that the count and
    every batch see the same snapshot, and the job's progress can be committed meanwhile
    on the regular session without closing the server-side cursor."""
    session = Session(db.engine)
    try:
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    except BaseException:
        session.close()
        raise
    return session


@contextmanager
def snapshot_session() -> Iterator[Session]:
    """:func:`_reader` for the length of a ``with`` block."""
    session = _reader()
    try:
        yield session
    finally:
        session.close()


def export_layout(session: DbSession, actor: Actor, selection: Selection) -> Layout:
    """Columns and statement of an export of ``selection`` by ``actor``."""
    base = filtered_query(session, actor, selection.entity, selection.spec, action="export")
    return build_layout(session, actor, selection.entity, base, require_tenant().id)


def count_rows(session: DbSession, statement: Select[Any], at_most: int | None = None) -> int:
    """How many rows ``statement`` reads; with ``at_most``, counting stops one past it
    (enough to tell "small" from "large" without counting a million rows)."""
    inner = statement.order_by(None)
    if at_most is not None:
        inner = inner.limit(at_most + 1)
    return int(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)


def is_small(actor: Actor, selection: Selection, at_most: int) -> bool:
    """Whether ``selection`` has at most ``at_most`` records for ``actor`` to export."""
    with snapshot_session() as session:
        base = filtered_query(session, actor, selection.entity, selection.spec, action="export")
        return count_rows(session, base, at_most) <= at_most


def read_rows(session: DbSession, layout: Layout) -> Iterator[list[Cell]]:
    """The rows of ``layout``, fetched in batches from a server-side cursor."""
    batch = setting("EXPORT_BATCH_ROWS", DEFAULT_BATCH_ROWS)
    result = session.execute(layout.statement, execution_options={"yield_per": batch})
    for row in result:
        yield layout.cells(row)


def file_name(job: ExportJob) -> str:
    """The download's name, e.g. ``contacts-20261123-1530.csv``."""
    return f"{FILE_STEMS[job.entity]}-{job.created_at:%Y%m%d-%H%M}.{job.format}"


def storage_dir() -> Path:
    """Where export files are kept (``EXPORT_STORAGE_DIR``, else the instance's)."""
    configured = current_app.config.get("EXPORT_STORAGE_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "exports"


def file_path(job: ExportJob) -> Path:
    """The job's file: ``<storage>/<tenant id>/<job id>-<random key>.<format>``."""
    tenant = require_tenant()
    return storage_dir() / str(tenant.id) / f"{job.id}-{job.file_key}.{job.format}"


def _delete_file(job: ExportJob) -> None:
    path = file_path(job)
    for candidate in (path, path.with_name(path.name + ".part")):
        with suppress(FileNotFoundError):
            candidate.unlink()


def _new_job(actor: Actor, selection: Selection, fmt: str, delivery: str) -> ExportJob:
    return ExportJob(
        entity=selection.entity,
        format=fmt,
        delivery=delivery,
        filters=selection.spec,
        segment_id=selection.segment_id,
        segment_name=selection.segment_name,
        created_by_id=actor.user_id,
        file_key=secrets.token_hex(16),
    )


def _audit(session: DbSession, job: ExportJob, rows: int) -> None:
    """Who exported which records, how many and with which filter."""
    record(
        session,
        actor_id=job.created_by_id,
        action="exported",
        entity="export",
        entity_id=job.id,
        changes={
            "entity": job.entity,
            "format": job.format,
            "delivery": job.delivery,
            "rows": rows,
            "filters": job.filters,
            "segment_id": job.segment_id,
            "segment_name": job.segment_name,
        },
    )


# ----------------------------------------------------------------------------- streamed


@dataclass
class ExportStream:
    """A small export about to be streamed: its rows counted in the snapshot that
    :meth:`chunks` then reads. Holds a session until the stream ends or is closed."""

    session: Session
    layout: Layout
    rows: int
    _closed: bool = field(default=False, repr=False)

    def chunks(self) -> Iterator[bytes]:
        """The CSV bytes; closes the session when done (or when the client leaves and
        the server closes this generator)."""
        try:
            yield from csv_chunks(self.layout.header, read_rows(self.session, self.layout))
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.session.close()


def open_stream(actor: Actor, selection: Selection, at_most: int) -> ExportStream | None:
    """An :class:`ExportStream` of ``selection`` when it has at most ``at_most`` rows,
    else None (the export then goes to a file)."""
    session = _reader()
    try:
        layout = export_layout(session, actor, selection)
        rows = count_rows(session, layout.base, at_most)
    except BaseException:
        session.close()
        raise
    if rows > at_most:
        session.close()
        return None
    return ExportStream(session, layout, rows)


def record_streamed_export(
    session: DbSession, actor: Actor, selection: Selection, stream: ExportStream
) -> ExportJob:
    """Record (and audit) a CSV about to be streamed, before its first byte leaves.
    The row count comes from the stream's snapshot, so it is what the file holds."""
    now = utcnow()
    job = _new_job(actor, selection, "csv", "stream")
    job.status = "done"
    job.rows_total = job.rows_written = stream.rows
    job.started_at = job.finished_at = now
    session.add(job)
    session.flush()
    _audit(session, job, stream.rows)
    session.commit()
    return job


# ----------------------------------------------------------------------------- to a file


def start_export(
    session: DbSession, actor: Actor, selection: Selection, fmt: Any, *, dispatch: bool = True
) -> ExportJob:
    """Queue an export of ``selection`` to a file; with ``dispatch`` the task is sent
    after the commit (and runs in-process when no broker is configured)."""
    fmt = _check_format(fmt)
    job = _new_job(actor, selection, fmt, "file")
    session.add(job)
    session.commit()
    if dispatch:
        from app.exports.tasks import run_export_task

        try:
            run_export_task.delay(job.id)
        except Exception:
            log.exception("could not queue export %s", job.id)
            session.execute(
                update(ExportJob)
                .where(ExportJob.id == job.id, ExportJob.status == "queued")
                .values(
                    status="failed",
                    finished_at=utcnow(),
                    error=_("The export could not be started. Try again in a moment."),
                )
            )
            session.commit()
        session.refresh(job)
    return job


def _exporter(session: DbSession, job: ExportJob) -> tuple[Actor, User] | None:
    """The member who asked, as they are now (role changes count), if still allowed."""
    membership = active_membership(session, job.created_by_id, require_tenant().id)
    if membership is None:
        return None
    actor = actor_for(membership.user_id, membership.role)
    if not may_export(actor, job.entity):
        return None
    return actor, membership.user


def _set_progress(session: DbSession, job_id: int, **values: Any) -> None:
    session.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))
    session.commit()


def _tracked(rows: Iterable[list[Cell]], report: Callable[[int], None]) -> Iterator[list[Cell]]:
    """``rows`` unchanged, reporting how many went by about once a second."""
    written = 0
    last = time.monotonic()
    for row in rows:
        yield row
        written += 1
        if written % 500 == 0 and time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
            report(written)
            last = time.monotonic()
    report(written)


def _claim(session: DbSession, export_id: int) -> ExportJob | None:
    """Move a queued job to running; None when it is not queued (already taken by a
    redelivered message, or gone)."""
    claimed = session.execute(
        update(ExportJob)
        .where(ExportJob.id == export_id, ExportJob.status == "queued")
        .values(status="running", started_at=utcnow())
        .returning(ExportJob.id)
    ).first()
    session.commit()
    if claimed is None:
        return None
    return session.get(ExportJob, export_id)


def run_export(session: DbSession, export_id: int) -> ExportJob | None:
    """Write the file of a queued export job of the bound tenant (the task's body; also
    run in a request for a small XLSX). Commits progress as it goes; a failure is kept
    on the job (and logged), never raised. Returns the job, or None if it was not
    queued."""
    job = _claim(session, export_id)
    if job is None:
        return None
    path = file_path(job)
    part = path.with_name(path.name + ".part")
    try:
        exporter = _exporter(session, job)
        if exporter is None:
            job.status = "failed"
            job.finished_at = utcnow()
            job.error = _("You may no longer export these records.")
            session.commit()
            return job
        actor, user = exporter
        selection = Selection(job.entity, job.filters, job.segment_id, job.segment_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with force_locale(user.locale or "en"), snapshot_session() as reader:
            layout = export_layout(reader, actor, selection)
            total = count_rows(reader, layout.base)
            _set_progress(session, job.id, rows_total=total)
            written = 0

            def report(count: int) -> None:
                nonlocal written
                written = count
                _set_progress(session, export_id, rows_written=count)

            rows = _tracked(read_rows(reader, layout), report)
            if job.format == "csv":
                with part.open("wb") as out:
                    write_csv(out, layout.header, rows)
            else:
                write_xlsx(part, layout.header, rows, title=layout.title, widths=layout.widths)
        part.replace(path)
        now = utcnow()
        job = session.get(ExportJob, export_id) or job
        job.status = "done"
        job.rows_written = written
        job.file_size = path.stat().st_size
        job.finished_at = now
        job.expires_at = now + dt.timedelta(
            hours=setting("EXPORT_FILE_TTL_HOURS", DEFAULT_FILE_TTL_HOURS)
        )
        _audit(session, job, written)
        session.commit()
        return job
    except Exception:
        session.rollback()
        log.exception("export failed export_id=%s tenant_id=%s", export_id, require_tenant().id)
        with suppress(FileNotFoundError):
            part.unlink()
        _set_progress(
            session,
            export_id,
            status="failed",
            finished_at=utcnow(),
            error=_("The export failed. Try again; if it fails again, tell an admin."),
        )
        return session.get(ExportJob, export_id)


# ----------------------------------------------------------------------------- reading jobs


def expire_if_due(session: DbSession, job: ExportJob, now: dt.datetime | None = None) -> bool:
    """Delete a finished job's file once it is past its expiry (the sweep does the same
    for everyone, this catches it on read); returns whether it just expired."""
    now = now or utcnow()
    if job.status != "done" or job.expires_at is None or job.expires_at > now:
        return False
    _delete_file(job)
    job.status = "expired"
    session.commit()
    return True


def get_visible_export(session: DbSession, actor: Actor, export_id: int) -> ExportJob | None:
    """The export if ``actor`` started it; None otherwise (answered like a missing one).
    An expired file is cleaned up on the way."""
    if isinstance(export_id, bool) or not 1 <= export_id <= MAX_BIGINT:
        return None
    job = session.get(ExportJob, export_id)
    if job is None or job.created_by_id != actor.user_id:
        return None
    expire_if_due(session, job)
    return job


def exports_query(actor: Actor) -> Select[Any]:
    """The exports ``actor`` started (unordered; callers page it)."""
    return select(ExportJob).where(ExportJob.created_by_id == actor.user_id)


def recent_exports(
    session: DbSession, actor: Actor, limit: int = RECENT_EXPORTS
) -> list[ExportJob]:
    """The member's latest exports, newest first, expired files cleaned up."""
    jobs = list(session.scalars(exports_query(actor).order_by(ExportJob.id.desc()).limit(limit)))
    now = utcnow()
    for job in jobs:
        expire_if_due(session, job, now)
    return jobs


def download_path(job: ExportJob) -> Path | None:
    """The job's file when it can be downloaded (done and on disk); None otherwise."""
    if job.status != "done" or job.delivery != "file":
        return None
    path = file_path(job)
    return path if path.is_file() else None


def download_headers(job: ExportJob, path: Path) -> dict[str, str]:
    """Headers of a file download: an attachment with its server-made (ASCII) name,
    its length, and never kept by a cache."""
    return {
        "Content-Disposition": f'attachment; filename="{file_name(job)}"',
        "Content-Length": str(path.stat().st_size),
        "Cache-Control": "private, no-store",
    }


def file_chunks(path: Path, size: int = 256 * 1024) -> Iterator[bytes]:
    """A file's bytes for a response body. The file is opened when the body is first
    read and closed when it is done (or when the server closes the response): a
    response that is never read holds no open file."""
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def sweep_tenant(session: DbSession, now: dt.datetime | None = None) -> dict[str, int]:
    """For the bound tenant: delete files past their expiry, and fail jobs lost on the
    way (queued or running for longer than ``EXPORT_STALE_HOURS``). Commits."""
    now = now or utcnow()
    expired = 0
    due = session.scalars(
        select(ExportJob).where(ExportJob.status == "done", ExportJob.expires_at <= now)
    )
    for job in list(due):
        expired += int(expire_if_due(session, job, now))
    stale_before = now - dt.timedelta(hours=setting("EXPORT_STALE_HOURS", DEFAULT_STALE_HOURS))
    stale = list(
        session.scalars(
            select(ExportJob).where(
                ExportJob.status.in_(UNFINISHED_STATUSES), ExportJob.created_at < stale_before
            )
        )
    )
    for job in stale:
        _delete_file(job)
        job.status = "failed"
        job.finished_at = now
        job.error = _("The export did not finish. Start it again.")
    session.commit()
    return {"expired": expired, "failed": len(stale)}
