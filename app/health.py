"""Liveness and readiness probes (apex host)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app.database import db
from tenants.fleet import fleet_status

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up (no dependencies checked: a DB outage must not restart pods)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: the database answers and every schema is at its head revision."""
    try:
        status = fleet_status(db.engine)
    except SQLAlchemyError:
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    body = {
        "status": "ok" if status.ok else "unavailable",
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
    return jsonify(body), 200 if status.ok else 503
