"""Pipeline and stage services: the only writers of pipelines and stages.

Whoever calls (API, settings pages), every pipeline keeps a well-formed board after
every write:

- its stages sit at positions ``0..n-1`` with no gap;
- exactly one stage is ``won``, at least one is ``lost`` and at least one is ``open``
  (a deal must have somewhere to start, to win and to lose);
- probabilities are whole percentages; the won stage is 100 and lost stages are 0
  (given when omitted, refused when contradicted);
- only open stages may rot (a closed deal is not idle);
- a stage that holds deals keeps its kind (the deals' status mirrors it); deleting such
  a stage, or a pipeline with deals, names where the deals go, and they are moved in
  one set-based statement with a timeline event and an audit entry each.

Each write locks its pipeline row first (``SELECT ... FOR UPDATE``), so two admins
editing one pipeline are serialised and the invariants are checked against what is
really stored. Every stage change bumps ``Pipeline.version``; a reorder names the
version its client saw and is refused with :class:`StaleBoard` (API 409) when another
change came first, instead of mixing two orders.

Refusals are :class:`app.errors.InvalidInput` naming each field; bad input changes
nothing (the transaction is rolled back by the caller's session teardown).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm.attributes import set_committed_value

from app.access.policy import Actor
from app.audit.models import AuditEntry
from app.audit.services import record
from app.board.history import record_bulk_move
from app.database import DbSession
from app.deals.models import Deal
from app.errors import InvalidInput
from app.input_rules import CONTROL_ANY, MAX_BIGINT, UNSTORABLE
from app.pipelines.defaults import DEFAULT_COLORS, DEFAULT_STAGES
from app.pipelines.models import ROTTING_DAYS_MAX, STAGE_COLORS, STAGE_KINDS, Pipeline, Stage
from app.timeline.models import TimelineEvent
from billing import limits

NAME_MAX = 100
MAX_STAGES = 30
# What a deal moved into a lost stage by a deletion gives as its loss reason when it had
# none (a lost deal always says why; the deal services require it of people).
MOVED_LOST_REASON = "Moved when its stage was deleted"


class StaleBoard(Exception):
    """A reorder was made from an outdated view of the pipeline (API 409 ``conflict``).

    ``version`` is the pipeline's current version: the client reloads and retries.
    """

    def __init__(self, version: int) -> None:
        self.version = version
        self.message = (
            "The stages were changed by someone else since you loaded them. "
            "Reload the pipeline and try again."
        )
        super().__init__(self.message)


class _Refusals:
    """Collects per-field messages, so that one answer names every bad field."""

    def __init__(self) -> None:
        self.details: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.details.setdefault(field, []).append(message)

    def raise_any(self) -> None:
        if self.details:
            raise InvalidInput(self.details)


def _valid_id(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_BIGINT


def _name(refusals: _Refusals, field: str, value: Any) -> str | None:
    """A trimmed, storable, single-line, non-empty name."""
    if not isinstance(value, str):
        refusals.add(field, "Give a name." if value is None else "Not a valid string.")
        return None
    text = value.strip()
    if UNSTORABLE.search(text) or CONTROL_ANY.search(text):
        refusals.add(field, "Contains characters that are not allowed.")
        return None
    if not text:
        refusals.add(field, "Give a name.")
        return None
    if len(text) > NAME_MAX:
        refusals.add(field, f"At most {NAME_MAX} characters.")
        return None
    return text


# --- reads -------------------------------------------------------------------------


def list_pipelines(session: DbSession) -> list[Pipeline]:
    """Every pipeline of the workspace in board order, stages loaded in one query."""
    pipelines = list(session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id)))
    if pipelines:
        by_pipeline: dict[int, list[Stage]] = {p.id: [] for p in pipelines}
        rows = session.scalars(
            select(Stage)
            .where(Stage.pipeline_id.in_(by_pipeline))
            .order_by(Stage.pipeline_id, Stage.position)
        )
        for stage in rows:
            by_pipeline[stage.pipeline_id].append(stage)
        for pipeline in pipelines:
            # Fills the relationship without another query per pipeline.
            set_committed_value(pipeline, "stages", by_pipeline[pipeline.id])
    return pipelines


def get_pipeline(session: DbSession, pipeline_id: Any) -> Pipeline | None:
    """The pipeline, or None (also for ids that can not exist)."""
    return session.get(Pipeline, pipeline_id) if _valid_id(pipeline_id) else None


def get_stage(session: DbSession, pipeline: Pipeline, stage_id: Any) -> Stage | None:
    """The stage if it belongs to ``pipeline``; a stage of another pipeline is None, so
    that ``/pipelines/1/stages/<stage of 2>`` is "not found" like a missing one."""
    stage = session.get(Stage, stage_id) if _valid_id(stage_id) else None
    if stage is None or stage.pipeline_id != pipeline.id:
        return None
    return stage


def stages_in_order(session: DbSession, pipeline_id: int) -> list[Stage]:
    """The stages of one pipeline, first to last."""
    return list(
        session.scalars(
            select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position)
        )
    )


def stage_deal_counts(session: DbSession, pipeline_id: int) -> dict[int, int]:
    """How many deals (of anyone) each stage of the pipeline holds."""
    rows = session.execute(
        select(Deal.stage_id, func.count())
        .where(Deal.pipeline_id == pipeline_id)
        .group_by(Deal.stage_id)
    )
    return {stage_id: int(n) for stage_id, n in rows}


def is_rotting(stage: Stage, stage_entered_at: dt.datetime, now: dt.datetime) -> bool:
    """Whether a deal that entered ``stage`` at ``stage_entered_at`` is idle past the
    stage's rotting time (never for stages without one)."""
    if stage.rotting_days is None or stage.kind != "open":
        return False
    return now - stage_entered_at > dt.timedelta(days=stage.rotting_days)


