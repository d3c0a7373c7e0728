"""Helpers for the webhook tests (no tests here): the simulator's own webhook sender set
up for a test, the documented delivery built by hand, and a receiver on a real
loopback socket.

The simulator's sender (``sim.ctx.webhooks``) listens to every change from the start;
a test steps it (``flush``, or ``take`` then ``send`` in an order of its own) rather
than letting it send in the background.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from greenloop.config import Settings
from greenloop.simulator.server import start_in_thread
from greenloop.simulator.webhook_payloads import form_body as sim_form_body
from greenloop.simulator.webhook_payloads import signature_header
from greenloop.simulator.webhook_sender import Delivery, WebhookSender
from greenloop.store import tables as t
from greenloop.web.app import create_app
from tests.simulation import Sim

SECRET = "whsec-test-client-secret-0123"


def sender_for(sim: Sim, *, secret: str = SECRET, encoding: str = "body:hex") -> WebhookSender:
    """The simulator's sender, signing with ``secret`` (empty: unsigned)."""
    assert sim.ctx is not None
    sender = sim.ctx.webhooks
    sender.update({"secret": secret, "signature_encoding": encoding})
    return sender


def form_body(payload: dict[str, Any]) -> bytes:
    return sim_form_body(payload, domain_prefix="greenloop")


def signed_headers(body: bytes, secret: str = SECRET, encoding: str = "body:hex") -> dict[str, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
    if secret:
        headers["X-Signature"] = signature_header(secret, body, encoding)
    return headers


def hand_made(url: str, body: bytes, kind: str = "sale.update") -> Delivery:
    """A delivery the simulator would not send by itself (of an object it does not have)."""
    return Delivery(0, 0, kind, "", None, url, body, signed_headers(body))


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
