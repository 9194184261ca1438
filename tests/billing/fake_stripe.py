"""A local Stripe API on 127.0.0.1 for tests and benches: the real gateway talks HTTP
to it (``STRIPE_API_BASE``), so the requests it sends and the answers it parses are the
real ones.

It answers the endpoints the gateway calls with the objects' documented shapes
(https://docs.stripe.com/api): customers (honouring ``Idempotency-Key``), prices by
lookup key, Checkout Sessions, Customer Portal sessions, and subscriptions, whose state
the test sets with :meth:`FakeStripe.put_subscription` (as if the customer had paid, been
dunned or canceled in Stripe). Every request is recorded with its decoded form.

Webhook events are built with :func:`event` and signed with :func:`sign`, Stripe's
scheme: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from billing.plans import PLAN_KEYS, get_plan

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    """A Stripe-looking object id."""
    return f"{prefix}_test{next(_ids):08d}{int(time.time() * 1000) % 100000:05d}"


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    """The server's state; start with :meth:`start`, point ``STRIPE_API_BASE`` at ``url``."""

    requests: list[Recorded] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Seconds each answer waits (to widen race windows in tests).
    delay: float = 0.0
    # When set, every request is answered 500 (Stripe down).
    failing: bool = False

    def __post_init__(self) -> None:
        for key in PLAN_KEYS:
            plan = get_plan(key)
            if not plan.monthly_price_cents:
                continue
            for interval, amount in (
                ("month", plan.monthly_price_cents),
                ("year", plan.yearly_price_cents),
            ):
                lookup = f"{key}_{interval}_v{plan.version}"
                self.prices[lookup] = {
                    "id": new_id("price"),
                    "object": "price",
                    "active": True,
                    "currency": "eur",
                    "lookup_key": lookup,
                    "unit_amount": amount,
                    "recurring": {"interval": interval, "interval_count": 1},
                    "type": "recurring",
                }
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        """Recorded requests with ``method`` whose path starts with ``path_prefix``."""
        with self.lock:
            return [
                r for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            ]

    def put_subscription(
        self,
        *,
        customer: str,
        status: str,
        plan: str = "pro",
        interval: str = "month",
        tenant_id: int | None = None,
        sub_id: str | None = None,
        period_end: int | None = None,
        trial_end: int | None = None,
        cancel_at_period_end: bool = False,
    ) -> dict[str, Any]:
        """Create or replace a subscription as Stripe would answer it (API version
        2025-03-31.basil and later: the period is on the item)."""
        sub_id = sub_id or new_id("sub")
        price = self.prices[f"{plan}_{interval}_v{get_plan(plan).version}"]
        period_end = period_end or int(time.time()) + 30 * 86400
        sub = {
            "id": sub_id,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "cancel_at_period_end": cancel_at_period_end,
            "trial_end": trial_end,
            "metadata": {"tenant_id": str(tenant_id)} if tenant_id is not None else {},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": new_id("si"),
                        "object": "subscription_item",
                        "price": price,
                        "quantity": 1,
                        "current_period_start": period_end - 30 * 86400,
                        "current_period_end": period_end,
                    }
                ],
                "has_more": False,
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
        }
        with self.lock:
            self.subscriptions[sub_id] = sub
        return sub

    # --- request handling -------------------------------------------------------

    def answer(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(Recorded(method, path, params, headers))
            if self.failing:
                return 500, _error("api_error", "Stripe is having a bad day.")
            key = headers.get("idempotency-key")
            if method == "POST" and key and key in self.idempotent:
                return 200, self.idempotent[key]
            status, body = self._route(method, path, params)
            if method == "POST" and key and status == 200:
                self.idempotent[key] = body
            return status, body

    def _route(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/customers":
            customer = {
                "id": new_id("cus"),
                "object": "customer",
                "name": params.get("name"),
                "email": params.get("email"),
                "metadata": _nested(params, "metadata"),
            }
            self.customers[customer["id"]] = customer
            return 200, customer
        if method == "GET" and path == "/v1/prices":
            wanted = [v for k, v in params.items() if k.startswith("lookup_keys[")]
            data = [p for k, p in self.prices.items() if k in wanted and p["active"]]
            return 200, {"object": "list", "data": data, "has_more": False, "url": "/v1/prices"}
        if method == "POST" and path == "/v1/prices":
            key = params.get("lookup_key", "")
            price = {
                "id": new_id("price"),
                "object": "price",
                "active": True,
                "currency": params.get("currency"),
                "lookup_key": key or None,
                "unit_amount": int(params.get("unit_amount", "0")),
                "recurring": {"interval": params.get("recurring[interval]"), "interval_count": 1},
                "product": new_id("prod"),
                "type": "recurring",
            }
            if key:
                self.prices[key] = price
            return 200, price
        if method == "POST" and path == "/v1/checkout/sessions":
            if params.get("customer") not in self.customers:
                return 400, _error("invalid_request_error", "No such customer", "resource_missing")
            session_id = new_id("cs")
            return 200, {
                "id": session_id,
                "object": "checkout.session",
                "mode": params.get("mode"),
                "customer": params.get("customer"),
                "client_reference_id": params.get("client_reference_id"),
                "status": "open",
                "success_url": params.get("success_url"),
                "cancel_url": params.get("cancel_url"),
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            }
        if method == "POST" and path == "/v1/billing_portal/sessions":
            if params.get("customer") not in self.customers:
                return 400, _error("invalid_request_error", "No such customer", "resource_missing")
            session_id = new_id("bps")
            return 200, {
                "id": session_id,
                "object": "billing_portal.session",
                "customer": params.get("customer"),
                "return_url": params.get("return_url"),
                "url": f"https://billing.stripe.com/p/session/{session_id}",
            }
        if method == "GET" and path.startswith("/v1/subscriptions/"):
            sub = self.subscriptions.get(path.rsplit("/", 1)[-1])
            if sub is None:
                return 404, _error(
                    "invalid_request_error", "No such subscription", "resource_missing"
                )
            return 200, json.loads(json.dumps(sub))
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({path})")


def _error(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


def _nested(params: dict[str, str], name: str) -> dict[str, str]:
    """``metadata[tenant_id]=1`` -> ``{"tenant_id": "1"}``."""
    prefix = f"{name}["
    return {k[len(prefix) : -1]: v for k, v in params.items() if k.startswith(prefix)}


def _handler_for(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            params.update(parse_qsl(body, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if fake.delay:
                time.sleep(fake.delay)
            status, answer = fake.answer(method, url.path, params, headers)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", new_id("req"))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


# --- webhook events ------------------------------------------------------------------


def event(event_type: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
    """A Stripe event object (snapshot payload) about ``obj``."""
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created or int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
    }


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
