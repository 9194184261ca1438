"""A real ``celery worker`` process for tests that need the broker path (Redis): its
own queue (parallel runs on one Redis never take each other's tasks), its own log, and
the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SERVER_NAME

WORKER_READY_SECONDS = 60


def worker_env(
    database_url: str, redis_url: str, queue: str, instance: Path, **extra: Any
) -> dict[str, str]:
    """The worker's environment: this test's database, broker and queue, nothing of the
    caller's own CRM settings; ``extra`` adds settings (e.g. MAIL_SMTP_HOST)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRM_", "CELERY_", "STRIPE_", "FLASK_", "MAIL_"))
        and key not in {"DATABASE_URL", "SECRET_KEY", "SERVER_NAME"}
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        CRM_CELERY_QUEUE=queue,
        SERVER_NAME=SERVER_NAME,
        CRM_INSTANCE_PATH=str(instance),
        PYTHONUNBUFFERED="1",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def start_worker(env: dict[str, str], queue: str, log: Path) -> subprocess.Popen[bytes]:
    """Start ``celery -A app.worker worker`` on ``queue`` (one process, no pool)."""
    command = [
        sys.executable, "-m", "celery", "-A", "app.worker", "worker",
        "--pool=solo", "--concurrency=1", "-Q", queue, "-n", f"{queue}@localhost",
        "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_until_ready(worker: subprocess.Popen[bytes], log: Path, queue: str) -> None:
    """Block until the worker says it is ready (or fail the test with its log)."""
    deadline = time.monotonic() + WORKER_READY_SECONDS
    while time.monotonic() < deadline:
        output = log.read_text(errors="replace") if log.exists() else ""
        if f"{queue}@localhost ready." in output:
            return
        if worker.poll() is not None:
            pytest.fail(f"celery worker exited with {worker.returncode}:\n{output}")
        time.sleep(0.2)
    pytest.fail(f"celery worker not ready after {WORKER_READY_SECONDS}s:\n{log.read_text()}")


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Stop the worker (TERM, then KILL)."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def forget_queue(redis_url: str, queue: str) -> None:
    """Remove the keys kombu keeps for a queue, so test runs leave nothing behind."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    finally:
        client.close()
