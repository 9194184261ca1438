"""Import services: the only writers of import jobs, and (for the rows of a file) of
the contacts and companies they create or update.

The life of a job: :func:`upload` reads and checks the whole file (a file-level
problem refuses it and writes nothing) and guesses the mapping, or takes the one the
workspace used last for the same columns; :func:`preview` validates the first rows;
:func:`start` remembers the mapping, reserves the plan's contact allowance for every
row still to import (or refuses the whole import) and queues the task; the task
(:mod:`app.imports.tasks`) calls :func:`run`, which imports :data:`CHUNK_ROWS` rows per
transaction. What "nothing half-written" means here is written down in docs/imports.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import logging
import queue
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from psycopg.types.json import Jsonb
from sqlalchemy import Select, Text, any_, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.access.policy import Actor, actor_for, apply_record_scope, may, record_in_scope
from app.audit.services import record
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import DbSession, utcnow
from app.errors import InvalidInput
from app.identity.services import active_membership
from app.imports import readers
from app.imports.models import (
    ACTIVE_STATUSES,
    DEDUP_POLICIES,
    IMPORT_ENTITIES,
    ImportFileChunk,
    ImportJob,
    ImportMapping,
    ImportRowIssue,
)
from app.imports.readers import FileInfo, FileRefused, ReadLimits, display_cell
from app.imports.rows import (
    VALIDATORS,
    ParsedRow,
    RowInvalid,
    RowValidator,
    Target,
    check_mapping,
    custom_definitions,
    guess_mapping,
    header_key,
    targets_for,
)
from app.input_rules import MAX_BIGINT
from app.timeline.services import json_value
from billing import limits as plan_limits
from tenants.context import require_tenant, tenant_context

log = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
# Rows per transaction: big enough for set-based writes to pay, small enough that the
# progress bar moves and a stop loses little.
CHUNK_ROWS = 5000
PREVIEW_ROWS = 20
# A running job whose run has not written a chunk for this long is taken over by a
# redelivered task (its worker died).
STALE_AFTER = dt.timedelta(minutes=10)
MATCH_KEYS = {"contact": ("email", "phone", "name_company"), "company": ("domain", "name")}
RESOURCES = {"contact": "contacts", "company": "companies"}
# Phones shorter than this match nothing (an extension or "0" is not an identity).
MIN_PHONE_DIGITS = 5
DEFAULTS = {
    "IMPORT_MAX_BYTES": 200 * 1024 * 1024,
    "IMPORT_MAX_ROWS": 1_000_000,
    "IMPORT_LINE_CAP": 1024 * 1024,
    "IMPORT_MAX_UNCOMPRESSED": 1024 * 1024 * 1024,
    "IMPORT_CHUNK_ROWS": CHUNK_ROWS,
}


def setting(name: str) -> int:
    """An import setting from the app's config (the defaults above otherwise)."""
    value = current_app.config.get(name) if has_app_context() else None
    return int(value if value is not None else DEFAULTS[name])


def read_limits() -> ReadLimits:
    """The caps a file must fit, from the settings."""
    return ReadLimits(
        max_rows=setting("IMPORT_MAX_ROWS"),
        line_cap=setting("IMPORT_LINE_CAP"),
        max_uncompressed=setting("IMPORT_MAX_UNCOMPRESSED"),
    )


def header_signature(entity: str, headers: Sequence[str]) -> str:
    """The key of a remembered mapping: the entity and the normalised column names."""
    text = entity + "\x1f" + "\x1f".join(header_key(h) or h.casefold() for h in headers)
    return hashlib.sha256(text.encode()).hexdigest()


def file_info(job: ImportJob) -> FileInfo:
    """What the readers need to read a stored job's file again."""
    return FileInfo(
        kind=job.file_kind,
        headers=list(job.headers),
        total_rows=job.total_rows,
        encoding=job.encoding,
        delimiter=job.delimiter,
        sheet_name=job.sheet_name,
        notices=list(job.notices),
    )


# ---------------------------------------------------------------------------- access


def may_import(actor: Actor, entity: str) -> bool:
    """Whether ``actor`` may import ``entity`` records: the imports right and the right
    to create such records."""
    return (
        entity in IMPORT_ENTITIES
        and may(actor, "imports", "create")
        and may(actor, RESOURCES[entity], "create")
    )


def visible_jobs_query(actor: Actor) -> Select[ImportJob]:
    """The import jobs ``actor`` may see (scope on the member who uploaded them)."""
    return apply_record_scope(select(ImportJob), actor, "imports", "view", ImportJob.created_by_id)


def get_visible_job(session: DbSession, actor: Actor, job_id: int) -> ImportJob | None:
    """The job if it exists and ``actor`` may see it; None otherwise (answered as 404)."""
    if not 1 <= job_id <= MAX_BIGINT:
        return None
    job = session.get(ImportJob, job_id)
    if job is None or not record_in_scope(actor, "imports", "view", job.created_by_id):
        return None
    return job


# ---------------------------------------------------------------------------- upload


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):,.0f} MB"
    return f"{max(1, size // 1024):,} KB"


def _spool(stream: IO[bytes], dest: Path, max_bytes: int) -> int:
    """Copy an upload to ``dest``; refuse it past ``max_bytes`` (read 1 MiB at a time)."""
    size = 0
    with dest.open("wb") as out:
        while piece := stream.read(CHUNK_BYTES):
            size += len(piece)
            if size > max_bytes:
                raise InvalidInput(
                    {"file": [_("The file is larger than %(max)s.", max=_human_size(max_bytes))]}
                )
            out.write(piece)
    if size == 0:
        raise InvalidInput({"file": [_("The file is empty.")]})
    return size


