"""Custom field definitions (one table per tenant schema).

Values live on the records themselves (``custom_fields`` JSONB, by key), so a card
reads its values with the row and a list filters them in SQL. The definition says how
a value is typed, validated, shown, filtered and sorted; the services refuse a value
that does not fit it on every write (pages, API, import).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, TenantBase, Timestamp

# The records that carry custom fields (the ``entity`` of a definition).
CUSTOM_FIELD_ENTITIES = ("contact", "company", "deal")
# Value shapes in ``custom_fields`` JSON: text, long_text, url, email, phone and
# single_select are strings; number is a JSON number; money is
# {"amount": "12.50", "currency": "EUR"}; date is "YYYY-MM-DD"; checkbox is a boolean;
# multi_select is a list of option strings.
FIELD_TYPES = (
    "text",
    "long_text",
    "number",
    "money",
    "date",
    "checkbox",
    "single_select",
    "multi_select",
    "url",
    "email",
    "phone",
)


class CustomFieldDefinition(TenantBase):
    """One tenant-defined field of contacts, companies or deals."""

    __tablename__ = "custom_field_definitions"

    id: Mapped[BigId]
    entity: Mapped[str] = mapped_column(String(10))
    # The JSON key of the value: lower-case letters, digits and "_", fixed once created
    # (API clients and import mappings refer to it).
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(100))
    # Fixed once created: stored values were validated against it.
    type: Mapped[str] = mapped_column(String(20))
    required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Choices of single_select and multi_select, in display order.
    options: Mapped[list[Any]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    position: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=text("now()"))

    __table_args__ = (
        Index("uq_custom_field_definitions_entity_key", "entity", "key", unique=True),
    )
