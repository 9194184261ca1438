"""The plan's API rate limit on each authenticated ``/api/v1`` request.

Called once the caller's tenant is known (``app.api.auth``): counts the request in the
tenant's window (``billing.rate_limit``), answers 429 ``rate_limited`` with
``Retry-After`` past the plan's ``api_requests_per_minute``, and puts the
``RateLimit-*`` headers on whatever the request answers. Unlimited plans (Enterprise
without an override) are not counted and get no such headers.
"""

from __future__ import annotations

from flask import Response, after_this_request, current_app

from app.database import db
from app.errors import ApiError
from billing.limits import recent_tenant_plan
from billing.rate_limit import WINDOW_SECONDS, limiter_for

# A plan change reaches the rate limit within this many seconds (the plan is read again
# at most this often per tenant and process, or sooner when this request read it anyway).
PLAN_MAX_AGE_SECONDS = 60.0


def enforce(tenant_id: int) -> None:
    """Count this request for ``tenant_id``; raise 429 over the plan's limit."""
    limiter = limiter_for(current_app.config)
    if limiter is None:
        return
    limit = recent_tenant_plan(db.session, tenant_id, PLAN_MAX_AGE_SECONDS).limits.get(
        "api_requests_per_minute"
    )
    if limit is None:
        return
    state = limiter.hit(tenant_id, limit)
    if state is None:
        return
    headers = state.headers()

    @after_this_request
    def _headers(response: Response) -> Response:
        response.headers.update(headers)
        return response

    if not state.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"This workspace's plan allows {limit} API requests per minute. "
            f"Try again in {state.reset_seconds} s.",
            details={
                "limit": limit,
                "window_seconds": WINDOW_SECONDS,
                "retry_after": state.reset_seconds,
            },
            headers=headers,
        )
