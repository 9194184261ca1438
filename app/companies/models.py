"""Company table (one per tenant schema)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Computed, DateTime, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.crm_types import CustomValues, Tags
from app.database import BigId, TenantBase, Timestamp
from app.search.indexes import (
    PHONE_DIGITS_SQL,
    PHONE_SUFFIX_SQL,
    prefix_index,
    trigram_index,
)

# Headcount bands offered for ``size`` (what people know about a prospect).
COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5000+")


class Company(TenantBase):
    """An organisation the tenant sells to; contacts and deals may belong to it."""

    __tablename__ = "companies"

    id: Mapped[BigId]
    name: Mapped[str] = mapped_column(String(200))
    # Lower-case host name without scheme or "www." (the services normalise it).
    domain: Mapped[str | None] = mapped_column(String(253))
    industry: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(40))
    # Search (app.search): the phone's digits whatever its formatting (None without
    # any), and one lower-case text of the name and domain, both kept by PostgreSQL.
    phone_digits: Mapped[str | None] = mapped_column(
        String(40), Computed(PHONE_DIGITS_SQL, persisted=True)
    )
    search_text: Mapped[str] = mapped_column(
        Text,
        Computed("lower(name || ' ' || coalesce(domain, ''))", persisted=True),
        deferred=True,  # only ever read by SQL, never worth loading with a company
    )
    notes: Mapped[str | None] = mapped_column(Text)
    # When the latest call, meeting or email with the company took place (kept by the
    # activity services, see app.lists.last_contact); None: never.
    last_contacted_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), index=True
    )
    # Platform user ids; no foreign keys into ``public`` (see app.database).
    owner_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    tags: Mapped[Tags]
    custom_fields: Mapped[CustomValues]
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=text("now()"))

    __table_args__ = (
        Index("ix_companies_name_lower", text("lower(name)"), "id"),
        Index("ix_companies_domain", "domain"),
        Index("ix_companies_tags", "tags", postgresql_using="gin"),
        prefix_index("ix_companies_name_prefix", "name"),
        trigram_index("ix_companies_search_text", "search_text"),
        prefix_index("ix_companies_phone_suffix", PHONE_SUFFIX_SQL),
        trigram_index("ix_companies_phone_digits", "phone_digits"),
    )
