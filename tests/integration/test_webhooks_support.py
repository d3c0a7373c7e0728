"""Helpers for the webhook tests (no tests here): a sender that delivers the simulator's
changes the way X-Series does, and a receiver on a real loopback socket.

The simulator has no webhook sender yet, so ``WebhookSender`` stands in for it: it
listens to the simulator's state and, for each change of a sale or customer, builds the
documented delivery (reference §8): a form-encoded body with a ``payload`` field holding
the object in the 1.0 shape (``register_sale_products``, ``"2017-12-06 04:53:17"`` times,
numbers as strings), signed ``X-Signature: signature=…,algorithm=HMAC-SHA256`` when a
secret is set, posted to every active subscription of its type. Tests choose when to
deliver, and may drop, duplicate or reorder deliveries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, select

from greenloop.config import Settings
from greenloop.lightspeed.webhook_signature import signature_header
from greenloop.simulator.server import start_in_thread
from greenloop.store import tables as t
from greenloop.web.app import create_app
from tests.simulation import Sim

SECRET = "whsec-test-client-secret-0123"
_TYPES = {"sales": "sale.update", "customers": "customer.update"}


def _time_10(key: str, value: Any) -> Any:
    if not key.endswith(("_at", "_date")) or not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:  # year_to_date is money
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _text(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return value


def _flat(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, (dict, list)):
            continue
        out[key] = _time_10(key, _text(value))
    return out


def payload_10(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The API 1.0 shape of a 2.0 sale or customer, as webhooks carry it."""
    body = _flat(obj)
    body.pop("version", None)
    if kind == "sales":
        body["register_sale_products"] = [_flat(i) for i in obj.get("line_items", [])]
        body["register_sale_payments"] = [_flat(p) for p in obj.get("payments", [])]
        body["totals"] = {"total_price": _text(obj.get("total_price"))}
    return body


@dataclass
class Outgoing:
    type: str
    url: str
    body: bytes
    headers: dict[str, str]


def form_body(payload: dict[str, Any], **extra: str) -> bytes:
    fields = {"payload": json.dumps(payload), "domain_prefix": "greenloop", **extra}
    return urlencode(fields).encode()


def signed_headers(body: bytes, secret: str = SECRET, encoding: str = "body:hex") -> dict[str, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
    if secret:
        headers["X-Signature"] = signature_header(secret, body, encoding)
    return headers


class WebhookSender:
    def __init__(self, sim: Sim, *, secret: str = SECRET, encoding: str = "body:hex") -> None:
        self.sim = sim
        self.secret = secret
        self.encoding = encoding
        self.changes: list[tuple[str, dict[str, Any]]] = []
        sim.state.add_listener(self._on_change)

    def _on_change(self, kind: str, obj: dict[str, Any]) -> None:
        # Called with the simulator's lock held: only record.
        if kind in _TYPES:
            self.changes.append((kind, obj))

    def close(self) -> None:
        self.sim.state.remove_listener(self._on_change)

    def take(self) -> list[Outgoing]:
        """Build the deliveries for every change so far, and forget the changes."""
        changes, self.changes = self.changes, []
        hooks = [h for h in self.sim.state.snapshot("webhooks") if h.get("active")]
        out = []
        for kind, obj in changes:
            body = form_body(payload_10(kind, obj))
            for hook in hooks:
                if hook["type"] == _TYPES[kind]:
                    headers = signed_headers(body, self.secret, self.encoding)
                    out.append(Outgoing(_TYPES[kind], hook["url"], body, headers))
        return out

    def deliver(self, outgoing: Sequence[Outgoing]) -> list[httpx.Response]:
        with httpx.Client(timeout=10) as client:
            return [client.post(o.url, content=o.body, headers=o.headers) for o in outgoing]

    def flush(self) -> list[httpx.Response]:
        return self.deliver(self.take())


@contextmanager
def running_receiver(settings: Settings, engine: Engine) -> Iterator[str]:
    """The real receiver app on a loopback port; yields its base URL."""
    with start_in_thread(create_app(settings, engine)) as server:
        yield server.url


def inbox_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(t.webhook_inbox).order_by(t.webhook_inbox.c.id))
        return [dict(r._mapping) for r in rows]


class Clock:
    """The real time plus an offset that tests move forward (back-off without waiting)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
