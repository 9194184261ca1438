"""Online signup on the apex host."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("signup", __name__)
