"""The plan catalog and limit lookups."""

from __future__ import annotations

import pytest

from billing.plans import (
    CURRENT_VERSIONS,
    LIMITS,
    PLAN_KEYS,
    InvalidOverrides,
    UnknownPlan,
    get_plan,
    plan_limits,
)


def test_the_catalog_has_the_four_plans_in_price_order() -> None:
    assert PLAN_KEYS == ("free", "starter", "pro", "enterprise")
    assert dict(CURRENT_VERSIONS) == dict.fromkeys(PLAN_KEYS, 1)


@pytest.mark.parametrize(
    ("key", "monthly", "limits"),
    [
        ("free", 0, (500, 2, 1, 5, 60, 1_024)),
        ("starter", 2_900, (5_000, 5, 3, 25, 300, 10_240)),
        ("pro", 9_900, (50_000, 25, 20, 200, 1_200, 102_400)),
        ("enterprise", None, (None,) * 6),
    ],
)
def test_prices_and_limits(key: str, monthly: int | None, limits: tuple[int | None, ...]) -> None:
    plan = get_plan(key)
    assert plan.version == 1
    assert plan.monthly_price_cents == monthly
    assert plan.yearly_price_cents == (None if monthly is None else monthly * 10)
    assert dict(plan.limits) == dict(zip(LIMITS, limits, strict=True))
    assert dict(plan_limits(key, 1)) == dict(plan.limits)


def test_plans_are_frozen() -> None:
    with pytest.raises(AttributeError):
        get_plan("free").contacts = 10  # type: ignore[misc]


def test_overrides_replace_or_lift_single_caps() -> None:
    limits = plan_limits("enterprise", 1, {"seats": 300, "storage_mb": 1_000_000})
    assert limits["seats"] == 300
    assert limits["storage_mb"] == 1_000_000
    assert limits["contacts"] is None
    lifted = plan_limits("free", 1, {"contacts": None, "seats": 3})
    assert lifted["contacts"] is None
    assert lifted["seats"] == 3
    assert lifted["pipelines"] == 1
    assert plan_limits("free", None, {})["contacts"] == 500


@pytest.mark.parametrize(
    "overrides",
    [{"contactz": 5}, {"seats": -1}, {"seats": "10"}, {"seats": 2.5}, {"seats": True}],
)
def test_bad_overrides_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidOverrides):
        plan_limits("enterprise", 1, overrides)


@pytest.mark.parametrize(("key", "version"), [("gold", 1), ("free", 2), ("free", 0)])
def test_unknown_plans_and_versions(key: str, version: int) -> None:
    with pytest.raises(UnknownPlan):
        plan_limits(key, version)
