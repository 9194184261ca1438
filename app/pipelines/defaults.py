"""The pipeline every new workspace starts with."""

from __future__ import annotations

DEFAULT_PIPELINE_NAME = "Sales"
# (name, probability, kind)
DEFAULT_STAGES: tuple[tuple[str, int, str], ...] = (
    ("Lead", 10, "open"),
    ("Qualified", 25, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 75, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
)
# The swatch each kind of stage gets unless told otherwise (names of
# app.pipelines.models.STAGE_COLORS).
DEFAULT_COLORS = {"open": "blue", "won": "green", "lost": "red"}
