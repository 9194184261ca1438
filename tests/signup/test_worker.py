"""Signup through the broker: a real ``celery worker`` (Redis) provisions the workspace
while the progress page polls, and the verification mail leaves from the worker through
the real SMTP server."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask

from app.tasks import celery_app
from tests.conftest import mail_settings
from tests.signup.conftest import Visitor
from tests.support.smtp import SmtpSink
from tests.support.worker import real_worker

READY_SECONDS = 60


@pytest.mark.redis
def test_a_real_worker_provisions_the_signup_and_sends_its_mail(
    app: Flask, database_url: str, redis_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    with real_worker(
        app,
        database_url,
        redis_url,
        tmp_path,
        sender_config=mail_settings(smtp_sink),
        worker_settings={"MAIL_SMTP_HOST": smtp_sink.host, "MAIL_SMTP_PORT": smtp_sink.port},
    ) as run:
        sender, log = run.sender, run.log
        visitor = Visitor(sender)
        slug = f"wk-{uuid.uuid4().hex[:10]}"
        email = f"nora@{slug}.example"
        with sender.app_context():
            assert not celery_app.conf.task_always_eager
        posted = visitor.sign_up(slug=slug, email=email)
        assert posted.status_code == 303, posted.get_data(as_text=True)[:2000]
        progress_path = urlsplit(posted.location).path

        # The page polls its status until the worker has made the workspace.
        deadline = time.monotonic() + READY_SECONDS
        seen: list[str] = []
        while True:
            status = visitor.get(f"{progress_path}/status").get_json()
            seen.append(status["status"])
            if status["status"] == "ready":
                break
            assert status["status"] in {"pending", "provisioning"}, status
            assert time.monotonic() < deadline, f"not ready: {seen}\n{log.read_text()}"
            time.sleep(0.2)

        progress = visitor.get(progress_path)
        assert progress.status_code == 302
        welcome = visitor.open_absolute(progress.location)
        assert welcome.status_code == 302
        home = visitor.get("/contacts", base_url=f"http://{slug}.{sender.config['SERVER_NAME']}")
        assert home.status_code == 200

        # The verification mail was sent by the worker, after its commit.
        mail = smtp_sink.last_to(email)
        assert any(f"http://{slug}." in link and "/verify-email/" in link for link in mail.links())
    assert celery_app.conf.task_always_eager
