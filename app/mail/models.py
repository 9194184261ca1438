"""The development outbox (public schema): mail kept instead of sent.

With no SMTP server configured (the embedded default) every message lands here and the
apex ``/outbox`` page shows it, so sign-up, invitation and reset links can be followed
on a laptop. With SMTP configured nothing is stored: links in mail are secrets.
"""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, PublicBase, Timestamp


class OutboxMessage(PublicBase):
    """One message as it would have been sent."""

    __tablename__ = "mail_outbox"

    id: Mapped[BigId]
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[Timestamp]
