"""Schema names come from the tenant's immutable numeric id, never from its slug.

Slugs are user-chosen and may change; a schema name must be stable and impossible to
inject into. Every name passes ``SCHEMA_NAME_RE`` before it reaches SQL, and is then
double-quoted as well (belt and braces).
"""

from __future__ import annotations

import re

SCHEMA_PREFIX = "t_"
SCHEMA_NAME_RE = re.compile(r"^t_[0-9a-z]{1,13}$")
# A schema that never exists: the search_path of a transaction with no tenant bound.
UNBOUND_SCHEMA = "crm_no_tenant_bound"

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
RESERVED_SLUGS = frozenset(
    {
        "www",
        "admin",
        "api",
        "app",
        "mail",
        "billing",
        "static",
        "assets",
        "help",
        "support",
        "status",
        "docs",
        "blog",
        "login",
        "signup",
        "public",
        "pg_catalog",
        "information_schema",
        "root",
        "system",
        "smtp",
        "imap",
        "ftp",
        "cdn",
        "dev",
        "staging",
        "test",
        "demo-admin",
        "metrics",
        "healthz",
        "readyz",
    }
)

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class InvalidSchemaName(ValueError):
    """A string that is not a tenant schema name reached a place that needs one."""


def to_base36(number: int) -> str:
    """Lower-case base36 of a positive integer."""
    if number <= 0:
        raise ValueError("tenant ids are positive")
    digits = []
    while number:
        number, rem = divmod(number, 36)
        digits.append(_B36[rem])
    return "".join(reversed(digits))


def schema_name_for(tenant_id: int) -> str:
    """The schema name of the tenant with this id, e.g. ``t_2s`` for 100."""
    return SCHEMA_PREFIX + to_base36(tenant_id)


def validate_schema_name(name: str) -> str:
    """Return ``name`` if it is a well-formed tenant schema name, else raise."""
    if not isinstance(name, str) or not SCHEMA_NAME_RE.fullmatch(name):
        raise InvalidSchemaName(f"not a tenant schema name: {name!r}")
    return name


def quoted_schema(name: str) -> str:
    """The validated, double-quoted identifier for use in SQL text."""
    return '"' + validate_schema_name(name) + '"'


def is_valid_slug(slug: str) -> bool:
    """Slugs: 3-40 chars of a-z, 0-9 and inner hyphens, not reserved, no ``--``."""
    return (
        isinstance(slug, str)
        and bool(SLUG_RE.fullmatch(slug))
        and "--" not in slug
        and slug not in RESERVED_SLUGS
    )
