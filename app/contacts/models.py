"""Contact table (one per tenant schema)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Computed, Date, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.crm_types import CustomValues, Tags
from app.database import BigId, TenantBase, Timestamp
from app.search.indexes import (
    CONTACT_LAST_FIRST_SQL,
    CONTACT_NAME_SQL,
    PHONE_DIGITS_SQL,
    PHONE_SUFFIX_SQL,
    prefix_index,
    trigram_index,
)


class Contact(TenantBase):
    """A person the tenant sells to."""

    __tablename__ = "contacts"

    id: Mapped[BigId]
    first_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    # Search (app.search): the phone's digits whatever its formatting (None without
    # any), and one lower-case text of the name, email and company. PostgreSQL keeps
    # both, so no writer can forget them; trigram indexes make them searchable.
    phone_digits: Mapped[str | None] = mapped_column(
        String(40), Computed(PHONE_DIGITS_SQL, persisted=True)
    )
    search_text: Mapped[str] = mapped_column(
        Text,
        Computed(
            "lower(first_name || ' ' || last_name || ' ' || coalesce(email, '') || ' ' "
            "|| coalesce(company_name, ''))",
            persisted=True,
        ),
        deferred=True,  # only ever read by SQL, never worth loading with a contact
    )
    title: Mapped[str | None] = mapped_column(String(150))
    # The company as typed (B2C contacts and people whose company is not a record).
    company_name: Mapped[str | None] = mapped_column(String(200))
    # The company record the person belongs to, if any (deleting it keeps the person).
    company_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str | None] = mapped_column(String(100))
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    tags: Mapped[Tags]
    custom_fields: Mapped[CustomValues]
    notes: Mapped[str | None] = mapped_column(Text)
    # When the latest call, meeting or email with the person took place (kept by the
    # activity services, see app.lists.last_contact); None: never.
    last_contacted_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), index=True
    )
    # Platform user ids; no foreign keys into ``public`` (see app.database).
    owner_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=text("now()"))

    __table_args__ = (
        Index("ix_contacts_email_lower", text("lower(email)")),
        Index("ix_contacts_name", "last_name", "first_name", "id"),
        # "My contacts by name": the owner filter and the sort in one ordered scan (last
        # names repeat a lot, so the name index alone would read many rows per page).
        Index("ix_contacts_owner_name", "owner_id", "last_name", "id"),
        Index("ix_contacts_tags", "tags", postgresql_using="gin"),
        # Search (app.search): names by prefix, first or last name first, and phone
        # numbers by their end; substrings, typos and digits inside numbers through the
        # trigram indexes.
        prefix_index("ix_contacts_name_prefix", CONTACT_NAME_SQL),
        prefix_index("ix_contacts_last_first_prefix", CONTACT_LAST_FIRST_SQL),
        trigram_index("ix_contacts_search_text", "search_text"),
        prefix_index("ix_contacts_phone_suffix", PHONE_SUFFIX_SQL),
        trigram_index("ix_contacts_phone_digits", "phone_digits"),
    )

    @property
    def full_name(self) -> str:
        """First and last name, or the email when both are empty."""
        name = f"{self.first_name} {self.last_name}".strip()
        return name or (self.email or "")

    def touched(self) -> dt.datetime:
        """Last change time (for ETags and ordering)."""
        return self.updated_at
