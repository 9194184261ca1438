"""The API rate limit of a plan (``api_requests_per_minute``), counted per tenant in Redis.

A fixed window of 60 s per tenant: one Redis key ``<prefix>:t<tenant id>:api-rate``
(prefixed by tenant, as every key of the platform is) counts the requests of the current
window and expires with it. One Lua script increments it, starts its 60 s expiry on the
first request of a window, and returns the count and the milliseconds left: one round
trip per request, atomic across every web process.

Why a fixed window: it is one small key and one ``INCR`` per tenant and request, and its
answer is exact and easy to state in the headers (``RateLimit-Reset`` is when the count
starts over). Its known weakness, up to twice the rate across a window's edge, does not
matter for a plan quota; a sliding log would keep one entry per request (1,200 per Pro
tenant) for a gain nobody is paying for.

Availability comes first: without Redis configured the limiter is off (said once in the
log); when the configured Redis fails, requests are served unlimited (fail open), the
failure is logged at most once a minute, and Redis is not asked again for a few seconds
so that a hanging server does not slow every request down.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# After a Redis error, requests go unlimited for this long before Redis is tried again.
PAUSE_AFTER_ERROR_SECONDS = 5.0
# A Redis failure is logged at most this often (with the count of failures since).
LOG_EVERY_SECONDS = 60.0
# Redis URL schemes the limiter can use (a broker URL of another kind is not Redis).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

# KEYS[1]: the tenant's counter; ARGV[1]: the window in milliseconds.
# Returns {count, milliseconds until the window ends}.
_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """Where a tenant stands in the current window, after counting this request."""

    limit: int
    count: int
    reset_seconds: int

    @property
    def allowed(self) -> bool:
        """Whether this request is within the limit."""
        return self.count <= self.limit

    @property
    def remaining(self) -> int:
        """Requests left in this window."""
        return max(0, self.limit - self.count)

    def headers(self) -> dict[str, str]:
        """The ``RateLimit-*`` headers of the answer (and ``Retry-After`` over the limit)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={WINDOW_SECONDS}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


class RateLimiter:
    """Counts requests per tenant in one Redis (one per web process and URL; its
    connection pool is shared by the process's threads)."""

    def __init__(self, url: str, *, key_prefix: str = "crm", timeout_seconds: float = 0.2) -> None:
        self.url = url
        self.key_prefix = key_prefix
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            # A dead server is noticed by the request that meets it; no retries that
            # would multiply the delay.
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self._script = self._client.register_script(_COUNT_SCRIPT)
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._failures = 0
        self._logged_at = -math.inf

    def key(self, tenant_id: int) -> str:
        """The tenant's counter key (tenant-prefixed, within the deployment's prefix)."""
        return f"{self.key_prefix}:t{int(tenant_id)}:api-rate"

    def hit(self, tenant_id: int, limit: int) -> RateLimitState | None:
        """Count one request of ``tenant_id`` against ``limit`` per window; None when
        Redis could not be asked (the request is then served: fail open)."""
        now = time.monotonic()
        if now < self._paused_until:
            return None
        try:
            count, ttl_ms = self._script(keys=[self.key(tenant_id)], args=[WINDOW_SECONDS * 1000])
        except redis.RedisError as exc:
            self._failed(exc, now)
            return None
        reset = max(1, math.ceil(int(ttl_ms) / 1000))
        return RateLimitState(limit=limit, count=int(count), reset_seconds=reset)

    def _failed(self, exc: Exception, now: float) -> None:
        with self._lock:
            self._paused_until = now + PAUSE_AFTER_ERROR_SECONDS
            self._failures += 1
            if now - self._logged_at < LOG_EVERY_SECONDS:
                return
            failures, self._failures = self._failures, 0
            self._logged_at = now
        log.warning(
            "API rate limit not enforced: Redis unavailable (%s: %s); %d failure(s) in the "
            "last minute, requests are served without a limit (next check in %.0f s)",
            type(exc).__name__,
            exc,
            failures,
            PAUSE_AFTER_ERROR_SECONDS,
        )

    def close(self) -> None:
        """Close the pool's connections."""
        self._client.close()


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()
_said_off = False


def redis_url_of(config: Any) -> str | None:
    """The Redis the rate limit uses: ``RATE_LIMIT_REDIS_URL``, else the Celery broker
    when it is a Redis (not under ``TESTING``: tests turn the limiter on themselves);
    None when it is off (``RATE_LIMIT_ENABLED`` false, or no Redis)."""
    if not config.get("RATE_LIMIT_ENABLED", True):
        return None
    url = config.get("RATE_LIMIT_REDIS_URL")
    if not url and not config.get("TESTING"):
        broker = config.get("CELERY_BROKER_URL") or ""
        url = broker if broker.startswith(REDIS_SCHEMES) else None
    return str(url) if url else None


def limiter_for(config: Any) -> RateLimiter | None:
    """The process's limiter for these settings (made on first use), or None when rate
    limiting is off (logged once per process)."""
    global _said_off
    url = redis_url_of(config)
    if url is None:
        if not _said_off:
            _said_off = True
            log.info(
                "API rate limits are off: no Redis configured "
                "(set RATE_LIMIT_REDIS_URL or REDIS_URL)"
            )
        return None
    prefix = str(config.get("RATE_LIMIT_KEY_PREFIX") or "crm")
    timeout = float(config.get("RATE_LIMIT_REDIS_TIMEOUT_MS") or 200) / 1000
    key = f"{url}|{prefix}|{timeout}"
    found = _limiters.get(key)
    if found is None:
        with _limiters_lock:
            found = _limiters.get(key)
            if found is None:
                found = RateLimiter(url, key_prefix=prefix, timeout_seconds=timeout)
                _limiters[key] = found
    return found
