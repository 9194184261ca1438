"""Tenant context across Celery: the tenant id travels in message headers.

Publishing side: :class:`TenantTaskMixin.apply_async` copies the bound tenant's id into
the message headers (and refuses to send a tenant task with no tenant bound). Worker
side: ``task_prerun`` looks the tenant up and binds it; ``task_postrun`` unbinds. A
tenant task that arrives without the header raises before touching any data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun

from tenants.context import (
    NoTenantBound,
    TenantRef,
    current_tenant,
    reset_current_tenant,
    set_current_tenant,
)

log = logging.getLogger(__name__)

HEADER = "crm_tenant_id"
_TOKEN_ATTR = "_crm_tenant_token"  # noqa: S105 - an attribute name, not a secret

# Looks a tenant up by id (set by the app: it needs the database); None if not live.
TenantLookup = Callable[[int], TenantRef | None]
_lookup: TenantLookup | None = None


class TenantTaskMixin:
    """Mixed into tasks that read or write one tenant's data."""

    tenant_scoped = True

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Send with the bound tenant's id in the headers."""
        tenant = current_tenant()
        if tenant is None:
            raise NoTenantBound(f"{getattr(self, 'name', self)} needs a bound tenant to be sent")
        headers = dict(options.pop("headers", None) or {})
        headers[HEADER] = tenant.id
        return super().apply_async(args, kwargs, headers=headers, **options)  # type: ignore[misc]


def tenant_id_from_request(request: Any) -> int | None:
    """The tenant id a task message carries, wherever Celery put the custom header."""
    value = request.get(HEADER) if hasattr(request, "get") else None
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(HEADER)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _prerun(task: Task | None = None, **_kw: Any) -> None:
    if task is None or not getattr(task, "tenant_scoped", False):
        return
    tenant_id = tenant_id_from_request(task.request)
    ref: TenantRef | None = None
    if tenant_id is not None and _lookup is not None:
        try:
            ref = _lookup(tenant_id)
        except Exception:  # an unknown tenant is better than the caller's ambient one
            log.exception("looking up tenant %s for task %s failed", tenant_id, task.name)
    # Always push a binding (None when unknown), so postrun can pop it symmetrically and
    # an eagerly run task never inherits the sender's binding; the task's __call__
    # refuses to run unbound.
    setattr(task.request, _TOKEN_ATTR, set_current_tenant(ref))


def unbind_task(task: Task) -> None:
    """Undo the binding ``task_prerun`` made for ``task`` (idempotent).

    ``task_postrun`` calls it; tenant tasks call it too when an eagerly run task raises,
    because Celery then skips ``task_postrun``, which would leave the sender's context
    rebound.
    """
    token = getattr(task.request, _TOKEN_ATTR, None)
    if token is not None:
        setattr(task.request, _TOKEN_ATTR, None)
        reset_current_tenant(token)


def _postrun(task: Task | None = None, **_kw: Any) -> None:
    if task is None or not getattr(task, "tenant_scoped", False):
        return
    unbind_task(task)


def require_bound_tenant(task_name: str) -> TenantRef:
    """Called as a tenant task starts: the tenant from its headers, or raise."""
    tenant = current_tenant()
    if tenant is None:
        raise NoTenantBound(f"task {task_name} arrived without a valid {HEADER} header")
    return tenant


def connect(celery_app: Celery, lookup: TenantLookup) -> None:
    """Wire the signals for ``celery_app`` with a tenant lookup function."""
    global _lookup  # one lookup per process, set at start-up
    _lookup = lookup
    task_prerun.connect(_prerun, weak=False, dispatch_uid="crm-tenant-prerun")
    task_postrun.connect(_postrun, weak=False, dispatch_uid="crm-tenant-postrun")
