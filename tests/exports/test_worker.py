"""A large export through the broker: a real ``celery worker`` (Redis) writes the file
while the API is polled, and the web process serves it from the shared storage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask

from app.contacts.models import Contact
from app.tasks import celery_app
from tests.api.conftest import Api
from tests.conftest import Factory
from tests.exports.conftest import add_rows, read_csv, read_xlsx
from tests.support.worker import real_worker

DONE_SECONDS = 90
ROWS = 3000


@pytest.mark.redis
def test_a_real_worker_writes_the_export_while_it_is_polled(
    app: Flask, database_url: str, redis_url: str, factory: Factory, tmp_path: Path
) -> None:
    tf = factory.tenant("worker", plan="pro")
    add_rows(
        app,
        tf,
        [Contact(first_name=f"Person {n}", last_name="=1+1" if n == 7 else "Doe",
                 owner_id=tf.owner_id) for n in range(ROWS)],
    )  # fmt: skip
    # The web app and the worker share one storage directory (a volume in production).
    with real_worker(
        app, database_url, redis_url, tmp_path, sender_config={"INSTANCE_PATH": str(tmp_path)}
    ) as run:
        sender, log = run.sender, run.log
        with sender.app_context():
            assert not celery_app.conf.task_always_eager
        api = Api(sender.test_client(), tf)
        for fmt in ("csv", "xlsx"):
            response = api.post("/exports", json={"entity": "contact", "format": fmt})
            assert response.status_code == 202, response.get_json()
            job = response.get_json()
            assert job["status"] == "queued" and job["download_url"] is None
            seen: list[tuple[str, int]] = []
            deadline = time.monotonic() + DONE_SECONDS
            while job["status"] in ("queued", "running"):
                seen.append((job["status"], job["progress"]))
                assert time.monotonic() < deadline, f"not done: {seen}\n{log.read_text()}"
                time.sleep(0.1)
                job = api.get(f"/exports/{job['id']}").get_json()
            assert job["status"] == "done", (job, log.read_text())
            assert job["rows_total"] == job["rows_written"] == ROWS
            progress = [p for _, p in seen]
            assert progress == sorted(progress), seen
            download = api.get(f"/exports/{job['id']}/download")
            assert download.status_code == 200
            data = download.get_data()
            download.close()
            assert (tmp_path / "exports" / str(tf.tenant.id)).is_dir()
            if fmt == "csv":
                rows = read_csv(data)
                assert len(rows) == ROWS + 1
                assert rows[8][2] == "'=1+1"
            else:
                assert len(read_xlsx(data)["Contacts"]) == ROWS + 1
