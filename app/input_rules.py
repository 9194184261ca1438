"""What the database can store and which characters typed input may hold.

One definition, shared by the API schemas, the page forms, the pagination cursors and
the services, so that every door refuses the same things.
"""

from __future__ import annotations

import re

# PostgreSQL bigint, the type of every id.
MAX_BIGINT = 2**63 - 1
# NUL can not be stored in PostgreSQL text; lone surrogates can not be encoded as UTF-8.
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# C0 control characters and DEL, except tab and line breaks (multi-line text).
CONTROL_EXCEPT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every C0 control character and DEL (single-line text).
CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f]")


def substring_pattern(text: str) -> str:
    """A ``LIKE``/``ILIKE`` pattern (escape character ``\\``) matching ``text`` anywhere,
    with ``%``, ``_`` and the escape itself taken literally; storable characters only."""
    text = UNSTORABLE.sub("", text).strip()
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