def _remembered_mapping(
    session: DbSession, entity: str, signature: str, targets: Sequence[Target]
) -> list[str | None] | None:
    saved = session.scalar(
        select(ImportMapping).where(
            ImportMapping.entity == entity, ImportMapping.header_signature == signature
        )
    )
    if saved is None:
        return None
    known = {t.key for t in targets}
    # A custom field deleted since is dropped; the rest of the mapping still holds.
    return [m if m in known else None for m in saved.mapping]


def _store_file(session: DbSession, job_id: int, path: Path) -> None:
    """Keep the file in ``import_file_chunks`` (16 MiB per statement at most)."""
    seq = 0
    with path.open("rb") as source:
        while True:
            batch = []
            for _piece in range(16):
                data = source.read(CHUNK_BYTES)
                if not data:
                    break
                batch.append({"job_id": job_id, "seq": seq, "data": data})
                seq += 1
            if not batch:
                return
            session.execute(pg_insert(ImportFileChunk), batch)


def upload(
    session: DbSession,
    actor: Actor,
    *,
    entity: str,
    stream: IO[bytes],
    file_name: str,
    sheet: str | None = None,
    mapping: Any = None,
    policy: Any = None,
    match_on: Any = None,
) -> ImportJob:
    """Read and check an uploaded file and keep it as a new job with a mapping to
    confirm (``mapping``, ``policy`` and ``match_on``, when given, are checked like
    :func:`check_settings` and make the job "mapped"). A file that can not be imported
    raises InvalidInput on ``file`` and writes nothing; so does a bad setting."""
    if entity not in IMPORT_ENTITIES:
        raise InvalidInput({"entity": [_("Choose contacts or companies.")]})
    limits = read_limits()
    with tempfile.TemporaryDirectory(prefix="crm-import-") as tmp:
        original = Path(tmp) / "upload"
        size = _spool(stream, original, setting("IMPORT_MAX_BYTES"))
        with original.open("rb") as head:
            start = head.read(8)
        try:
            kind = readers.sniff_kind(start)
            stored = original
            if kind == "xlsx":
                stored = Path(tmp) / "workbook.xlsx"
                readers.repack_xlsx(original, stored, limits)
            info = readers.analyse(stored, kind, limits, sheet=sheet)
        except FileRefused as refusal:
            raise InvalidInput({"file": [refusal.message]}) from refusal
        definitions = custom_definitions(session, entity)
        targets = targets_for(entity, definitions)
        signature = header_signature(entity, info.headers)
        mapping = _remembered_mapping(session, entity, signature, targets)
        job = ImportJob(
            entity=entity,
            status="uploaded",
            file_name=(file_name or "upload").strip()[:255] or "upload",
            file_kind=kind,
            file_size=size,
            encoding=info.encoding,
            delimiter=info.delimiter,
            sheet_name=(info.sheet_name or None) and info.sheet_name[:100],
            notices=info.notices
            + (
                [_("The columns were mapped as in your last import with the same columns.")]
                if mapping is not None
                else []
            ),
            headers=info.headers,
            header_signature=signature,
            total_rows=info.total_rows,
            mapping=mapping if mapping is not None else guess_mapping(info.headers, targets),
            dedup_policy="skip",
            match_on=[MATCH_KEYS[entity][0]],
            created_by_id=actor.user_id,
        )
        if mapping is not None or policy is not None or match_on is not None:
            settings = check_settings(session, job, mapping, policy, match_on)
            job.mapping, job.dedup_policy = settings.mapping, settings.policy
            job.match_on, job.status = settings.match_on, "mapped"
        session.add(job)
        session.flush()
        _store_file(session, job.id, stored)
    session.commit()
    return job


