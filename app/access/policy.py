"""The one place that decides what a member may do.

Every check asks :func:`scope_for`; lists apply the returned scope in SQL (see
:func:`apply_record_scope`), never by filtering rows after the fact. Records outside a
user's scope are answered as "not found", exactly like missing ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, true

from app.access.builtin import ACTIONS, BUILTIN_ROLES, RESOURCES, SCOPES


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, in which role, with which permission matrix."""

    user_id: int
    role_key: str
    permissions: dict[str, Any]


def actor_for(user_id: int, role_key: str, permissions: dict[str, Any] | None = None) -> Actor:
    """An actor with the role's stored permissions (or the built-in ones)."""
    if permissions is None:
        permissions = BUILTIN_ROLES.get(role_key, {}).get("permissions", {})
    return Actor(user_id=user_id, role_key=role_key, permissions=permissions)


def scope_for(actor: Actor, resource: str, action: str) -> str:
    """The scope (none/own/team/all) of ``actor`` for ``action`` on ``resource``."""
    if resource not in RESOURCES or action not in ACTIONS:
        raise ValueError(f"unknown permission {resource}.{action}")
    scope = actor.permissions.get(resource, {}).get(action, "none")
    return scope if scope in SCOPES else "none"


def may(actor: Actor, resource: str, action: str) -> bool:
    """Whether ``actor`` may do ``action`` on at least some ``resource`` records."""
    return scope_for(actor, resource, action) != "none"


def owner_condition(actor: Actor, scope: str, owner_column: Any) -> ColumnElement[bool]:
    """SQL condition limiting rows to ``scope`` for ``actor``.

    Teams arrive with the access-rights issue; until then "team" covers the member's own
    records only, which errs on the side of showing less.
    """
    if scope == "all":
        return true()
    if scope in {"own", "team"}:
        return owner_column == actor.user_id
    return false()


def apply_record_scope(
    stmt: Select[Any], actor: Actor, resource: str, action: str, owner_column: Any
) -> Select[Any]:
    """Restrict a SELECT to the records ``actor`` may ``action``."""
    return stmt.where(owner_condition(actor, scope_for(actor, resource, action), owner_column))


def record_in_scope(actor: Actor, resource: str, action: str, owner_id: int | None) -> bool:
    """Whether one loaded record is within ``actor``'s scope for ``action``."""
    scope = scope_for(actor, resource, action)
    if scope == "all":
        return True
    if scope in {"own", "team"}:
        return owner_id == actor.user_id
    return False
