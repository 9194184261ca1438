"""What the search indexes of the record tables are made of (imported by the models,
so it imports no model itself).

pg_trgm lives in ``public`` (migration p0004) while a tenant transaction's search path
names only the tenant schema, so every reference to it is schema-qualified: the
operator class here, ``OPERATOR(public.<%)`` and ``public.word_similarity`` in
:mod:`app.search.services`. ``LIKE``/``ILIKE`` are core operators that the same index
answers.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Index, Text, literal_column, text

# The phone's digits, whatever its formatting: "+1 (555) 010-2000" -> "15550102000";
# None when the phone has no digit at all (so that two empty ones never "match").
PHONE_DIGITS_SQL = "NULLIF(regexp_replace(phone, '[^0-9]', '', 'g'), '')"
TRIGRAM_OPS = "public.gin_trgm_ops"
# The texts searched by prefix (see :func:`prefix_index`), parenthesised as PostgreSQL
# prints them back, so that Alembic's comparison of model and database agrees.
CONTACT_NAME_SQL = "((first_name || ' ') || last_name)"
CONTACT_LAST_FIRST_SQL = "((last_name || ' ') || first_name)"
# Phone numbers by their end ("ends with" is a prefix of the reversed digits): a number
# typed without its country code, or only its last digits.
PHONE_SUFFIX_SQL = "reverse(phone_digits)"
# pg_trgm splits words at anything that is not a letter or a digit.
_WORD_SEPARATORS = re.compile(r"[\W_]+")


def trigram_index(name: str, column: str) -> Index:
    """A GIN trigram index on ``column``: substring (``LIKE``/``ILIKE '%...%'``), word
    similarity (typos) and equality searches use it."""
    return Index(name, column, postgresql_using="gin", postgresql_ops={column: TRIGRAM_OPS})


def prefix_key(sql: str) -> ColumnElement[str]:
    """``lower(<sql> COLLATE "C")``: the key of :func:`prefix_index` (a query must spell
    the expression as the index does for PostgreSQL to use it)."""
    return literal_column(f'lower({sql} COLLATE "C")', type_=Text)


def prefix_index(name: str, sql: str) -> Index:
    """A B-tree on ``lower(<sql>)`` in byte order (the "C" collation, which the key
    carries, so that comparisons and ``ORDER BY`` of it use the index): "starts with" is
    a range of it, read in order, and the first few matches of even a two-letter prefix
    are found without looking at the others (a trigram index has to collect every match
    first). ``sql`` names columns of the table only."""
    return Index(name, text(f'lower({sql} COLLATE "C")'))


def has_trigram(text: str) -> bool:
    """Whether pg_trgm can take a trigram from ``text`` for ``LIKE '%text%'``: some run
    of three letters or digits. Without one the index can only be read whole, so a
    substring search of such a text should not name it."""
    return any(len(word) >= 3 for word in _WORD_SEPARATORS.split(text))
