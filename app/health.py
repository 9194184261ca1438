"""Liveness and readiness probes (apex host)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import ProgrammingError, SQLAlchemyError

from app.database import db
from app.errors import error_body
from tenants.fleet import fleet_status

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up (no dependencies checked: a DB outage must not restart pods)."""
    return jsonify({"status": "ok"})


def _unavailable(message: str, **body: Any) -> tuple[Response, int]:
    return jsonify({"status": "unavailable", **body, **error_body("unavailable", message)}), 503


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: the database answers and every schema is at its head revision.

    Answers 503 (with the contract's error envelope next to the probe fields) when the
    database is unreachable, not migrated, or any live tenant is behind or failed.
    """
    try:
        status = fleet_status(db.engine)
    except ProgrammingError:
        # The server answered, but the platform tables are missing.
        log.warning("readiness: database reachable but not migrated")
        return _unavailable(
            "The database is not migrated.", database="ok", migrations="not applied"
        )
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        return _unavailable("The database is unreachable.", database="unreachable")
    body = {
        "database": "ok",
        "migrations": {
            "public": {"current": status.public_version, "head": status.public_head},
            "tenants": {
                "head": status.tenant_head,
                "at_head": status.at_head,
                "behind": status.behind,
                "failed": status.failed,
            },
        },
    }
    if status.ok:
        return jsonify({"status": "ok", **body}), 200
    return _unavailable("Schemas are not at their head revision.", **body)
