"""Writers of the stage history (:class:`app.board.models.DealStageHistory`).

Called by the services that move deals (:mod:`app.deals.services`,
:mod:`app.pipelines.services`) inside their own transaction, so that a move and its
history row commit or roll back together: the history never tells of a move that did
not happen, nor misses one that did.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, Select, cast, func, insert, literal, select

from app.board.models import DealStageHistory
from app.database import DbSession
from app.deals.models import Deal


def record_move(
    session: DbSession,
    *,
    deal_id: int,
    pipeline_id: int,
    from_stage_id: int | None,
    to_stage_id: int,
    moved_by: int | None,
    seconds_in_from_stage: int | None,
) -> None:
    """One row for one move (``from_stage_id`` None: the deal was just created)."""
    session.add(
        DealStageHistory(
            deal_id=deal_id,
            pipeline_id=pipeline_id,
            from_stage_id=from_stage_id,
            to_stage_id=to_stage_id,
            moved_by=moved_by,
            seconds_in_from_stage=seconds_in_from_stage,
        )
    )


def record_bulk_move(
    session: DbSession, *, which: Any, pipeline_id: int, to_stage_id: int, moved_by: int | None
) -> None:
    """One row per deal matching ``which`` that is about to move to ``to_stage_id``,
    in one ``INSERT ... SELECT`` (run it before the deals are updated: it reads their
    current stage and how long they have been in it)."""
    seconds = func.greatest(
        0, cast(func.extract("epoch", func.now() - Deal.stage_entered_at), Integer)
    )
    rows: Select[Any] = select(
        Deal.id,
        literal(pipeline_id, BigInteger),
        Deal.stage_id,
        literal(to_stage_id, BigInteger),
        literal(moved_by, BigInteger),
        seconds,
    ).where(which, Deal.stage_id != to_stage_id)
    session.execute(
        insert(DealStageHistory).from_select(
            [
                "deal_id",
                "pipeline_id",
                "from_stage_id",
                "to_stage_id",
                "moved_by",
                "seconds_in_from_stage",
            ],
            rows,
        )
    )


def history_of(session: DbSession, deal_id: int) -> list[DealStageHistory]:
    """A deal's moves, oldest first."""
    stmt = (
        select(DealStageHistory)
        .where(DealStageHistory.deal_id == deal_id)
        .order_by(DealStageHistory.moved_at, DealStageHistory.id)
    )
    return list(session.scalars(stmt))