# --- stage values ------------------------------------------------------------------


def _stage_values(
    refusals: _Refusals, data: dict[str, Any], current: Stage | None, prefix: str = ""
) -> dict[str, Any]:
    """Checked stage fields: all of them for a new stage (``current`` None), the given
    ones (plus what a kind change implies) for an update."""
    values: dict[str, Any] = {}
    if current is None or "name" in data:
        name = _name(refusals, f"{prefix}name", data.get("name"))
        if name is not None:
            values["name"] = name
    kind = current.kind if current is not None else "open"
    if current is None:
        values["kind"] = kind
    if "kind" in data:
        if data["kind"] not in STAGE_KINDS:
            refusals.add(f"{prefix}kind", f"Choose one of: {', '.join(STAGE_KINDS)}.")
        else:
            kind = data["kind"]
            values["kind"] = kind
    kind_changes = current is None or kind != current.kind
    fixed = {"won": 100, "lost": 0}.get(kind)
    if "probability" in data and data["probability"] is not None:
        probability = data["probability"]
        if type(probability) is not int or not 0 <= probability <= 100:
            refusals.add(f"{prefix}probability", "Give a percentage from 0 to 100.")
        elif fixed is not None and probability != fixed:
            refusals.add(
                f"{prefix}probability",
                f"A {kind} stage has a probability of {fixed}%.",
            )
        else:
            values["probability"] = probability
    elif "probability" in data or (fixed is not None and kind_changes):
        # Omitted (or null): what the kind implies; an open stage starts at 0.
        values["probability"] = fixed if fixed is not None else 0
    elif current is None:
        values["probability"] = 0
    if current is None or "color" in data:
        color = data.get("color")
        if color is None:
            values["color"] = DEFAULT_COLORS[kind] if current is None else current.color
        elif color not in STAGE_COLORS:
            refusals.add(f"{prefix}color", f"Choose one of: {', '.join(STAGE_COLORS)}.")
        else:
            values["color"] = color
    if "rotting_days" in data and data["rotting_days"] is not None:
        days = data["rotting_days"]
        if type(days) is not int or not 1 <= days <= ROTTING_DAYS_MAX:
            refusals.add(
                f"{prefix}rotting_days",
                f"Give a number of days from 1 to {ROTTING_DAYS_MAX}, or nothing.",
            )
        elif kind != "open":
            refusals.add(f"{prefix}rotting_days", "Only open stages can rot.")
        else:
            values["rotting_days"] = days
    elif "rotting_days" in data or kind != "open":
        values["rotting_days"] = None
    return values


