"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests to
read the mail the application sent: subjects, parts and the links inside."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from html import unescape
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    """One delivered message, parsed."""

    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    def links(self) -> list[str]:
        """Every http(s) link of the text part, in order."""
        return re.findall(r"https?://[^\s<>\"]+", self.text)

    def html_links(self) -> list[str]:
        return [unescape(h) for h in re.findall(r'href="([^"]+)"', self.html)]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        received = ReceivedMail(
            envelope.mail_from, tuple(a.lower() for a in envelope.rcpt_tos), message
        )
        with self.sink.condition:
            self.sink.messages.append(received)
            self.sink.condition.notify_all()
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """Start with :meth:`start`; ``host``/``port`` go into the app's MAIL_SMTP_* settings."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.condition = threading.Condition()
        self.port = _free_port()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[ReceivedMail]:
        """Messages delivered to ``address`` so far, oldest first."""
        address = address.lower()
        with self.condition:
            return [m for m in self.messages if address in m.recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until ``address`` has ``count`` messages (a worker may still be sending)."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                found = [m for m in self.messages if address.lower() in m.recipients]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{address} received {len(found)} message(s), expected {count}"
                    )
                self.condition.wait(remaining)

    def last_to(self, address: str) -> ReceivedMail:
        """The newest message to ``address`` (waiting for at least one)."""
        return self.wait_for(address)[-1]
