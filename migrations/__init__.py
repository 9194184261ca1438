"""Alembic environments: ``public`` (platform tables) and ``tenant`` (per-schema)."""
