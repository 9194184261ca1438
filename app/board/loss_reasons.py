"""Loss reason services: the only writers of the workspace's list of loss reasons.

The list is what people pick from when a deal is lost (the board's dialog, the deal
card, the API). Decision: a reason typed by hand is accepted too (the list guides, it
does not cage: an import, an integration or an unusual case must not be refused), but
a text that matches an entry case-insensitively is stored with the entry's spelling,
so that the loss-reason report groups "price too high" and "Price too high" together.
Names are unique case-insensitively; retiring a reason (``active: false``) stops
offering it without touching the deals that were lost for it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from app.access.policy import Actor
from app.audit.services import record
from app.board.models import LOSS_REASON_NAME_MAX, LossReason
from app.database import DbSession
from app.errors import InvalidInput
from app.input_rules import CONTROL_ANY, MAX_BIGINT, UNSTORABLE
from tenants.context import require_tenant

# What a new workspace starts with (migration t0013 seeds the same list into existing
# workspaces).
DEFAULT_LOSS_REASONS = (
    "Price too high",
    "Chose a competitor",
    "No budget",
    "No decision / went silent",
    "Bad timing",
    "Missing features",
    "Not a fit",
)
MAX_LOSS_REASONS = 100


def _name(details: dict[str, list[str]], value: Any) -> str | None:
    if not isinstance(value, str):
        details["name"] = ["Give a name." if value is None else "Not a valid string."]
        return None
    text = value.strip()
    if UNSTORABLE.search(text) or CONTROL_ANY.search(text):
        details["name"] = ["Contains characters that are not allowed."]
        return None
    if not text:
        details["name"] = ["Give a name."]
        return None
    if len(text) > LOSS_REASON_NAME_MAX:
        details["name"] = [f"At most {LOSS_REASON_NAME_MAX} characters."]
        return None
    return text


def _taken(session: DbSession, name: str, other_than: int | None) -> bool:
    stmt = select(LossReason.id).where(func.lower(LossReason.name) == name.lower())
    if other_than is not None:
        stmt = stmt.where(LossReason.id != other_than)
    return session.scalar(stmt.limit(1)) is not None


def _lock_list(session: DbSession) -> None:
    """Serialise writers of the list (positions and the name check stay consistent
    when two admins edit it at once); readers are not blocked."""
    key = f"loss_reasons:{require_tenant().id}"
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))


def list_loss_reasons(session: DbSession, *, active_only: bool = False) -> list[LossReason]:
    """The list in its order (only the offered ones with ``active_only``)."""
    stmt = select(LossReason).order_by(LossReason.position, LossReason.id)
    if active_only:
        stmt = stmt.where(LossReason.active.is_(True))
    return list(session.scalars(stmt))


def get_loss_reason(session: DbSession, reason_id: Any) -> LossReason | None:
    """The reason, or None (also for ids that can not exist)."""
    if type(reason_id) is not int or not 1 <= reason_id <= MAX_BIGINT:
        return None
    return session.get(LossReason, reason_id)


def canonical_reason(session: DbSession, text: str | None) -> str | None:
    """``text`` with the spelling of the list entry it names (case-insensitively),
    or as given when it names none."""
    if not text:
        return text
    found = session.scalar(
        select(LossReason.name).where(func.lower(LossReason.name) == text.lower()).limit(1)
    )
    return found or text


def create_loss_reason(session: DbSession, actor: Actor, data: dict[str, Any]) -> LossReason:
    """Add a reason at the end of the list (``active`` defaults to true)."""
    _lock_list(session)
    details: dict[str, list[str]] = {}
    name = _name(details, data.get("name"))
    active = data.get("active", True)
    if type(active) is not bool:
        details["active"] = ["Give true or false."]
    if name is not None and _taken(session, name, None):
        details["name"] = ["Another loss reason has this name."]
    count = int(session.scalar(select(func.count()).select_from(LossReason)) or 0)
    if count >= MAX_LOSS_REASONS:
        details.setdefault("name", []).append(f"A workspace has at most {MAX_LOSS_REASONS}.")
    if details:
        raise InvalidInput(details)
    last = session.scalar(select(func.max(LossReason.position)))
    reason = LossReason(name=name, active=active, position=(last + 1) if last is not None else 0)
    session.add(reason)
    session.flush()
    record(
        session,
        actor_id=actor.user_id,
        action="created",
        entity="loss_reason",
        entity_id=reason.id,
        changes={"name": [None, reason.name], "active": [None, reason.active]},
    )
    session.commit()
    return reason


def update_loss_reason(
    session: DbSession, actor: Actor, reason: LossReason, data: dict[str, Any]
) -> LossReason:
    """Rename, retire/offer again (``active``) or move (``position``, 0-based) a reason.

    Renaming does not rewrite deals already lost for the old name (see module doc)."""
    _lock_list(session)
    details: dict[str, list[str]] = {}
    new: dict[str, Any] = {}
    if "name" in data:
        name = _name(details, data["name"])
        if name is not None and _taken(session, name, reason.id):
            details["name"] = ["Another loss reason has this name."]
        new["name"] = name
    if "active" in data:
        if type(data["active"]) is not bool:
            details["active"] = ["Give true or false."]
        new["active"] = data["active"]
    ordered = list_loss_reasons(session)
    if "position" in data:
        position = data["position"]
        if type(position) is not int or not 0 <= position < len(ordered):
            details["position"] = [f"Give a position from 0 to {len(ordered) - 1}."]
    if details:
        raise InvalidInput(details)
    before = {"name": reason.name, "active": reason.active, "position": reason.position}
    for key, value in new.items():
        setattr(reason, key, value)
    if "position" in data:
        rest = [r for r in ordered if r.id != reason.id]
        rest.insert(data["position"], reason)
        for position, item in enumerate(rest):
            if item.position != position:
                session.execute(
                    update(LossReason).where(LossReason.id == item.id).values(position=position)
                )
        session.expire(reason, ["position"])
    session.flush()
    after = {"name": reason.name, "active": reason.active, "position": reason.position}
    diff = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    if diff:
        record(
            session,
            actor_id=actor.user_id,
            action="updated",
            entity="loss_reason",
            entity_id=reason.id,
            changes=diff,
        )
    session.commit()
    return reason


def delete_loss_reason(session: DbSession, actor: Actor, reason: LossReason) -> None:
    """Remove a reason from the list; deals lost for it keep their text."""
    _lock_list(session)
    record(
        session,
        actor_id=actor.user_id,
        action="deleted",
        entity="loss_reason",
        entity_id=reason.id,
        changes={"name": [reason.name, None]},
    )
    session.delete(reason)
    session.commit()
