"""Which scope a report runs in, and who may see or export reports at all."""

from __future__ import annotations

from app.access.policy import Actor, actor_for
from app.reports.filters import may_export_reports, may_view_reports, report_scope


def _actor(deals: str, reports: str, export: str = "none") -> Actor:
    return actor_for(
        7,
        "custom",
        {"deals": {"view": deals}, "reports": {"view": reports, "export": export}},
    )


def test_the_narrower_of_the_deal_and_report_scopes_applies() -> None:
    assert report_scope(_actor("all", "own")) == "own"
    assert report_scope(_actor("own", "all")) == "own"
    assert report_scope(_actor("team", "all")) == "team"
    assert report_scope(_actor("all", "all")) == "all"


def test_no_deal_rights_no_reports() -> None:
    blind = _actor("none", "all", export="all")
    assert not may_view_reports(blind)
    assert not may_export_reports(blind)
    viewer = _actor("all", "all")
    assert may_view_reports(viewer) and not may_export_reports(viewer)
    assert may_export_reports(_actor("own", "own", export="own"))


def test_built_in_roles() -> None:
    assert report_scope(actor_for(1, "sales_rep")) == "own"
    assert report_scope(actor_for(1, "manager")) == "team"
    assert report_scope(actor_for(1, "viewer")) == "all"
    assert not may_export_reports(actor_for(1, "sales_rep"))
    assert may_export_reports(actor_for(1, "manager"))
