"""Mail leaves only after commit, with text and HTML parts, through a real SMTP server;
with no SMTP server configured it is kept in the development outbox."""

from __future__ import annotations

import uuid

from flask import Flask
from sqlalchemy import select

from app.database import db
from app.mail.models import OutboxMessage
from app.mail.services import Mail, send_after_commit
from tests.conftest import make_app
from tests.support.smtp import SmtpSink


def _mail(to: str) -> Mail:
    return Mail(
        to=to,
        subject="Welcome to the CRM",
        text="Open https://acme.crm.test/welcome to start.",
        html='<p><a href="https://acme.crm.test/welcome">Start</a></p>',
    )


def _address() -> str:
    return f"person-{uuid.uuid4().hex[:8]}@mail.example"


def test_mail_is_sent_through_smtp_after_commit(app: Flask, smtp_sink: SmtpSink) -> None:
    to = _address()
    with app.app_context():
        send_after_commit(db.session, _mail(to))
        assert smtp_sink.to(to) == []  # nothing leaves before the commit
        db.session.commit()
        db.session.remove()
    received = smtp_sink.last_to(to)
    assert received.subject == "Welcome to the CRM"
    assert received.links() == ["https://acme.crm.test/welcome"]
    assert received.html_links() == ["https://acme.crm.test/welcome"]
    assert received.message["From"] == app.config["MAIL_FROM"]
    assert received.message["Auto-Submitted"] == "auto-generated"


def test_rolled_back_work_sends_no_mail(app: Flask, smtp_sink: SmtpSink) -> None:
    to, control = _address(), _address()
    with app.app_context():
        send_after_commit(db.session, _mail(to))
        db.session.rollback()
        # A later commit in the same session must not send what was rolled back.
        send_after_commit(db.session, _mail(control))
        db.session.commit()
        db.session.remove()
    smtp_sink.wait_for(control)
    assert smtp_sink.to(to) == []


def test_without_smtp_mail_is_kept_in_the_outbox(app: Flask, database_url: str) -> None:
    outbox_app = make_app(database_url)
    assert not outbox_app.config["MAIL_SMTP_HOST"]
    to = _address()
    with outbox_app.app_context():
        send_after_commit(db.session, _mail(to))
        db.session.commit()
        kept = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == to)).all()
        assert [m.subject for m in kept] == ["Welcome to the CRM"]
        assert "https://acme.crm.test/welcome" in kept[0].text_body
        db.session.remove()
        db.engine.dispose()


def test_an_unreachable_smtp_server_does_not_break_the_committed_change(
    app: Flask, database_url: str
) -> None:
    # Port 9 on loopback (discard) is closed here: connecting fails at once.
    broken = make_app(database_url, MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=9)
    with broken.app_context():
        send_after_commit(db.session, _mail(_address()))
        db.session.commit()  # logs the failure, raises nothing
        db.session.remove()
        db.engine.dispose()
