"""Default rows every new workspace starts with: built-in roles and a sales pipeline.

Runs inside the provisioning transaction on a connection already bound to the new
tenant's schema; Core inserts keep provisioning to a few round trips.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from app.access.builtin import BUILTIN_ROLES
from app.access.models import Role
from app.board.loss_reasons import DEFAULT_LOSS_REASONS
from app.board.models import LossReason
from app.pipelines.defaults import DEFAULT_COLORS, DEFAULT_PIPELINE_NAME, DEFAULT_STAGES
from app.pipelines.models import Pipeline, Stage


def seed_defaults(connection: Connection) -> None:
    """Insert built-in roles, the default pipeline with its stages and the loss reasons."""
    connection.execute(
        insert(Role),
        [
            {
                "key": key,
                "name": spec["name"],
                "description": spec["description"],
                "is_builtin": True,
                "permissions": spec["permissions"],
                "field_rules": {},
            }
            for key, spec in BUILTIN_ROLES.items()
        ],
    )
    pipeline_id = connection.execute(
        insert(Pipeline)
        .values(name=DEFAULT_PIPELINE_NAME, is_default=True, position=0)
        .returning(Pipeline.id)
    ).scalar_one()
    connection.execute(
        insert(Stage),
        [
            {
                "pipeline_id": pipeline_id,
                "name": name,
                "position": pos,
                "probability": prob,
                "kind": kind,
                "color": DEFAULT_COLORS[kind],
            }
            for pos, (name, prob, kind) in enumerate(DEFAULT_STAGES)
        ],
    )
    connection.execute(
        insert(LossReason),
        [{"name": name, "position": pos} for pos, name in enumerate(DEFAULT_LOSS_REASONS)],
    )


def default_pipeline_id(connection: Connection) -> int | None:
    """The id of the tenant's default pipeline (used by tests and the demo seed)."""
    return connection.execute(
        select(Pipeline.id).where(Pipeline.is_default.is_(True))
    ).scalar_one_or_none()
