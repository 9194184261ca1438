"""Comment table (one per tenant schema): what colleagues write on a client card.

A comment is written on exactly one card (a contact, a company or a deal: the check
constraint holds it) and shows in the timeline of every record that card concerns,
through the timeline event it owns (``timeline_event_id``). Deleting the card deletes
its comments. Deleting a comment deletes its row and its event: a removed comment is
gone from every card, and the audit log keeps who removed what.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, TenantBase, Timestamp

COMMENT_CARDS = ("contact", "company", "deal")


class Comment(TenantBase):
    """One comment, with the ids of the members it mentions."""

    __tablename__ = "comments"

    id: Mapped[BigId]
    # Plain text with mention tokens (see app.comments.mentions).
    body: Mapped[str] = mapped_column(Text)
    # Platform user id; no foreign keys into ``public`` (see app.database).
    author_id: Mapped[int] = mapped_column(BigInteger)
    # The card it was written on: exactly one of the three.
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="CASCADE")
    )
    company_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("companies.id", ondelete="CASCADE")
    )
    deal_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("deals.id", ondelete="CASCADE")
    )
    # User ids of the members it mentions, in order of first mention.
    mentions: Mapped[list[int]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    # Its entry in the client histories (null once a related record's deletion took the
    # event with it; the comment itself stays on its own card's list).
    timeline_event_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("timeline_events.id", ondelete="SET NULL")
    )
    created_at: Mapped[Timestamp]
    edited_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("num_nonnulls(contact_id, company_id, deal_id) = 1", name="one_card"),
        CheckConstraint("char_length(body) BETWEEN 1 AND 10000", name="body_length"),
        # A card's comments, newest first (the API list), one range scan each.
        Index(
            "ix_comments_contact",
            "contact_id",
            "created_at",
            "id",
            postgresql_where=text("contact_id IS NOT NULL"),
        ),
        Index(
            "ix_comments_company",
            "company_id",
            "created_at",
            "id",
            postgresql_where=text("company_id IS NOT NULL"),
        ),
        Index(
            "ix_comments_deal",
            "deal_id",
            "created_at",
            "id",
            postgresql_where=text("deal_id IS NOT NULL"),
        ),
        # The card panel finds a page's comments by their events.
        Index("uq_comments_timeline_event", "timeline_event_id", unique=True),
    )
