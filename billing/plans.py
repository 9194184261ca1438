"""The plan catalog: prices and limits of every plan, versioned, in code.

A tenant records its plan key and the plan version it signed up on
(``public.tenants.plan`` and ``plan_version``). Changing a plan's prices or limits adds
a new version here and moves :data:`CURRENT_VERSIONS`; tenants keep the version they
have until they are moved on purpose, so nobody's limits change under them.

Prices are in euro cents, excluding VAT. A yearly price is ten monthly prices (two
months free). Enterprise is priced by contract: no list price, no limits unless an
operator sets per-tenant overrides (``public.tenants.limit_overrides``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

CURRENCY = "EUR"

# Every limit a plan has. ``None`` as a value means unlimited.
LIMITS = (
    "contacts",
    "seats",
    "pipelines",
    "custom_fields",
    "api_requests_per_minute",
    "storage_mb",
)
# Limits enforced by a usage counter in each tenant schema (``billing.models``); the
# others are enforced elsewhere (a rate limiter, the file store).
COUNTED = ("contacts", "seats", "pipelines", "custom_fields")

PlanLimits = Mapping[str, int | None]


class UnknownPlan(KeyError):
    """No such plan key, or no such version of it."""


class InvalidOverrides(ValueError):
    """Per-tenant limit overrides that name an unknown limit or hold a bad value."""


@dataclass(frozen=True, slots=True)
class Plan:
    """One version of one plan: its prices (euro cents) and limits."""

    key: str
    version: int
    name: str
    monthly_price_cents: int | None
    contacts: int | None
    seats: int | None
    pipelines: int | None
    custom_fields: int | None
    api_requests_per_minute: int | None
    storage_mb: int | None

    @property
    def yearly_price_cents(self) -> int | None:
        """Ten months for a year; None when priced by contract."""
        return None if self.monthly_price_cents is None else self.monthly_price_cents * 10

    @property
    def limits(self) -> PlanLimits:
        """Limit name -> cap (None: unlimited)."""
        return MappingProxyType({name: getattr(self, name) for name in LIMITS})


_CATALOG: tuple[Plan, ...] = (
    Plan(
        key="free",
        version=1,
        name="Free",
        monthly_price_cents=0,
        contacts=500,
        seats=2,
        pipelines=1,
        custom_fields=5,
        api_requests_per_minute=60,
        storage_mb=1_024,
    ),
    Plan(
        key="starter",
        version=1,
        name="Starter",
        monthly_price_cents=2_900,
        contacts=5_000,
        seats=5,
        pipelines=3,
        custom_fields=25,
        api_requests_per_minute=300,
        storage_mb=10_240,
    ),
    Plan(
        key="pro",
        version=1,
        name="Pro",
        monthly_price_cents=9_900,
        contacts=50_000,
        seats=25,
        pipelines=20,
        custom_fields=200,
        api_requests_per_minute=1_200,
        storage_mb=102_400,
    ),
    Plan(
        key="enterprise",
        version=1,
        name="Enterprise",
        monthly_price_cents=None,
        contacts=None,
        seats=None,
        pipelines=None,
        custom_fields=None,
        api_requests_per_minute=None,
        storage_mb=None,
    ),
)

PLANS: Mapping[tuple[str, int], Plan] = MappingProxyType(
    {(plan.key, plan.version): plan for plan in _CATALOG}
)
# The version new tenants get, per plan.
CURRENT_VERSIONS: Mapping[str, int] = MappingProxyType(
    {key: max(v for k, v in PLANS if k == key) for key, _ in PLANS}
)
# Plan keys in catalog order (cheapest first).
PLAN_KEYS: tuple[str, ...] = tuple(dict.fromkeys(plan.key for plan in _CATALOG))
DEFAULT_PLAN = "free"


def is_plan(key: str) -> bool:
    """Whether ``key`` names a plan of the catalog."""
    return key in CURRENT_VERSIONS


def current_version(key: str) -> int:
    """The version of plan ``key`` that new tenants get."""
    try:
        return CURRENT_VERSIONS[key]
    except KeyError:
        raise UnknownPlan(key) from None


def get_plan(key: str, version: int | None = None) -> Plan:
    """Plan ``key`` at ``version`` (default: the current version)."""
    wanted = current_version(key) if version is None else version
    try:
        return PLANS[(key, wanted)]
    except KeyError:
        raise UnknownPlan(f"{key} v{wanted}") from None


def validate_overrides(overrides: Mapping[str, Any] | None) -> dict[str, int | None]:
    """Per-tenant overrides as stored: known limit names, each a cap >= 0 or None."""
    checked: dict[str, int | None] = {}
    for name, value in (overrides or {}).items():
        if name not in LIMITS:
            raise InvalidOverrides(f"unknown limit {name!r}")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise InvalidOverrides(f"{name}: a cap is a whole number >= 0 or null")
        checked[name] = value
    return checked


def plan_limits(
    plan: str, version: int | None = None, overrides: Mapping[str, Any] | None = None
) -> PlanLimits:
    """Every limit of ``plan`` at ``version``, with per-tenant ``overrides`` applied
    (an override of ``None`` lifts a cap)."""
    limits = dict(get_plan(plan, version).limits)
    limits.update(validate_overrides(overrides))
    return MappingProxyType(limits)