def _check_board(refusals: _Refusals, field: str, kinds: Sequence[str]) -> None:
    """The kinds of a pipeline's stages after a change keep the board well formed."""
    won = sum(1 for k in kinds if k == "won")
    if len(kinds) > MAX_STAGES:
        refusals.add(field, f"A pipeline has at most {MAX_STAGES} stages.")
    if won != 1:
        refusals.add(field, "A pipeline has exactly one won stage.")
    if "lost" not in kinds:
        refusals.add(field, "A pipeline needs at least one lost stage.")
    if "open" not in kinds:
        refusals.add(field, "A pipeline needs at least one open stage.")


def _check_unique_names(refusals: _Refusals, field: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        folded = name.casefold()
        if folded in seen:
            refusals.add(field, f"Two stages are named {name!r}; give each its own name.")
            return
        seen.add(folded)


def _lock(session: DbSession, pipeline: Pipeline) -> list[Stage]:
    """Lock the pipeline row for this transaction and read its stages afresh, in order
    (what a concurrent writer committed before the lock is what we check against)."""
    # Fetching the row (not only running the statement) is what refreshes ``pipeline``
    # (its version) from what the lock let us see.
    session.execute(
        select(Pipeline)
        .where(Pipeline.id == pipeline.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    return list(
        session.scalars(
            select(Stage)
            .where(Stage.pipeline_id == pipeline.id)
            .order_by(Stage.position)
            .execution_options(populate_existing=True)
        )
    )


def _stage_json(stage: Stage) -> dict[str, Any]:
    return {
        "name": stage.name,
        "position": stage.position,
        "probability": stage.probability,
        "kind": stage.kind,
        "color": stage.color,
        "rotting_days": stage.rotting_days,
    }


# --- pipelines ---------------------------------------------------------------------


def create_pipeline(session: DbSession, actor: Actor, data: dict[str, Any]) -> Pipeline:
    """Create a pipeline named ``data['name']`` with ``data['stages']`` (in order) or,
    when none are given, the default stages. Takes one of the plan's pipelines (raises
    :class:`billing.limits.PlanLimitExceeded` at the cap)."""
    refusals = _Refusals()
    name = _name(refusals, "name", data.get("name"))
    given = data.get("stages")
    if given is None:
        given = [
            {"name": n, "probability": p, "kind": k, "color": DEFAULT_COLORS[k]}
            for n, p, k in DEFAULT_STAGES
        ]
    if not isinstance(given, list):
        refusals.add("stages", "Give the stages as a list.")
        given = []
    stage_values: list[dict[str, Any]] = []
    for index, item in enumerate(given):
        if not isinstance(item, dict):
            refusals.add(f"stages.{index}", "Give each stage as an object.")
            continue
        stage_values.append(_stage_values(refusals, item, None, prefix=f"stages.{index}."))
    if not refusals.details:
        _check_board(refusals, "stages", [v["kind"] for v in stage_values])
        _check_unique_names(refusals, "stages", [v["name"] for v in stage_values])
    if name is not None and _pipeline_named(session, name, None):
        refusals.add("name", "Another pipeline has this name.")
    refusals.raise_any()
    limits.reserve(session, "pipelines")
    last = session.scalar(select(func.max(Pipeline.position)))
    has_default = session.scalar(select(Pipeline.id).where(Pipeline.is_default).limit(1))
    pipeline = Pipeline(
        name=name,
        position=(last + 1) if last is not None else 0,
        is_default=has_default is None or bool(data.get("is_default")),
        version=1,
    )
    if pipeline.is_default and has_default is not None:
        session.execute(update(Pipeline).where(Pipeline.is_default).values(is_default=False))
    session.add(pipeline)
    session.flush()
    for position, values in enumerate(stage_values):
        session.add(Stage(pipeline_id=pipeline.id, position=position, **values))
    session.flush()
    record(
        session,
        actor_id=actor.user_id,
        action="created",
        entity="pipeline",
        entity_id=pipeline.id,
        changes={
            "name": [None, pipeline.name],
            "stages": [None, [v["name"] for v in stage_values]],
        },
    )
    session.commit()
    return pipeline


def _pipeline_named(session: DbSession, name: str, other_than: int | None) -> bool:
    stmt = select(Pipeline.id).where(func.lower(Pipeline.name) == name.lower())
    if other_than is not None:
        stmt = stmt.where(Pipeline.id != other_than)
    return session.scalar(stmt.limit(1)) is not None


def update_pipeline(
    session: DbSession, actor: Actor, pipeline: Pipeline, data: dict[str, Any]
) -> Pipeline:
    """Rename a pipeline and/or make it the default one (``is_default: true``; the
    default can only be handed over, not switched off)."""
    refusals = _Refusals()
    new: dict[str, Any] = {}
    if "name" in data:
        name = _name(refusals, "name", data["name"])
        if name is not None and _pipeline_named(session, name, pipeline.id):
            refusals.add("name", "Another pipeline has this name.")
        new["name"] = name
    if "is_default" in data:
        if data["is_default"] is True:
            new["is_default"] = True
        elif data["is_default"] is False and pipeline.is_default:
            refusals.add(
                "is_default", "Make another pipeline the default; this one then stops being it."
            )
        elif not isinstance(data["is_default"], bool):
            refusals.add("is_default", "Not a valid boolean.")
    refusals.raise_any()
    _lock(session, pipeline)
    diff = {k: [getattr(pipeline, k), v] for k, v in new.items() if getattr(pipeline, k) != v}
    if not diff:
        session.commit()
        return pipeline
    if diff.get("is_default"):
        session.execute(
            update(Pipeline)
            .where(Pipeline.is_default, Pipeline.id != pipeline.id)
            .values(is_default=False)
        )
    for key, (_old, value) in diff.items():
        setattr(pipeline, key, value)
    record(
        session,
        actor_id=actor.user_id,
        action="updated",
        entity="pipeline",
        entity_id=pipeline.id,
        changes=diff,
    )
    session.commit()
    return pipeline


def delete_pipeline(
    session: DbSession, actor: Actor, pipeline: Pipeline, move_to_stage_id: Any = None
) -> int:
    """Delete a pipeline with its stages; returns how many deals were moved.

    A workspace keeps at least one pipeline. Deals of the pipeline go to
    ``move_to_stage_id`` (a stage of another pipeline; required when there are deals).
    Deleting the default pipeline makes the next one the default. Gives the plan's
    pipeline back.
    """
    _lock(session, pipeline)
    refusals = _Refusals()
    others = list(
        session.scalars(
            select(Pipeline)
            .where(Pipeline.id != pipeline.id)
            .order_by(Pipeline.position, Pipeline.id)
        )
    )
    if not others:
        refusals.add("pipeline", "A workspace keeps at least one pipeline.")
        refusals.raise_any()
    deal_count = int(
        session.scalar(
            select(func.count()).select_from(Deal).where(Deal.pipeline_id == pipeline.id)
        )
        or 0
    )
    target: Stage | None = None
    if move_to_stage_id is not None:
        target = session.get(Stage, move_to_stage_id) if _valid_id(move_to_stage_id) else None
        if target is None:
            refusals.add("move_to_stage_id", "No such stage.")
        elif target.pipeline_id == pipeline.id:
            refusals.add("move_to_stage_id", "Choose a stage of another pipeline.")
    elif deal_count:
        refusals.add(
            "move_to_stage_id",
            f"This pipeline holds {deal_count} deals; choose a stage of another pipeline "
            "to move them to.",
        )
    refusals.raise_any()
    moved = 0
    if target is not None and deal_count:
        moved = _move_deals(session, actor, Deal.pipeline_id == pipeline.id, target)
    if pipeline.is_default:
        others[0].is_default = True
    record(
        session,
        actor_id=actor.user_id,
        action="deleted",
        entity="pipeline",
        entity_id=pipeline.id,
        changes={
            "name": [pipeline.name, None],
            "moved_deals": [None, moved],
            "move_to_stage_id": [None, target.id if target is not None else None],
        },
    )
    session.delete(pipeline)
    limits.release(session, "pipelines")
    session.commit()
    return moved


# --- stages ------------------------------------------------------------------------


def add_stage(session: DbSession, actor: Actor, pipeline: Pipeline, data: dict[str, Any]) -> Stage:
    """Add a stage at ``data['position']`` (0..n; default: after the last open stage,
    so that won and lost stay at the end) and shift the following ones."""
    stages = _lock(session, pipeline)
    refusals = _Refusals()
    values = _stage_values(refusals, data, None)
    position = data.get("position")
    if position is None:
        open_positions = [s.position for s in stages if s.kind == "open"]
        position = (max(open_positions) + 1) if open_positions else len(stages)
    elif type(position) is not int or not 0 <= position <= len(stages):
        refusals.add("position", f"Give a position from 0 to {len(stages)}.")
    if "kind" in values and values["kind"] == "won":
        refusals.add(
            "kind",
            "A pipeline has exactly one won stage; turn an existing stage into the won "
            "stage instead.",
        )
    if "name" in values:
        _check_unique_names(refusals, "name", [*(s.name for s in stages), values["name"]])
    if len(stages) + 1 > MAX_STAGES:
        refusals.add("pipeline", f"A pipeline has at most {MAX_STAGES} stages.")
    refusals.raise_any()
    for stage in stages:
        if stage.position >= position:
            stage.position += 1
    stage = Stage(pipeline_id=pipeline.id, position=position, **values)
    session.add(stage)
    pipeline.version += 1
    session.flush()
    record(
        session,
        actor_id=actor.user_id,
        action="created",
        entity="stage",
        entity_id=stage.id,
        changes={"pipeline_id": [None, pipeline.id], **_created(_stage_json(stage))},
    )
    session.commit()
    return stage


def _created(values: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [None, v] for k, v in values.items() if v is not None}


def update_stage(
    session: DbSession, actor: Actor, pipeline: Pipeline, stage: Stage, data: dict[str, Any]
) -> Stage:
    """Rename, recolour, re-weigh or re-kind a stage, or set its rotting time.

    A stage holding deals keeps its kind (their status mirrors it). Making a stage the
    won stage turns the previous won stage into an open one (refused when that one
    holds deals), so that "exactly one won" holds without an impossible two-step.
    """
    stages = _lock(session, pipeline)
    refusals = _Refusals()
    values = _stage_values(refusals, data, stage)
    if "name" in values:
        _check_unique_names(
            refusals, "name", [*(s.name for s in stages if s.id != stage.id), values["name"]]
        )
    counts = stage_deal_counts(session, pipeline.id)
    demoted: Stage | None = None
    if values.get("kind", stage.kind) != stage.kind:
        if counts.get(stage.id):
            refusals.add(
                "kind",
                f"This stage holds {counts[stage.id]} deals; move them before changing its kind.",
            )
        kinds = {s.id: s.kind for s in stages}
        kinds[stage.id] = values["kind"]
        if values["kind"] == "won":
            demoted = next(s for s in stages if s.kind == "won" and s.id != stage.id)
            kinds[demoted.id] = "open"
            if counts.get(demoted.id):
                refusals.add(
                    "kind",
                    f"The won stage {demoted.name!r} holds {counts[demoted.id]} deals; move "
                    "them before choosing another won stage.",
                )
        board = _Refusals()
        _check_board(board, "kind", list(kinds.values()))
        for message in board.details.get("kind", []):
            refusals.add("kind", message)
    refusals.raise_any()
    before = _stage_json(stage)
    if demoted is not None:
        # Written first: one won stage at every moment of the transaction.
        demoted.kind = "open"
        demoted.rotting_days = None
        session.flush()
        record(
            session,
            actor_id=actor.user_id,
            action="updated",
            entity="stage",
            entity_id=demoted.id,
            changes={"kind": ["won", "open"]},
        )
    for key, value in values.items():
        setattr(stage, key, value)
    after = _stage_json(stage)
    diff = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    if diff or demoted is not None:
        pipeline.version += 1
        record(
            session,
            actor_id=actor.user_id,
            action="updated",
            entity="stage",
            entity_id=stage.id,
            changes=diff,
        )
    session.commit()
    return stage


def reorder_stages(
    session: DbSession, actor: Actor, pipeline: Pipeline, stage_ids: Any, version: Any
) -> Pipeline:
    """Put the pipeline's stages in the order of ``stage_ids`` (every stage once).

    ``version`` is the pipeline version the client saw: when another change came in
    between, :class:`StaleBoard` is raised and nothing changes.
    """
    stages = _lock(session, pipeline)
    refusals = _Refusals()
    if type(version) is not int:
        refusals.add("version", "Give the pipeline version you loaded.")
    if not isinstance(stage_ids, list) or not all(_valid_id(i) for i in stage_ids):
        refusals.add("stage_ids", "Give the stage ids as a list.")
    refusals.raise_any()
    if version != pipeline.version:
        raise StaleBoard(pipeline.version)
    by_id = {s.id: s for s in stages}
    foreign = [i for i in stage_ids if i not in by_id]
    if foreign:
        refusals.add(
            "stage_ids", f"Not stages of this pipeline: {', '.join(map(str, foreign[:10]))}."
        )
    if len(set(stage_ids)) != len(stage_ids):
        refusals.add("stage_ids", "Name each stage once.")
    missing = [s.id for s in stages if s.id not in stage_ids]
    if missing and not foreign:
        refusals.add(
            "stage_ids",
            f"Name every stage of the pipeline; missing: {', '.join(map(str, missing))}.",
        )
    refusals.raise_any()
    before = [s.id for s in stages]
    if before == stage_ids:
        session.commit()
        return pipeline
    # The (pipeline_id, position) constraint is checked at commit, so swaps are fine.
    for position, stage_id in enumerate(stage_ids):
        by_id[stage_id].position = position
    pipeline.version += 1
    record(
        session,
        actor_id=actor.user_id,
        action="reordered",
        entity="pipeline",
        entity_id=pipeline.id,
        changes={"stage_ids": [before, list(stage_ids)]},
    )
    session.commit()
    return pipeline


def delete_stage(
    session: DbSession,
    actor: Actor,
    pipeline: Pipeline,
    stage: Stage,
    move_to_stage_id: Any = None,
) -> int:
    """Delete a stage; returns how many deals were moved.

    The won stage, the last lost and the last open stage can not go. A stage holding
    deals needs ``move_to_stage_id``, another stage of the same pipeline: its deals go
    there and take its kind as their status.
    """
    stages = _lock(session, pipeline)
    refusals = _Refusals()
    rest = [s for s in stages if s.id != stage.id]
    if stage.kind == "won":
        refusals.add(
            "stage",
            "A pipeline keeps its won stage; make another stage the won stage first.",
        )
    elif stage.kind == "lost" and not any(s.kind == "lost" for s in rest):
        refusals.add("stage", "A pipeline keeps at least one lost stage.")
    elif stage.kind == "open" and not any(s.kind == "open" for s in rest):
        refusals.add("stage", "A pipeline keeps at least one open stage.")
    deal_count = stage_deal_counts(session, pipeline.id).get(stage.id, 0)
    target: Stage | None = None
    if move_to_stage_id is not None:
        target = get_stage(session, pipeline, move_to_stage_id)
        if target is None:
            refusals.add("move_to_stage_id", "Choose another stage of this pipeline.")
        elif target.id == stage.id:
            refusals.add("move_to_stage_id", "Choose another stage than the one you delete.")
    elif deal_count:
        refusals.add(
            "move_to_stage_id",
            f"This stage holds {deal_count} deals; choose the stage to move them to.",
        )
    refusals.raise_any()
    moved = 0
    if target is not None and deal_count:
        moved = _move_deals(session, actor, Deal.stage_id == stage.id, target)
    record(
        session,
        actor_id=actor.user_id,
        action="deleted",
        entity="stage",
        entity_id=stage.id,
        changes={
            **{k: [v, None] for k, v in _stage_json(stage).items()},
            "pipeline_id": [pipeline.id, None],
            "moved_deals": [None, moved],
            "move_to_stage_id": [None, target.id if target is not None else None],
        },
    )
    session.delete(stage)
    session.flush()
    for position, kept in enumerate(rest):
        kept.position = position
    pipeline.version += 1
    session.commit()
    return moved


# --- moving deals ------------------------------------------------------------------


def _move_deals(session: DbSession, actor: Actor, which: Any, target: Stage) -> int:
    """Move the deals matching ``which`` into ``target`` in four set-based statements:
    one "stage_changed" timeline event, one audit entry and one stage-history row per
    deal (written first, from the deals' old values), then the deals themselves. A
    deal's status becomes the target's kind; one that changes status gets the closing
    fields the deal services would give it (closed now; won amount = amount; lost with
    a reason)."""
    source = Stage.__table__.alias("source")
    now = func.now()
    seconds = func.greatest(0, cast(func.extract("epoch", now - Deal.stage_entered_at), Integer))
    to_stage = func.jsonb_build_object("id", target.id, "name", target.name)
    event_data = func.jsonb_build_object(
        "from_stage",
        func.jsonb_build_object("id", source.c.id, "name", source.c.name),
        "to_stage",
        to_stage,
        "seconds_in_stage",
        seconds,
        "from_status",
        Deal.status,
        "to_status",
        target.kind,
        "reason",
        "stage_deleted",
    )
    moved = select(Deal).join(source, source.c.id == Deal.stage_id).where(which)
    session.execute(
        insert(TimelineEvent).from_select(
            [
                "kind",
                "entity",
                "entity_id",
                "actor_id",
                "deal_id",
                "contact_id",
                "company_id",
                "data",
            ],
            moved.with_only_columns(
                literal("stage_changed", String),
                literal("deal", String),
                Deal.id,
                literal(actor.user_id, BigInteger),
                Deal.id,
                Deal.contact_id,
                Deal.company_id,
                event_data,
            ),
        )
    )
    audit_changes = func.jsonb_build_object(
        "pipeline_id",
        func.jsonb_build_array(Deal.pipeline_id, target.pipeline_id),
        "stage_id",
        func.jsonb_build_array(Deal.stage_id, target.id),
        "status",
        func.jsonb_build_array(Deal.status, target.kind),
    )
    session.execute(
        insert(AuditEntry).from_select(
            ["actor_id", "action", "entity", "entity_id", "changes"],
            moved.with_only_columns(
                literal(actor.user_id, BigInteger),
                literal("updated", String),
                literal("deal", String),
                Deal.id,
                cast(audit_changes, JSONB),
            ),
        )
    )
    # The stage history, from the deals' old stages (so also before the update).
    record_bulk_move(
        session,
        which=which,
        pipeline_id=target.pipeline_id,
        to_stage_id=target.id,
        moved_by=actor.user_id,
    )
    same = Deal.status == target.kind
    values: dict[str, Any] = {
        "pipeline_id": target.pipeline_id,
        "stage_id": target.id,
        "status": target.kind,
        "stage_entered_at": now,
    }
    if target.kind == "open":
        values.update(
            closed_at=None, won_amount_minor=None, lost_reason=None, lost_to_competitor=None
        )
    elif target.kind == "won":
        values.update(
            closed_at=case((same, Deal.closed_at), else_=now),
            won_amount_minor=case((same, Deal.won_amount_minor), else_=Deal.amount_minor),
            lost_reason=None,
            lost_to_competitor=None,
        )
    else:
        values.update(
            closed_at=case((same, Deal.closed_at), else_=now),
            won_amount_minor=None,
            lost_reason=case(
                (same, func.coalesce(Deal.lost_reason, MOVED_LOST_REASON)),
                else_=MOVED_LOST_REASON,
            ),
            lost_to_competitor=case((same, Deal.lost_to_competitor), else_=None),
        )
    result = session.execute(
        update(Deal).where(which).values(**values).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # CursorResult
