"""Composing mail and handing it to the queue once the transaction has committed.

Services call :func:`send_after_commit` inside their transaction. Nothing leaves until
the commit succeeds (a rolled-back invitation sends no mail), and then each message goes
to the ``mail.send`` Celery task: eagerly in-process by default, through the broker
when one is configured.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from flask import render_template
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.database import DbSession

log = logging.getLogger(__name__)

_PENDING_KEY = "crm_outgoing_mail"


@dataclass(frozen=True, slots=True)
class Mail:
    """One message with a plain-text and an HTML part."""

    to: str
    subject: str
    text: str
    html: str

    def as_dict(self) -> dict[str, str]:
        """The JSON-serialisable form carried by the task message."""
        return asdict(self)


def compose(template: str, *, to: str, subject: str, **context: Any) -> Mail:
    """Render ``mail/<template>.txt`` and ``mail/<template>.html`` for ``to``.

    Both templates get ``subject`` and ``context``; callers pass absolute URLs (mail is
    read far from any request).
    """
    context = {**context, "subject": subject}
    return Mail(
        to=to,
        subject=subject,
        text=render_template(f"mail/{template}.txt", **context),
        html=render_template(f"mail/{template}.html", **context),
    )


def send_after_commit(session: DbSession, mail: Mail) -> None:
    """Queue ``mail`` to be sent when the caller's transaction commits."""
    # Make sure there is a transaction, so that a rollback (which discards the queue)
    # is seen even if nothing else was written yet.
    session.connection()
    session.info.setdefault(_PENDING_KEY, []).append(mail)


@event.listens_for(Session, "after_commit")
def _dispatch(session: Session) -> None:
    pending: list[Mail] = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    from app.mail.tasks import send_mail

    for mail in pending:
        try:
            send_mail.delay(mail.as_dict())
        except Exception:
            # The change is committed; a broker or SMTP failure must not turn it into an
            # error page. The log names the recipient so the mail can be resent.
            log.exception("could not queue mail to=%s subject=%r", mail.to, mail.subject)


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING_KEY, None)
