"""Alembic plumbing shared by both environments and the fleet runner."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

# CRM_MIGRATIONS_DIR points the runner at another copy of the scripts (bench/ adds a
# revision there without touching the repository); by default the repository's own.
MIGRATIONS_DIR = Path(
    os.environ.get("CRM_MIGRATIONS_DIR") or Path(__file__).resolve().parent.parent / "migrations"
)
PUBLIC = "public"
TENANT = "tenant"
VERSION_TABLE = "alembic_version"


def alembic_config(kind: str, database_url: str | None = None) -> Config:
    """An Alembic config for ``public`` or ``tenant`` migrations (no ini file needed)."""
    if kind not in (PUBLIC, TENANT):
        raise ValueError(kind)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / kind))
    if database_url:
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


@lru_cache(maxsize=2)
def script_directory(kind: str) -> ScriptDirectory:
    """The (cached) Alembic script directory of ``kind``."""
    return ScriptDirectory.from_config(alembic_config(kind))


def head_revision(kind: str) -> str:
    """The single head revision of ``kind`` (expand/contract keeps history linear)."""
    head = script_directory(kind).get_current_head()
    if head is None:
        raise RuntimeError(f"no {kind} migrations found")
    return head