@contextmanager
def stored_file(session: DbSession, job: ImportJob, max_bytes: int | None = None) -> Iterator[Path]:
    """The job's file in a temporary file (its first ``max_bytes`` only, when given),
    removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="crm-import-"))
    try:
        path = tmp / ("workbook.xlsx" if job.file_kind == "xlsx" else "data.csv")
        written = 0
        with path.open("wb") as out:
            rows = session.execute(
                select(ImportFileChunk.data)
                .where(ImportFileChunk.job_id == job.id)
                .order_by(ImportFileChunk.seq)
                .execution_options(yield_per=4)
            )
            for (data,) in rows:
                out.write(data)
                written += len(data)
                if max_bytes is not None and written >= max_bytes:
                    break
            rows.close()
        yield path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- mapping


def targets(session: DbSession, entity: str) -> list[Target]:
    """What a column of an ``entity`` file may map to in this workspace."""
    return targets_for(entity, custom_definitions(session, entity))


@dataclasses.dataclass(frozen=True)
class Settings:
    """How a job is to run: a target per column, the duplicate policy and match keys."""

    mapping: list[str | None]
    policy: str
    match_on: list[str]


def check_settings(
    session: DbSession,
    job: ImportJob,
    mapping: Any = None,
    policy: Any = None,
    match_on: Any = None,
) -> Settings:
    """The job's settings with the given ones applied, or InvalidInput naming each bad
    one. ``mapping`` is a list (a target or None per column) or an object of column
    name -> target (columns not named are ignored)."""
    errors: dict[str, list[str]] = {}
    chosen: list[str | None] = list(job.mapping)
    if mapping is not None:
        if isinstance(mapping, dict):
            unknown = sorted(set(mapping) - set(job.headers))
            if unknown:
                errors["mapping"] = [
                    _("The file has no column named %(names)s.", names=", ".join(map(str, unknown)))
                ]
            chosen = [mapping.get(h) for h in job.headers]
        elif isinstance(mapping, list) and len(mapping) == len(job.headers):
            chosen = list(mapping)
        else:
            errors["mapping"] = [_("Give one field (or null) per column.")]
        if any(m is not None and not isinstance(m, str) for m in chosen):
            errors["mapping"] = [_("Each column maps to a field name or to null.")]
        chosen = [m or None for m in chosen if m is None or isinstance(m, str)]
    if "mapping" not in errors:
        try:
            check_mapping(job.entity, chosen, targets(session, job.entity))
        except InvalidInput as refusal:
            errors.update(refusal.details)
    chosen_policy = job.dedup_policy if policy is None else policy
    if chosen_policy not in DEDUP_POLICIES:
        errors["dedup_policy"] = [_("Choose skip, update or create.")]
    keys = MATCH_KEYS[job.entity]
    chosen_match = list(job.match_on) if match_on is None else match_on
    if (
        not isinstance(chosen_match, list)
        or not all(isinstance(k, str) and k in keys for k in chosen_match)
        or (not chosen_match and chosen_policy != "create")
    ):
        errors["match_on"] = [_("Match on one or more of: %(keys)s.", keys=", ".join(keys))]
    if errors:
        raise InvalidInput(errors)
    ordered = [k for k in keys if k in chosen_match]
    return Settings(chosen, str(chosen_policy), ordered)


def save_settings(session: DbSession, actor: Actor, job: ImportJob, settings: Settings) -> None:
    """Keep the settings on a job that has not started (status "mapped")."""
    _require_startable(job)
    job.mapping = settings.mapping
    job.dedup_policy = settings.policy
    job.match_on = settings.match_on
    if job.status == "uploaded":
        job.status = "mapped"
    session.commit()


def _remember(session: DbSession, actor: Actor, job: ImportJob) -> None:
    stmt = pg_insert(ImportMapping).values(
        entity=job.entity,
        header_signature=job.header_signature,
        headers=job.headers,
        mapping=job.mapping,
        updated_by_id=actor.user_id,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ImportMapping.entity, ImportMapping.header_signature],
            set_={
                "mapping": stmt.excluded.mapping,
                "headers": stmt.excluded.headers,
                "updated_by_id": stmt.excluded.updated_by_id,
                "updated_at": func.now(),
            },
        )
    )


# --------------------------------------------------------------------------- preview


@dataclasses.dataclass
class PreviewRow:
    """One previewed row: its cells, what would happen, and why."""

    number: int
    cells: list[str]
    outcome: str  # create, update, skip or fail
    messages: list[str]


def preview(
    session: DbSession, actor: Actor, job: ImportJob, settings: Settings, limit: int = PREVIEW_ROWS
) -> list[PreviewRow]:
    """The first ``limit`` rows validated with ``settings`` and matched against the
    workspace (and each other), as the import would treat them. Writes nothing."""
    rows: list[tuple[int, list[readers.Cell]]] = []
    partial = job.file_kind == "csv"
    with stored_file(session, job, max_bytes=4 * CHUNK_BYTES if partial else None) as path:
        try:
            with readers.open_rows(path, file_info(job), read_limits()) as source:
                rows = list(itertools.islice(source, limit))
        except FileRefused:
            if not partial:
                raise
            # A CSV's first pieces may end inside a character or a quoted cell: the
            # rows read before that point are the preview.
    importer = _Importer(session, actor, job, settings, runner="")
    outcomes = importer.outcomes(rows)
    session.rollback()
    return sorted(
        (
            PreviewRow(number, [display_cell(c) for c in cells], outcome, messages)
            for number, cells, outcome, messages in outcomes
        ),
        key=lambda row: row.number,
    )


# ------------------------------------------------------------------------ start/stop


def _require_startable(job: ImportJob) -> None:
    if job.status not in ("uploaded", "mapped", "failed"):
        raise InvalidInput(
            {"status": [_("This import is %(status)s; it can not be started.", status=job.status)]}
        )


def start(session: DbSession, actor: Actor, job: ImportJob, settings: Settings) -> ImportJob:
    """Remember the mapping, reserve the plan's allowance for the rows still to import
    and queue the job. At the plan's cap this raises
    :class:`billing.limits.PlanLimitExceeded` and writes nothing. A failed job resumes
    after its last imported row, with the settings it had."""
    # Locked first: two starts of one job at once must not both reserve and queue it.
    locked = session.get(ImportJob, job.id, with_for_update=True, populate_existing=True)
    assert locked is not None
    job = locked
    _require_startable(job)
    if not may_import(actor, job.entity):
        raise InvalidInput({"entity": [_("Your role may not import these records.")]})
    if job.processed_rows:
        settings = Settings(list(job.mapping), job.dedup_policy, list(job.match_on))
    job.mapping = settings.mapping
    job.dedup_policy = settings.policy
    job.match_on = settings.match_on
    _remember(session, actor, job)
    remaining = job.total_rows - job.processed_rows
    if job.entity == "contact" and remaining > 0:
        try:
            plan_limits.reserve(session, "contacts", remaining)
        except plan_limits.PlanLimitExceeded:
            session.rollback()
            raise
        job.reserved = remaining
    job.status = "queued"
    job.error = None
    job.finished_at = None
    job_id = job.id  # read before the commit expires it: no transaction left open
    session.commit()
    from app.imports.tasks import run_import

    run_import.delay(job_id)
    session.refresh(job)
    return job


def _give_back(session: DbSession, job: ImportJob) -> None:
    """Return the allowance the job holds and has not used (job row locked)."""
    if job.entity == "contact" and job.reserved > 0:
        plan_limits.release(session, "contacts", job.reserved)
    job.reserved = 0


def _audit(session: DbSession, actor_id: int | None, job: ImportJob, action: str) -> None:
    record(
        session,
        actor_id=actor_id,
        action=action,
        entity="import",
        entity_id=job.id,
        changes={
            "file_name": job.file_name,
            "entity": job.entity,
            "rows": job.total_rows,
            "created": job.created_count,
            "updated": job.updated_count,
            "skipped": job.skipped_count,
            "failed": job.failed_count,
            "dedup_policy": job.dedup_policy,
        },
    )


def cancel(session: DbSession, actor: Actor, job: ImportJob) -> ImportJob:
    """Stop a job: a running one stops after the chunk it is writing (rows imported so
    far stay, and are in the report); the allowance it holds is given back and its file
    deleted."""
    locked = session.get(ImportJob, job.id, with_for_update=True, populate_existing=True)
    assert locked is not None
    if locked.status in ("done", "cancelled"):
        raise InvalidInput(
            {"status": [_("This import is %(status)s already.", status=locked.status)]}
        )
    was_active = locked.status in ACTIVE_STATUSES
    _give_back(session, locked)
    locked.status = "cancelled"
    locked.runner = None
    locked.finished_at = utcnow()
    session.execute(delete(ImportFileChunk).where(ImportFileChunk.job_id == locked.id))
    if was_active or locked.processed_rows:
        _audit(session, actor.user_id, locked, "import_cancelled")
    session.commit()
    return locked


# ------------------------------------------------------------------------------- run


def _claim(session: DbSession, job_id: int, runner: str) -> ImportJob | None:
    job = session.get(ImportJob, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status not in ACTIVE_STATUSES:
        session.rollback()
        return None
    now = utcnow()
    if (
        job.status == "running"
        and job.runner != runner
        and job.heartbeat_at is not None
        and now - job.heartbeat_at < STALE_AFTER
    ):
        session.rollback()  # another run is alive and owns it
        return None
    job.status = "running"
    job.runner = runner
    job.heartbeat_at = now
    job.started_at = job.started_at or now
    session.commit()
    return job


def fail(session: DbSession, job_id: int, code: str, message: str) -> None:
    """Mark a job failed as a whole (it can be started again to resume), giving back
    the allowance it holds."""
    session.rollback()
    job = session.get(ImportJob, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status not in ACTIVE_STATUSES:
        session.rollback()
        return
    _give_back(session, job)
    job.status = "failed"
    job.runner = None
    job.error = {"code": code, "message": message, "details": {}}
    job.finished_at = utcnow()
    _audit(session, job.created_by_id, job, "import_failed")
    session.commit()


def _finish(session: DbSession, job_id: int, runner: str) -> None:
    job = session.get(ImportJob, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status != "running" or job.runner != runner:
        session.rollback()
        return
    _give_back(session, job)
    job.status = "done"
    job.runner = None
    job.finished_at = utcnow()
    session.execute(delete(ImportFileChunk).where(ImportFileChunk.job_id == job.id))
    _audit(session, job.created_by_id, job, "imported")
    session.commit()


def run(session: DbSession, job_id: int, runner: str | None = None) -> str | None:
    """Import a queued job (or resume one whose run died); returns its status after.

    Each chunk is one transaction holding the job row: its rows, their timeline
    events, their report lines and the job's counters are written together, so the
    progress shown is always what is written, and a run that stops loses at most the
    chunk it was writing (the next run starts after the last committed row)."""
    runner = runner or str(uuid.uuid4())
    job = _claim(session, job_id, runner)
    if job is None:
        return None
    tenant = require_tenant()
    membership = active_membership(session, job.created_by_id, tenant.id)
    if membership is None:
        fail(session, job_id, "member_inactive", _("The member who started this import left."))
        return "failed"
    actor = actor_for(job.created_by_id, membership.role)
    settings = Settings(list(job.mapping), job.dedup_policy, list(job.match_on))
    skip = job.processed_rows
    chunk_rows = setting("IMPORT_CHUNK_ROWS")
    try:
        with stored_file(session, job) as path:
            importer = _Importer(session, actor, job, settings, runner)
            chunks = _parse_ahead(path, file_info(job), importer.validator, skip, chunk_rows)
            try:
                for chunk, results in chunks:
                    if not importer.write_chunk(chunk, results):
                        return _status(session, job_id)
            finally:
                chunks.close()  # stops the reading thread, whatever happened
    except FileRefused as refusal:
        fail(session, job_id, "file_refused", refusal.message)
        return "failed"
    _finish(session, job_id, runner)
    return _status(session, job_id)


def _batches(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


# A row that failed validation: its number, its cells and the reason.
_RowFailure = tuple[int, list[readers.Cell], str]
_END = object()


def parse_rows(
    validator: RowValidator, rows: Sequence[tuple[int, list[readers.Cell]]]
) -> list[ParsedRow | _RowFailure]:
    """Each row validated: its values, or why it can not be imported."""
    results: list[ParsedRow | _RowFailure] = []
    for number, cells in rows:
        try:
            results.append(validator.parse(number, cells))
        except RowInvalid as invalid:
            results.append((number, cells, invalid.reason))
    return results


def _parse_ahead(
    path: Path, info: FileInfo, validator: RowValidator, skip: int, size: int
) -> Generator[tuple[list[Any], list[ParsedRow | _RowFailure]], None, None]:
    """The file's chunks after the first ``skip`` rows, each with its rows validated.

    A thread reads and validates the next chunk while the caller writes the current
    one: the writing is mostly waiting for PostgreSQL, and validation never touches the
    database (members and custom fields were loaded before), so the two overlap. At
    most one chunk waits ready, so memory stays at two chunks.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    tenant = require_tenant()
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        last: Any = _END
        try:
            with (
                app.app_context(),
                tenant_context(tenant),
                readers.open_rows(path, info, read_limits()) as rows,
            ):
                for chunk in _batches(itertools.islice(rows, skip, None), size):
                    if not hand_over((chunk, parse_rows(validator, chunk))):
                        return
        except BaseException as exc:  # handed to the caller's thread, raised there
            last = exc
        hand_over(last)

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)


