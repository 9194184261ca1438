"""Column types shared by the CRM's tenant tables."""

from __future__ import annotations

from typing import Annotated, Any

from sqlalchemy import String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import mapped_column

# Free-form labels; a GIN index answers "has tag X" on large tables.
Tags = Annotated[
    list[str],
    mapped_column(ARRAY(String(50)), default=list, server_default=text("'{}'::varchar[]")),
]
# Values of tenant-defined custom fields, by field key (validated by the services).
CustomValues = Annotated[
    dict[str, Any],
    mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb")),
]
