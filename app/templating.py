"""Values every template may use: the workspace, the locale and its text direction."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_babel import get_locale


def _context() -> dict[str, Any]:
    locale = get_locale()
    rtl = locale is not None and locale.character_order == "right-to-left"
    return {
        "tenant": g.get("tenant"),
        "get_locale": lambda: str(locale or "en"),
        "text_direction": "rtl" if rtl else "ltr",
    }


def init_app(app: Flask) -> None:
    """Register the template context."""
    app.context_processor(_context)
