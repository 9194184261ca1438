"""Handing a member's records to another member (when someone leaves), for any kind of
record with an owner or assignee column: one UPDATE and one audit entry per kind."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select, true, update

from app.audit.services import record
from app.database import DbSession
from app.errors import InvalidInput
from app.identity.services import active_membership
from app.input_rules import MAX_BIGINT
from tenants.context import require_tenant


def count_owned(
    session: DbSession, column: Any, user_id: int, only: ColumnElement[bool] | None = None
) -> int:
    """How many rows of ``column``'s table have ``user_id`` in ``column`` (and ``only``)."""
    stmt = select(func.count()).select_from(column.class_).where(column == user_id)
    return int(session.scalar(stmt.where(only if only is not None else true())) or 0)


def reassign_owned(
    session: DbSession,
    column: Any,
    *,
    entity: str,
    from_id: int,
    to_id: int,
    actor_id: int,
    only: ColumnElement[bool] | None = None,
) -> int:
    """Move every row with ``from_id`` in ``column`` (and ``only``) to ``to_id`` in the
    caller's transaction (no commit: deactivation is atomic); returns how many moved.

    The new holder must be an active member of the bound workspace. The audit entry
    names both members and the count, which is what someone tracing "where did my
    records go" needs.
    """
    tenant = require_tenant()
    if from_id == to_id:
        raise InvalidInput({"reassign_to": ["Choose another member."]})
    if not 1 <= to_id <= MAX_BIGINT or active_membership(session, to_id, tenant.id) is None:
        raise InvalidInput({"reassign_to": ["Not an active member of this workspace."]})
    model = column.class_
    stmt = (
        update(model)
        .where(column == from_id, only if only is not None else true())
        .values({column.key: to_id, "updated_at": func.now()})
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    moved = len(session.execute(stmt).all())
    if moved:
        record(
            session,
            actor_id=actor_id,
            action="reassigned",
            entity=entity,
            entity_id=None,
            changes={column.key: [from_id, to_id], "count": moved},
        )
    return moved
