"""The ``mail.send`` task: one message per task, retried while the server is away."""

from __future__ import annotations

import smtplib
from typing import Any

from flask import current_app

from app.database import db
from app.mail.delivery import deliver
from app.mail.services import Mail
from app.tasks import celery_app

# Give a temporarily unreachable SMTP server about half an hour in all.
MAX_RETRIES = 6


@celery_app.task(name="mail.send", bind=True, max_retries=MAX_RETRIES, acks_late=True)
def send_mail(self: Any, message: dict[str, str]) -> None:
    """Deliver one composed message."""
    mail = Mail(**message)
    try:
        deliver(current_app.config, db.engine, mail)
    except (smtplib.SMTPException, OSError) as exc:
        if self.request.is_eager:
            raise
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 900)) from exc