def _status(session: DbSession, job_id: int) -> str | None:
    session.rollback()
    return session.scalar(select(ImportJob.status).where(ImportJob.id == job_id))


# ------------------------------------------------------------------- the row writer


@dataclasses.dataclass
class _Slot:
    """A record a row lands in: an existing one (``existing`` holds its values) or one
    created by an earlier row of the chunk (``new`` indexes the creates)."""

    existing: dict[str, Any] | None = None
    new: int | None = None
    first_row: int = 0
    changed: bool = False


_UPDATABLE = {
    "contact": (
        "first_name", "last_name", "email", "phone", "title", "company_name", "company_id",
        "source", "birthday", "tags", "notes", "owner_id", "custom_fields",
    ),
    "company": (
        "name", "domain", "industry", "size", "address", "phone", "notes", "tags", "owner_id",
        "custom_fields",
    ),
}  # fmt: skip
_COPY_COLUMNS = {
    "contact": (
        "id", "first_name", "last_name", "email", "phone", "title", "company_name",
        "company_id", "source", "birthday", "tags", "custom_fields", "notes", "owner_id",
        "created_by_id",
    ),
    "company": (
        "id", "name", "domain", "industry", "size", "address", "phone", "notes", "tags",
        "custom_fields", "owner_id", "created_by_id",
    ),
}  # fmt: skip
_MODELS: dict[str, Any] = {"contact": Contact, "company": Company}


