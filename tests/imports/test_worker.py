"""An import through the broker: a real ``celery worker`` (Redis) runs the job of the
tenant named in the message, while the caller polls its status."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask

from app.tasks import celery_app
from tests.api.conftest import Api
from tests.conftest import Factory
from tests.imports.conftest import contacts, upload
from tests.support.worker import real_worker

DONE_SECONDS = 90


@pytest.mark.redis
def test_a_real_worker_runs_the_import(
    app: Flask, database_url: str, redis_url: str, factory: Factory, tmp_path: Path
) -> None:
    a = factory.tenant("wimp", plan="pro")
    b = factory.tenant("wother", plan="pro")
    with real_worker(
        app,
        database_url,
        redis_url,
        tmp_path,
        worker_settings={"IMPORT_CHUNK_ROWS": 500},  # the progress moves in several steps
    ) as run:
        sender, log = run.sender, run.log
        with sender.app_context():
            assert not celery_app.conf.task_always_eager
        api = Api(sender.test_client(), a)
        rows = "".join(f"Person {i},p{i}@example.com\n" for i in range(3000))
        job = upload(api, "Name,Email\n" + rows + "Bad,not-an-email\n").get_json()
        started = api.post(f"/imports/{job['id']}/start", json={})
        assert started.status_code == 202
        assert started.get_json()["status"] in {"queued", "running", "done"}
        deadline = time.monotonic() + DONE_SECONDS
        seen: list[tuple[str, int]] = []
        while True:
            state = api.get(f"/imports/{job['id']}").get_json()
            seen.append((state["status"], state["processed_rows"]))
            if state["status"] == "done":
                break
            assert state["status"] in {"queued", "running"}, state
            assert time.monotonic() < deadline, f"not done: {seen[-5:]}\n{log.read_text()}"
            time.sleep(0.1)
        assert state["counts"] == {"created": 3000, "updated": 0, "skipped": 0, "failed": 1}
        # Progress moved in steps of a chunk, never backwards.
        processed = [p for _s, p in seen]
        assert processed == sorted(processed)
        assert len(contacts(app, a)) == 3000
        assert contacts(app, b) == []
    assert celery_app.conf.task_always_eager
