"""Delivering a composed message: SMTP when configured, else the development outbox."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import Engine, insert

from app.mail.models import OutboxMessage
from app.mail.services import Mail

log = logging.getLogger(__name__)


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """A MIME message: text first, HTML as the preferred alternative."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    # Mail about accounts must not trigger vacation auto-replies.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def send_smtp(config: dict[str, Any], mail: Mail) -> None:
    """Send through the configured SMTP server (STARTTLS or implicit TLS if asked)."""
    host = config["MAIL_SMTP_HOST"]
    port = int(config.get("MAIL_SMTP_PORT") or 25)
    timeout = float(config.get("MAIL_SMTP_TIMEOUT") or 10)
    message = build_message(mail, config["MAIL_FROM"])
    smtp: smtplib.SMTP
    if config.get("MAIL_SMTP_SSL"):
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if config.get("MAIL_SMTP_STARTTLS") and not config.get("MAIL_SMTP_SSL"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_SMTP_USERNAME"):
            smtp.login(config["MAIL_SMTP_USERNAME"], config.get("MAIL_SMTP_PASSWORD") or "")
        smtp.send_message(message)


def store_in_outbox(engine: Engine, mail: Mail) -> None:
    """Keep the message for the development outbox page (own transaction)."""
    with engine.begin() as conn:
        conn.execute(
            insert(OutboxMessage).values(
                to_address=mail.to, subject=mail.subject, text_body=mail.text, html_body=mail.html
            )
        )
    log.info("mail kept in the outbox to=%s subject=%r", mail.to, mail.subject)


def deliver(config: dict[str, Any], engine: Engine, mail: Mail) -> None:
    """Send ``mail`` the configured way."""
    if config.get("MAIL_SMTP_HOST"):
        send_smtp(config, mail)
    else:
        store_in_outbox(engine, mail)
