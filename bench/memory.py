"""Web worker memory: does serving many tenants make a gunicorn worker grow?

Provisions N tenants (default 1,000), each with an owner, an API token and a contact,
then starts the real server, ``gunicorn wsgi:app`` with one sync worker on a free
loopback port (DATABASE_URL pointing at the scratch database, SERVER_NAME=bench.test).
Every request is ``GET /api/v1/contacts`` with ``Host: <slug>.bench.test`` and
``Authorization: Bearer <token>``:

1. warm-up: 2,000 requests for ONE tenant, then the worker's RSS (psutil, the worker
   process, not the master);
2. sweep: a few requests for EACH tenant, then the worker's RSS again.

Target: RSS after the sweep - RSS after the warm-up <= 10 MB.

    .venv/bin/python bench/memory.py [--tenants 1000] [--warmup 2000] [--per-tenant 3]
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from harness import (
    PASSWORD,
    ROOT,
    SECRET_KEY,
    SERVER_NAME,
    Progress,
    argument_parser,
    bench_app,
    machine_notes,
    report,
    scratch_database,
)

TARGET_GROWTH_MB = 10.0
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
MB = 1024 * 1024


@dataclass(frozen=True)
class Workspace:
    slug: str
    token: str


def make_workspaces(engine: Any, count: int) -> list[Workspace]:
    """Tenants with an owner, a contact (added in the provisioning transaction, as the
    demo seed does) and an API token made by the identity service."""
    from sqlalchemy import Connection, insert

    from app.contacts.models import Contact
    from app.database import db
    from app.identity.services import create_api_token, get_or_create_user
    from tenants.context import TenantRef
    from tenants.models import Tenant
    from tenants.provisioning import provision_tenant

    made: list[Workspace] = []
    progress = Progress("workspaces", count)
    for i in range(1, count + 1):
        owner = get_or_create_user(
            db.session, email=f"owner-{i}@bench.example", password=PASSWORD, name=f"Owner {i}"
        )
        db.session.commit()
        owner_id = owner.id

        def add_contact(
            conn: Connection, _ref: TenantRef, i: int = i, owner_id: int = owner_id
        ) -> None:
            conn.execute(
                insert(Contact).values(
                    first_name="Ada",
                    last_name=f"Contact {i}",
                    email=f"ada{i}@client.example",
                    company_name=f"Client {i}",
                    owner_id=owner_id,
                    created_by_id=owner_id,
                )
            )

        provisioned = provision_tenant(
            engine,
            slug=f"mem-{i:05d}",
            name=f"Memory Company {i}",
            owner_user_id=owner_id,
            actor="bench",
            after_create=add_contact,
        )
        tenant = db.session.get(Tenant, provisioned.id)
        assert tenant is not None
        issued = create_api_token(
            db.session, tenant=tenant, user=owner, name="bench", actor="bench"
        )
        db.session.commit()
        made.append(Workspace(provisioned.slug, issued.secret))
        db.session.remove()
        progress.update(i)
    return made


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    """One HTTP/1.1 client connection (reused when the server keeps it alive)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.connects = 0
        self.requests = 0
        self.errors: list[str] = []

    def get(self, path: str, host: str, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Host": host, "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if self.conn.sock is None:
            self.connects += 1
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        body = response.read()
        self.requests += 1
        return response.status, body

    def contacts(self, workspace: Workspace) -> None:
        status, body = self.get(
            "/api/v1/contacts", f"{workspace.slug}.{SERVER_NAME}", workspace.token
        )
        if status != 200:
            self.errors.append(f"{workspace.slug}: {status} {body[:200]!r}")
            return
        items = json.loads(body)["items"]
        if len(items) != 1:
            self.errors.append(f"{workspace.slug}: {len(items)} contacts")

    def close(self) -> None:
        self.conn.close()


def start_gunicorn(database_uri: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_uri,
        SERVER_NAME=SERVER_NAME,
        SECRET_KEY=SECRET_KEY,
        CRM_ENV="development",
        CRM_SEED_DEMO="0",
    )
    args = [
        GUNICORN,
        "wsgi:app",
        "--workers",
        "1",
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        # No recycling: the worker measured at the end must be the one measured first.
        "--max-requests",
        "0",
        "--timeout",
        "60",
        "--error-logfile",
        str(log_path),
    ]
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(server: subprocess.Popen[bytes], port: int, log_path: Path) -> psutil.Process:
    """Wait (bounded) until the app answers; return the single worker process."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited ({server.returncode}):\n{log_path.read_text()[-3000:]}"
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz", headers={"Host": SERVER_NAME})
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                workers = psutil.Process(server.pid).children()
                if len(workers) == 1:
                    return workers[0]
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not become ready:\n{log_path.read_text()[-3000:]}")


def stop_gunicorn(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def rss(process: psutil.Process) -> int:
    return int(process.memory_info().rss)


def backend_uss(worker: psutil.Process, engine: Any) -> int | None:
    """Private memory (USS) of the PostgreSQL backends serving the worker's connections,
    found by the worker's local TCP ports; None when that can not be seen (Unix socket)."""
    from sqlalchemy import text

    try:
        ports = {
            c.laddr.port
            for c in worker.net_connections(kind="tcp")
            if c.raddr and c.status == "ESTABLISHED"
        }
        if not ports:
            return None
        with engine.connect() as conn:
            pids = (
                conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND client_port = ANY(:ports)"
                    ),
                    {"ports": sorted(ports)},
                )
                .scalars()
                .all()
            )
        if not pids:
            return None
        return sum(int(psutil.Process(pid).memory_full_info().uss) for pid in pids)
    except (psutil.Error, OSError):
        return None


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=2000, help="requests for one tenant first")
    parser.add_argument("--per-tenant", type=int, default=3, help="requests for each tenant")
    args = parser.parse_args()
    if args.tenants < 1 or args.warmup < 1 or args.per_tenant < 1:
        parser.error("counts must be positive")

    from app.database import db

    with scratch_database(args) as scratch, tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        app = bench_app(scratch.url)
        with app.app_context():
            engine = db.engine
            workspaces = make_workspaces(engine, args.tenants)
            notes = machine_notes(scratch.libpq_uri)

            port = free_port()
            log_path = Path(tmp) / "gunicorn.log"
            server = start_gunicorn(scratch.libpq_uri, port, log_path)
            client = Client(port)
            try:
                worker = wait_ready(server, port, log_path)
                rss_start = rss(worker)

                progress = Progress("warm-up (one tenant)", args.warmup)
                started = time.perf_counter()
                for i in range(1, args.warmup + 1):
                    client.contacts(workspaces[0])
                    progress.update(i)
                warmup_s = time.perf_counter() - started
                rss_warm = rss(worker)
                uss_warm = backend_uss(worker, engine)

                total = len(workspaces) * args.per_tenant
                progress = Progress("sweep (every tenant)", total)
                trend: list[tuple[int, float]] = []
                done = 0
                started = time.perf_counter()
                for n, workspace in enumerate(workspaces, start=1):
                    for _ in range(args.per_tenant):
                        client.contacts(workspace)
                        done += 1
                    progress.update(done)
                    if n % max(1, len(workspaces) // 4) == 0:
                        trend.append((n, round(rss(worker) / MB, 2)))
                sweep_s = time.perf_counter() - started
                rss_end = rss(worker)
                uss_end = backend_uss(worker, engine)
                same_worker = (
                    worker.is_running() and worker in psutil.Process(server.pid).children()
                )
            finally:
                client.close()
                stop_gunicorn(server)
            engine.dispose()

    growth_mb = (rss_end - rss_warm) / MB
    errors = client.errors
    passed = growth_mb <= TARGET_GROWTH_MB and not errors and same_worker
    keepalive = (
        "kept alive"
        if client.connects <= 1
        else f"{client.connects} connections (server closes after each response)"
    )
    lines = [
        f"tenants: {len(workspaces)} (each: owner, API token, 1 contact); gunicorn 1 sync worker,"
        f" pid {worker.pid}",
        f"worker RSS at start: {rss_start / MB:.1f} MB",
        f"after warm-up ({args.warmup} requests, 1 tenant): {rss_warm / MB:.1f} MB"
        f"  ({args.warmup / warmup_s:.0f} req/s)",
        f"after sweep ({args.per_tenant} requests x {len(workspaces)} tenants):"
        f" {rss_end / MB:.1f} MB  ({total / sweep_s:.0f} req/s)",
        f"growth: {growth_mb:+.2f} MB  target <= {TARGET_GROWTH_MB:.0f} MB"
        f"  ({1024 * growth_mb / len(workspaces):+.2f} KB per tenant)",
        "RSS during sweep: " + ", ".join(f"{n} tenants {mb:.1f} MB" for n, mb in trend),
        "PostgreSQL backend of the worker (USS): "
        + (
            f"{uss_warm / MB:.1f} MB -> {uss_end / MB:.1f} MB"
            if uss_warm is not None and uss_end is not None
            else "not visible"
        ),
        f"client: {client.requests} requests, {keepalive}; errors: {len(errors)}"
        + (f" (first: {errors[0]})" if errors else ""),
        f"same worker throughout: {same_worker}",
        f"machine: {notes}",
    ]
    figures = {
        "tenants": len(workspaces),
        "warmup_requests": args.warmup,
        "per_tenant_requests": args.per_tenant,
        "rss_start_mb": round(rss_start / MB, 2),
        "rss_after_warmup_mb": round(rss_warm / MB, 2),
        "rss_after_sweep_mb": round(rss_end / MB, 2),
        "growth_mb": round(growth_mb, 2),
        "rss_trend_mb": trend,
        "warmup_req_per_s": round(args.warmup / warmup_s, 1),
        "sweep_req_per_s": round(total / sweep_s, 1),
        "pg_backend_uss_mb": [
            None if uss_warm is None else round(uss_warm / MB, 2),
            None if uss_end is None else round(uss_end / MB, 2),
        ],
        "connections_opened": client.connects,
        "errors": len(errors),
        "same_worker": same_worker,
        "targets": {"growth_mb": TARGET_GROWTH_MB},
        "machine": notes,
    }
    report("memory", lines, figures, passed)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
