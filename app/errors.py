"""One error format for the API, friendly pages for people, never a stack trace.

API errors: ``{"error": {"code", "message", "details"}}`` with the contract's codes.
Errors a user can not cause are logged with the tenant id and request id.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from billing.limits import PlanLimitExceeded

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "validation_error",  # the contract has one code for every 400
    401: "unauthorized",
    402: "plan_limit_exceeded",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """An error answered in the contract's JSON format."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class InvalidInput(Exception):
    """Input a service refuses, with per-field messages.

    Raised by services (the only writers), whoever called them: API clients get a 400
    ``validation_error`` with the details, people get the 400 page (forms check the same
    rules first, so they rarely get there).
    """

    def __init__(self, details: dict[str, list[str]], message: str = "Invalid input.") -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def validation_error(details: dict[str, Any], message: str = "Invalid input.") -> ApiError:
    """400 ``validation_error`` with per-field messages."""
    return ApiError(400, "validation_error", message, details)


def not_found() -> ApiError:
    """404 for missing records, other tenants' records and out-of-scope records alike."""
    return ApiError(404, "not_found", "Not found.")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The contract's error envelope."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def wants_json() -> bool:
    """API requests (and clients asking for JSON) get JSON errors."""
    if request.path == "/api" or request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def _json(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    return response


def request_id() -> str:
    """This request's id (from a trusted proxy's X-Request-ID, else generated)."""
    rid = g.get("request_id")
    if rid is None:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        g.request_id = rid
    return str(rid)


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        response = _json(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(InvalidInput)
    def _invalid_input(exc: InvalidInput) -> Any:
        if wants_json():
            return _json(400, "validation_error", exc.message, exc.details)
        return render_template("errors/error.html", status=400, error=None), 400

    @app.errorhandler(PlanLimitExceeded)
    def _plan_limit(exc: PlanLimitExceeded) -> Any:
        if wants_json():
            return _json(402, "plan_limit_exceeded", exc.message, exc.details)
        return render_template("errors/error.html", status=402, error=None, limit=exc), 402

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if wants_json():
            code = HTTP_CODES.get(status, "error")
            message = exc.description if status < 500 else _("Something went wrong.")
            response = _json(status, code, str(message))
            if status == 405 and exc.get_response().headers.get("Allow"):
                response.headers["Allow"] = exc.get_response().headers["Allow"]
            return response
        return render_template("errors/error.html", status=status, error=exc), status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        tenant = g.get("tenant")
        log.exception(
            "unhandled error request_id=%s tenant_id=%s path=%s",
            request_id(),
            getattr(tenant, "id", None),
            request.path,
        )
        if wants_json():
            return _json(
                500, "internal_error", "Something went wrong.", {"request_id": request_id()}
            )
        return render_template("errors/error.html", status=500, error=None), 500

    @app.after_request
    def _tag(response: Response) -> Response:
        response.headers.setdefault("X-Request-ID", request_id())
        return response
