"""Reading the client timeline for a card or the API."""

from __future__ import annotations

from typing import Any

from app.access.policy import Actor
from app.database import DbSession


def card_timeline(
    session: DbSession, actor: Actor, *, entity: str, entity_id: int, cursor: str | None = None
) -> dict[str, Any]:
    """The template context of ``timeline/_panel.html`` for the card of ``entity``
    (``"contact"``, ``"company"`` or ``"deal"``) ``entity_id``: its newest events first,
    one page, and the cursor of the next."""
    return {"timeline": {"entity": entity, "entity_id": entity_id, "events": [], "next": None}}
