"""Fixtures of the company tests: the page and browser helpers of tests/web, shared
rather than copied."""

from __future__ import annotations

from tests.web.conftest import chromium, live_server, owner, tenant

__all__ = ["chromium", "live_server", "owner", "tenant"]
