"""Signed Stripe webhook events acknowledged per second (target: >= 200 events/s).

Runs the real application under gunicorn on 127.0.0.1 (Stripe mode, a webhook secret,
Celery through Redis so that each accepted event is queued as in production; nobody
consumes the bench's own queue, which is deleted at the end). Client threads POST
signed events (Stripe's scheme: ``t=...,v1=HMAC-SHA256(secret, "t.payload")``) to
``/billing/stripe/webhook``: mostly new ``customer.subscription.updated`` events, plus a
share of redeliveries of events already sent. Every answer must be 200. The figure is
events acknowledged per second over the whole bounded run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.client import HTTPConnection
from pathlib import Path

import requests
from harness import (
    ROOT,
    SECRET_KEY,
    SERVER_NAME,
    argument_parser,
    machine_notes,
    median,
    percentile,
    report,
    scratch_database,
)

TARGET_EVENTS_PER_SECOND = 200.0
WEBHOOK_SECRET = "whsec_bench_" + "w" * 24
WEBHOOK_PATH = "/billing/stripe/webhook"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _payload(event_id: str) -> bytes:
    sub_id = f"sub_bench{uuid.uuid4().hex[:14]}"
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "livemode": False,
            "type": "customer.subscription.updated",
            "data": {
                "object": {
                    "id": sub_id,
                    "object": "subscription",
                    "customer": f"cus_bench{uuid.uuid4().hex[:14]}",
                    "status": "active",
                    "metadata": {"tenant_id": "1"},
                }
            },
        }
    ).encode()


def _sign(payload: bytes) -> str:
    t = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{t}.".encode() + payload, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def _server_cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds used so far by gunicorn's master and workers."""
    import psutil

    total = 0.0
    try:
        master = psutil.Process(proc.pid)
        for each in [master, *master.children(recursive=True)]:
            times = each.cpu_times()
            total += times.user + times.system
    except psutil.Error:
        pass
    return total


def _wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            requests.get(url, headers={"Host": SERVER_NAME}, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="deliveries to send")
    parser.add_argument("--threads", type=int, default=8, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-threads", type=int, default=4, help="threads per worker")
    parser.add_argument(
        "--duplicates", type=float, default=0.1, help="share of redeliveries (0-0.5)"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        help="the Celery broker (events are queued there, as in production)",
    )
    args = parser.parse_args()

    import redis

    queue = f"bench-webhooks-{uuid.uuid4().hex[:8]}"
    broker = redis.Redis.from_url(args.redis_url)
    broker.ping()

    with scratch_database(args) as scratch:
        notes = machine_notes(scratch.libpq_uri)
        port = _free_port()
        env = {
            **os.environ,
            "CRM_ENV": "development",
            "DATABASE_URL": scratch.libpq_uri,
            "SERVER_NAME": SERVER_NAME,
            "SECRET_KEY": SECRET_KEY,
            "REDIS_URL": args.redis_url,
            "CRM_CELERY_QUEUE": queue,
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": "http://127.0.0.1:9",  # never called by the intake
            "CRM_SEED_DEMO": "0",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(args.workers),
            "GUNICORN_THREADS": str(args.worker_threads),
            "GUNICORN_ACCESSLOG": "/dev/null",
            "GUNICORN_LOGLEVEL": "warning",
        }
        log_path = Path(tempfile.gettempdir()) / f"{queue}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        try:
            _wait_for(f"http://127.0.0.1:{port}/healthz", proc)
            ids = [f"evt_bench{i:07d}{uuid.uuid4().hex[:8]}" for i in range(args.events)]
            payloads: list[bytes] = []
            for i, event_id in enumerate(ids):
                # Every n-th delivery repeats an earlier event (Stripe's redelivery).
                dup = args.duplicates > 0 and i > 10 and i % round(1 / args.duplicates) == 0
                payloads.append(payloads[i // 2] if dup else _payload(event_id))
            latencies: list[float] = []
            failures: list[str] = []
            lock = threading.Lock()
            cursor = iter(range(len(payloads)))

            def client() -> None:
                # http.client on one keep-alive connection per thread: the load
                # generator shares the cores with the server, and requests' own
                # per-call work would be measured as if it were the server's.
                http = HTTPConnection("127.0.0.1", port, timeout=30)
                try:
                    while True:
                        with lock:
                            index = next(cursor, None)
                        if index is None:
                            return
                        body = payloads[index]
                        headers = {
                            "Host": SERVER_NAME,
                            "Content-Type": "application/json",
                            "Stripe-Signature": _sign(body),
                        }
                        t0 = time.perf_counter()
                        http.request("POST", WEBHOOK_PATH, body=body, headers=headers)
                        response = http.getresponse()
                        answer = response.read()
                        ms = (time.perf_counter() - t0) * 1000
                        with lock:
                            latencies.append(ms)
                            if response.status != 200:
                                failures.append(f"{response.status} {answer[:200]!r}")
                finally:
                    http.close()

            # Warm up every worker (imports, pools) with signed events of their own.
            warm = requests.Session()
            for _ in range(4 * args.workers):
                body = _payload(f"evt_warm{uuid.uuid4().hex}")
                warm.post(
                    url,
                    data=body,
                    headers={"Host": SERVER_NAME, "Stripe-Signature": _sign(body)},
                    timeout=30,
                )
            threads = [threading.Thread(target=client) for _ in range(args.threads)]
            server_cpu0, client_cpu0 = _server_cpu_seconds(proc), time.process_time()
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - t0
            server_cpu = _server_cpu_seconds(proc) - server_cpu0
            client_cpu = time.process_time() - client_cpu0
            queued = broker.llen(queue)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            broker.delete(queue)
            log_path.unlink(missing_ok=True)

    rate = len(latencies) / elapsed
    passed = not failures and rate >= TARGET_EVENTS_PER_SECOND
    unique = len(set(payloads))
    lines = [
        f"{len(latencies)} deliveries ({unique} distinct events) in {elapsed:.2f} s with "
        f"{args.threads} client threads, gunicorn {args.workers} workers x "
        f"{args.worker_threads} threads",
        f"acknowledged: {rate:.0f} events/s (target >= {TARGET_EVENTS_PER_SECOND:.0f})",
        f"latency: p50 {median(latencies):.1f} ms, p95 {percentile(latencies, 95):.1f} ms",
        f"CPU per delivery: gunicorn {server_cpu / len(latencies) * 1000:.2f} ms, "
        f"this client {client_cpu / len(latencies) * 1000:.2f} ms (both on the same cores)",
        f"queued for processing: {queued} (one per distinct event, warm-up included)",
        f"non-200 answers: {len(failures)}" + (f" e.g. {failures[0]}" if failures else ""),
        f"machine: {notes}",
    ]
    report(
        "webhook_intake",
        lines,
        {
            "deliveries": len(latencies),
            "distinct_events": unique,
            "events_per_second": round(rate, 1),
            "p50_ms": round(median(latencies), 2),
            "p95_ms": round(percentile(latencies, 95), 2),
            "server_cpu_ms_per_delivery": round(server_cpu / len(latencies) * 1000, 3),
            "client_cpu_ms_per_delivery": round(client_cpu / len(latencies) * 1000, 3),
            "queued": queued,
            "failures": len(failures),
            **notes,
        },
        passed,
    )
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
