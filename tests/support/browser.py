"""A real browser against the app over real HTTP: Debian's Chromium driven by
Playwright, the app served by a threaded werkzeug server on 127.0.0.1, and
``crm.test`` with every subdomain resolved to it by Chromium itself."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from app.database import db

DOMAIN = "crm.test"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-proxy-server",
    f"--host-resolver-rules=MAP *.{DOMAIN} 127.0.0.1, MAP {DOMAIN} 127.0.0.1",
]


def chromium_path() -> str | None:
    """Debian's Chromium, if installed (never a downloaded one)."""
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


CHROMIUM = chromium_path()
SKIP_REASON = "Chromium is not installed (apt-get install chromium); .ci/run installs it"


@dataclass
class LiveServer:
    """The app served over HTTP; ``crm.test`` and its subdomains reach it."""

    app: Flask
    port: int

    @property
    def apex(self) -> str:
        return f"http://{DOMAIN}:{self.port}"

    def workspace(self, slug: str) -> str:
        return f"http://{slug}.{DOMAIN}:{self.port}"


@contextmanager
def serve(build: Callable[[str], Flask]) -> Iterator[LiveServer]:
    """Serve the app ``build(server_name)`` makes (it must know the port it is on)."""
    holder: dict[str, Flask] = {}

    def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, dispatch, threaded=True)
    served = build(f"{DOMAIN}:{server.server_port}")
    holder["app"] = served
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(served, server.server_port)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with served.app_context():
            db.engine.dispose()


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """A headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def no_horizontal_overflow(page: Any) -> bool:
    """Whether the page fits the window's width (phone layouts)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))
