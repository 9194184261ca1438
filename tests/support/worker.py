"""A real ``celery worker`` process for tests that need the broker path (Redis): its
own queue (parallel runs on one Redis never take each other's tasks), its own log, and
the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import ROOT, SERVER_NAME, make_app

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


@dataclass(frozen=True)
class BrokerRun:
    """A running worker and the app that sends it tasks through Redis."""

    sender: Flask  # a second app whose Celery is not eager: its tasks go to ``queue``
    queue: str
    log: Path
    worker: subprocess.Popen[bytes]


@contextmanager
def real_worker(
    app: Flask,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    *,
    sender_config: dict[str, Any] | None = None,
    worker_settings: dict[str, Any] | None = None,
) -> Iterator[BrokerRun]:
    """A ready ``celery worker`` on a queue of its own and a sender app for it.

    Afterwards, whatever happened: the worker is stopped, its queue forgotten, the
    sender's pooled connections closed, and ``app`` gets its eager Celery back. The
    Celery app is one per process, so a test that left it pointing at Redis would make
    every later test in the same process queue its tasks instead of running them.
    """
    from app.database import db
    from app.tasks import init_celery

    queue = f"crm-test-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    sender = make_app(
        database_url,
        CELERY_BROKER_URL=redis_url,
        CELERY_RESULT_BACKEND=redis_url,
        CELERY_TASK_QUEUE=queue,
        **(sender_config or {}),
    )
    env = worker_env(
        database_url,
        redis_url,
        queue,
        tmp_path,
        SECRET_KEY=sender.config["SECRET_KEY"],
        **(worker_settings or {}),
    )
    worker = start_worker(env, queue, log)
    try:
        wait_until_ready(worker, log, queue)
        yield BrokerRun(sender=sender, queue=queue, log=log, worker=worker)
    finally:
        stop_worker(worker)
        forget_queue(redis_url, queue)
        with sender.app_context():
            db.engine.dispose()  # its pooled connections, closed now rather than by the GC
        init_celery(app)