def _any(values: Iterable[str]) -> Any:
    """``= ANY(:array)``: one parameter for thousands of keys (an ``IN`` list would be
    thousands of parameters to bind and parse per chunk)."""
    return any_(bindparam(None, sorted(values), type_=ARRAY(Text)))


def _digits(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = "".join(ch for ch in phone if "0" <= ch <= "9")
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    """``value`` in COPY's text format. psycopg's ``write_row`` adapts value by value in
    Python, which cost more than the rest of the write; these are the few shapes an
    import writes."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_COPY_ESCAPES)
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Jsonb):
        if not value.obj:
            return "{}" if isinstance(value.obj, dict) else "[]"
        return json.dumps(json_value(value.obj), ensure_ascii=False).translate(_COPY_ESCAPES)
    if isinstance(value, list):  # a text[] (tags): quoted elements, then COPY escaping
        items = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value)
        return ("{" + ",".join(items) + "}").translate(_COPY_ESCAPES)
    raise TypeError(f"no COPY form for {type(value).__name__}")


def _copy(session: DbSession, statement: str, rows: Iterable[Sequence[Any]]) -> None:
    """``COPY ... FROM STDIN`` of ``rows`` on the session's connection (its transaction,
    its tenant binding), written 1 MiB at a time."""
    connection: Any = session.connection().connection.driver_connection
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        block: list[str] = []
        size = 0
        for row in rows:
            # Plain text and nulls (most values) skip the function call.
            line = (
                "\t".join(
                    [
                        v
                        if v.__class__ is str and not _COPY_SPECIAL.search(v)
                        else ("\\N" if v is None else _copy_value(v))
                        for v in row
                    ]
                )
                + "\n"
            )
            block.append(line)
            size += len(line)
            if size >= CHUNK_BYTES:
                copy.write("".join(block).encode())
                block, size = [], 0
        if block:
            copy.write("".join(block).encode())


class _Importer:
    """Decides and writes what happens to the rows of one job, chunk by chunk."""

    def __init__(
        self, session: DbSession, actor: Actor, job: ImportJob, settings: Settings, runner: str
    ) -> None:
        self.session = session
        self.actor = actor
        self.job_id = job.id
        self.entity = job.entity
        self.resource = RESOURCES[job.entity]
        self.runner = runner
        self.settings = settings
        self.model = _MODELS[job.entity]
        self.definitions = custom_definitions(session, job.entity)
        self.validator = VALIDATORS[job.entity](
            session, actor, job.headers, settings.mapping, self.definitions
        )
        self.owner_mapped = "owner" in settings.mapping
        self.company_mapped = "company" in settings.mapping
        self._clean_values: Any = None
        if self.definitions:
            from app.custom_fields.services import clean_values

            self._clean_values = clean_values

    # -- matching

    def keys(self, values: dict[str, Any]) -> dict[str, Any]:
        """The row's match keys (only those chosen, only those it has)."""
        found: dict[str, Any] = {}
        for kind in self.settings.match_on:
            if kind == "email" and values.get("email"):
                found[kind] = values["email"].lower()
            elif kind == "phone":
                digits = _digits(values.get("phone"))
                if digits:
                    found[kind] = digits
            elif kind == "name_company" and (values.get("first_name") or values.get("last_name")):
                found[kind] = (
                    (values.get("first_name") or "").lower(),
                    (values.get("last_name") or "").lower(),
                    (values.get("company_name") or "").lower(),
                )
            elif kind == "domain" and values.get("domain"):
                found[kind] = values["domain"].lower()
            elif kind == "name" and values.get("name"):
                found[kind] = values["name"].lower()
        return found

    def existing(self, rows: Sequence[ParsedRow]) -> dict[tuple[str, Any], dict[str, Any]]:
        """Records the actor may see that match any row's keys, by (kind, key); the
        lowest id wins when several share a key."""
        wanted: dict[str, set[Any]] = {}
        for row in rows:
            for kind, key in self.keys(row.values).items():
                wanted.setdefault(kind, set()).add(key)
        if not wanted:
            return {}
        model = self.model
        conditions = []
        if wanted.get("email"):
            conditions.append(func.lower(model.email) == _any(wanted["email"]))
        if wanted.get("phone"):
            digits = getattr(model, "phone_digits", None)
            if digits is None:
                digits = func.nullif(func.regexp_replace(model.phone, "[^0-9]", "", "g"), "")
            conditions.append(digits == _any(wanted["phone"]))
        if wanted.get("name_company"):
            pairs = sorted({(last, first) for first, last, _company in wanted["name_company"]})
            conditions.append(
                tuple_(func.lower(model.last_name), func.lower(model.first_name)).in_(pairs)
            )
        if wanted.get("domain"):
            conditions.append(model.domain == _any(wanted["domain"]))
        if wanted.get("name"):
            conditions.append(func.lower(model.name) == _any(wanted["name"]))
        columns = [model.id, *(getattr(model, name) for name in _UPDATABLE[self.entity])]
        stmt = apply_record_scope(
            select(*columns).where(or_(*conditions)).order_by(model.id),
            self.actor,
            self.resource,
            "view",
            model.owner_id,
        )
        found: dict[tuple[str, Any], dict[str, Any]] = {}
        for record_row in self.session.execute(stmt).mappings():
            values = dict(record_row)
            for kind, key in self.keys(values).items():
                if key in wanted.get(kind, ()):
                    found.setdefault((kind, key), values)
        return found

    def company_links(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Company ids by lower-case name, for the names that name exactly one company
        the actor may see (a contact's company column links it to that record)."""
        names = sorted({r["company_name"].lower() for r in rows if r.get("company_name")})
        if not names or not may(self.actor, "companies", "view"):
            return {}
        stmt = apply_record_scope(
            select(func.lower(Company.name), func.min(Company.id), func.count())
            .where(func.lower(Company.name) == _any(names))
            .group_by(func.lower(Company.name)),
            self.actor,
            "companies",
            "view",
            Company.owner_id,
        )
        return {name: int(cid) for name, cid, count in self.session.execute(stmt) if count == 1}

    # -- deciding

    def _merge(self, target: dict[str, Any], row: ParsedRow) -> None:
        """Apply a row's non-empty values onto ``target`` (tags are added)."""
        for name, value in row.values.items():
            if name == "owner_id" and not self.owner_mapped:
                continue
            if name == "email" and value and value.lower() == (target.get("email") or "").lower():
                continue  # the same address in another case is not a change
            if name == "phone" and value and _digits(value) == _digits(target.get("phone")):
                continue  # nor is the same number written another way
            if name == "tags":
                if value:
                    target["tags"] = list(dict.fromkeys([*(target.get("tags") or []), *value]))
                continue
            if value not in (None, ""):
                target[name] = value
        if row.custom:
            target.setdefault("_custom", {}).update(row.custom)

    def outcomes(
        self, rows: Sequence[tuple[int, list[readers.Cell]]]
    ) -> list[tuple[int, list[readers.Cell], str, list[str]]]:
        """What would happen to each row (the preview; writes nothing)."""
        return self._decide(rows).outcomes

    def _decide(
        self,
        rows: Sequence[tuple[int, list[readers.Cell]]],
        results: Sequence[ParsedRow | _RowFailure] | None = None,
    ) -> _Decisions:
        decisions = _Decisions()
        parsed: list[ParsedRow] = []
        for result in parse_rows(self.validator, rows) if results is None else results:
            if isinstance(result, ParsedRow):
                parsed.append(result)
            else:
                decisions.fail(*result)
        policy = self.settings.policy
        index: dict[tuple[str, Any], _Slot] = {}
        if policy != "create":
            for key, values in self.existing(parsed).items():
                slot = index.get(("id", values["id"]))
                if slot is None:
                    slot = _Slot(existing=dict(values))
                    index[("id", values["id"])] = slot
                index[key] = slot
        links = self.company_links([p.values for p in parsed]) if self.entity == "contact" else {}
        for row in parsed:
            if self.entity == "contact" and row.values.get("company_name"):
                row.values["company_id"] = links.get(row.values["company_name"].lower())
            keys = self.keys(row.values) if policy != "create" else {}
            slot = next((index[(k, v)] for k, v in keys.items() if (k, v) in index), None)
            if slot is None:
                if row.identity_error:
                    decisions.fail(row.number, row.cells, row.identity_error)
                    continue
                slot = _Slot(new=len(decisions.creates), first_row=row.number)
                decisions.create(row, slot)
            elif policy == "skip":
                decisions.skip(row, self._same_as(slot))
                continue
            elif slot.existing is not None:
                owner = slot.existing["owner_id"]
                new_owner = row.values["owner_id"] if self.owner_mapped else owner
                if not record_in_scope(self.actor, self.resource, "edit", owner) or (
                    new_owner != owner
                    and not record_in_scope(self.actor, self.resource, "edit", new_owner)
                ):
                    decisions.fail(
                        row.number,
                        row.cells,
                        _("It matches %(what)s, which you may not edit.", what=self._same_as(slot)),
                    )
                    continue
                if not slot.changed:
                    slot.changed = True
                    decisions.updates.append(slot)
                    slot.existing["_before"] = dict(slot.existing)
                self._merge(slot.existing, row)
                decisions.update(row, slot)
            else:
                assert slot.new is not None
                self._merge(decisions.creates[slot.new].values, row)
                decisions.update(row, slot)
            for key in self.keys(row.values).items():
                index.setdefault(key, slot)
        return decisions

    def _same_as(self, slot: _Slot) -> str:
        if slot.existing is not None:
            what = _("contact") if self.entity == "contact" else _("company")
            return f"{what} #{slot.existing['id']}"
        return _("row %(n)s of this file", n=slot.first_row)

    # -- writing

    def _custom_values(
        self, custom: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, Any]:
        if self._clean_values is None:
            return dict(current or {})
        cleaned: dict[str, Any] = self._clean_values(
            self.session, self.entity, custom, current=current
        )
        return cleaned

    def write_chunk(
        self,
        rows: list[tuple[int, list[readers.Cell]]],
        results: Sequence[ParsedRow | _RowFailure] | None = None,
    ) -> bool:
        """Import one chunk in one transaction (``results``: its rows already parsed);
        False when the job was cancelled or taken over (nothing is written then)."""
        session = self.session
        job = session.get(ImportJob, self.job_id, with_for_update=True, populate_existing=True)
        if job is None or job.status != "running" or job.runner != self.runner:
            session.rollback()
            return False
        decisions = self._decide(rows, results)
        creates: list[dict[str, Any]] = []
        for row in decisions.creates:
            custom = row.custom | row.values.pop("_custom", {})
            try:
                row.values["custom_fields"] = self._custom_values(custom, None)
            except InvalidInput as refusal:
                decisions.fail_slot(row, RowInvalid(refusal.details).reason)
                continue
            creates.append(row.values)
        updates: list[dict[str, Any]] = []
        for slot in decisions.updates:
            assert slot.existing is not None
            values = slot.existing
            before = values.pop("_before")
            custom = values.pop("_custom", {})
            try:
                values["custom_fields"] = (
                    self._custom_values(custom, before["custom_fields"])
                    if custom
                    else before["custom_fields"]
                )
            except InvalidInput as refusal:
                decisions.fail_slot(slot, RowInvalid(refusal.details).reason)
                continue
            changes = {
                name: [json_value(before[name]), json_value(values[name])]
                for name in _UPDATABLE[self.entity]
                if values[name] != before[name]
            }
            if changes:
                updates.append({"id": values["id"], "changes": changes, "values": values})
            else:
                decisions.unchanged(slot)
        created_ids = self._insert(creates)
        self._update(updates)
        self._timeline(created_ids, creates, updates)
        self._issues(decisions.issues)
        created = len(created_ids)
        if job.entity == "contact" and created > job.reserved:
            # More creates than reserved rows can only follow a resumed count drift;
            # take the difference like any other create would.
            plan_limits.reserve(session, "contacts", created - job.reserved)
            job.reserved = created
        if job.entity == "contact":
            job.reserved -= created
        job.processed_rows += len(rows)
        job.created_count += created
        # Every row has one outcome: what did not create, fail or skip updated a record.
        job.updated_count += len(rows) - created - decisions.skipped - decisions.failed
        job.skipped_count += decisions.skipped
        job.failed_count += decisions.failed
        job.heartbeat_at = utcnow()
        session.commit()
        return True

    def _insert(self, creates: list[dict[str, Any]]) -> list[int]:
        if not creates:
            return []
        table = self.model.__tablename__
        ids = [
            int(i)
            for i in self.session.scalars(
                select(func.nextval(func.pg_get_serial_sequence(table, "id"))).select_from(
                    func.generate_series(1, len(creates))
                )
            )
        ]
        columns = _COPY_COLUMNS[self.entity]
        for record_id, values in zip(ids, creates, strict=True):
            values["id"] = record_id
            values["created_by_id"] = self.actor.user_id
            values["custom_fields"] = Jsonb(values["custom_fields"])
        _copy(
            self.session,
            f"COPY {table} ({', '.join(columns)}) FROM STDIN",
            ([values.get(c) for c in columns] for values in creates),
        )
        for values in creates:
            values["custom_fields"] = values["custom_fields"].obj
        return ids

    def _update(self, updates: list[dict[str, Any]]) -> None:
        if not updates:
            return
        now = utcnow()
        params = [
            {
                "id": u["id"],
                "updated_at": now,
                **{name: u["values"][name] for name in u["changes"]},
            }
            for u in updates
        ]
        # Rows that change the same columns go in one executemany.
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for p in params:
            by_shape.setdefault(tuple(sorted(p)), []).append(p)
        for group in by_shape.values():
            self.session.execute(update(self.model), group)

    def _timeline(
        self, ids: list[int], creates: list[dict[str, Any]], updates: list[dict[str, Any]]
    ) -> None:
        link = "contact_id" if self.entity == "contact" else "company_id"
        origin = {"import_id": self.job_id}
        actor_id = self.actor.user_id

        def events() -> Iterator[list[Any]]:
            for record_id, values in zip(ids, creates, strict=True):
                name = (
                    f"{values['first_name']} {values['last_name']}".strip() or values["email"] or ""
                    if self.entity == "contact"
                    else values["name"]
                )
                data = Jsonb({"name": name, **origin})
                yield ["created", self.entity, record_id, actor_id, record_id, data]
            for u in updates:
                data = Jsonb({"changes": u["changes"], **origin})
                yield ["updated", self.entity, u["id"], actor_id, u["id"], data]

        _copy(
            self.session,
            f"COPY timeline_events (kind, entity, entity_id, actor_id, {link}, data) FROM STDIN",
            events(),
        )

    def _issues(self, issues: list[tuple[int, str, str, list[readers.Cell]]]) -> None:
        if not issues:
            return
        _copy(
            self.session,
            "COPY import_row_issues (job_id, row_number, outcome, reason, cells) FROM STDIN",
            (
                [self.job_id, number, outcome, reason, Jsonb([display_cell(c) for c in cells])]
                for number, outcome, reason, cells in issues
            ),
        )


class _Decisions:
    """The outcome of each row of a chunk. Rows that land in one record (an existing
    one, or one an earlier row creates) are kept together by slot, so that when the
    record can not be written every one of them is reported failed."""

    def __init__(self) -> None:
        self.creates: list[ParsedRow] = []
        self.updates: list[_Slot] = []
        self.issues: list[tuple[int, str, str, list[readers.Cell]]] = []
        self.outcomes: list[tuple[int, list[readers.Cell], str, list[str]]] = []
        self.rows_by_slot: dict[int, list[ParsedRow]] = {}
        self.slot_of: dict[int, _Slot] = {}
        self.skipped = 0
        self.failed = 0

    def create(self, row: ParsedRow, slot: _Slot) -> None:
        self.creates.append(row)
        self.rows_by_slot[id(slot)] = [row]
        self.slot_of[id(row)] = slot
        self.outcomes.append((row.number, row.cells, "create", []))

    def update(self, row: ParsedRow, slot: _Slot) -> None:
        self.rows_by_slot.setdefault(id(slot), []).append(row)
        what = (
            [_("Updates %(what)s.", what=f"#{slot.existing['id']}")]
            if slot.existing is not None
            else [_("Adds to row %(n)s of this file.", n=slot.first_row)]
        )
        self.outcomes.append((row.number, row.cells, "update", what))

    def skip(self, row: ParsedRow, same_as: str) -> None:
        reason = _("Duplicate of %(what)s.", what=same_as)
        self.issues.append((row.number, "skipped", reason, row.cells))
        self.outcomes.append((row.number, row.cells, "skip", [reason]))
        self.skipped += 1

    def fail(self, number: int, cells: list[readers.Cell], reason: str) -> None:
        self.issues.append((number, "failed", reason, cells))
        self.outcomes.append((number, cells, "fail", [reason]))
        self.failed += 1

    def fail_slot(self, what: ParsedRow | _Slot, reason: str) -> None:
        """The record can not be written: every row that lands in it failed."""
        slot = self.slot_of[id(what)] if isinstance(what, ParsedRow) else what
        for row in self.rows_by_slot.get(id(slot), []):
            self.fail(row.number, row.cells, reason)

    def unchanged(self, slot: _Slot) -> None:
        for row in self.rows_by_slot.get(id(slot), []):
            reason = _("Already up to date.")
            self.issues.append((row.number, "skipped", reason, row.cells))
            self.skipped += 1


def failed_rows(session: DbSession, job: ImportJob) -> Iterator[ImportRowIssue]:
    """The job's failed and skipped rows, in file order (streamed)."""
    yield from session.scalars(
        select(ImportRowIssue)
        .where(ImportRowIssue.job_id == job.id)
        .order_by(ImportRowIssue.row_number, ImportRowIssue.id)
        .execution_options(yield_per=2000)
    )


def errors_summary(session: DbSession, job: ImportJob, limit: int = 10) -> list[dict[str, Any]]:
    """The first few problem rows, for the status answer and the report page."""
    rows = session.scalars(
        select(ImportRowIssue)
        .where(ImportRowIssue.job_id == job.id, ImportRowIssue.outcome == "failed")
        .order_by(ImportRowIssue.row_number, ImportRowIssue.id)
        .limit(limit)
    )
    return [{"row": r.row_number, "reason": r.reason} for r in rows]
