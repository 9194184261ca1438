"""The tenant of the current unit of work, held in a ContextVar.

A ContextVar (not a thread-local or ``flask.g``) so that the same binding works in web
requests, CLI loops and Celery tasks, and is copied correctly into new contexts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from tenants.naming import validate_schema_name


@dataclass(frozen=True, slots=True)
class TenantRef:
    """What the binding needs to know about a tenant: its id and schema."""

    id: int
    slug: str
    schema_name: str

    def __post_init__(self) -> None:
        validate_schema_name(self.schema_name)


_current: ContextVar[TenantRef | None] = ContextVar("crm_current_tenant", default=None)


class NoTenantBound(RuntimeError):
    """Tenant data was needed but no tenant is bound to this unit of work."""


def current_tenant() -> TenantRef | None:
    """The bound tenant, or None."""
    return _current.get()


def require_tenant() -> TenantRef:
    """The bound tenant; raises if there is none (fail closed)."""
    tenant = _current.get()
    if tenant is None:
        raise NoTenantBound("no tenant is bound to this unit of work")
    return tenant


def set_current_tenant(tenant: TenantRef | None) -> object:
    """Bind ``tenant``; returns a token for :func:`reset_current_tenant`."""
    return _current.set(tenant)


def reset_current_tenant(token: object) -> None:
    """Undo a :func:`set_current_tenant`."""
    _current.reset(token)  # type: ignore[arg-type]  # token came from set_current_tenant


@contextmanager
def tenant_context(tenant: TenantRef | None) -> Iterator[TenantRef | None]:
    """Bind ``tenant`` for the duration of a ``with`` block."""
    token = _current.set(tenant)
    try:
        yield tenant
    finally:
        _current.reset(token)
