"""The simulator's webhook sender over real HTTP: the documented delivery (form body,
1.0 payload, X-Signature), one per active subscription of the type; retries with
back-off; the seeded drop, duplicate, delay and reorder knobs; background sending;
the control API and the `simulator serve` flags."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from greenloop.cli import app as cli_app
from greenloop.lightspeed.webhook_signature import verify_signature
from greenloop.simulator.clock import Clock
from greenloop.simulator.server import start_in_thread
from greenloop.simulator.state import SimState
from greenloop.simulator.webhook_knobs import WebhookKnobs
from greenloop.simulator.webhook_payloads import signature_header
from greenloop.simulator.webhook_sender import WebhookSender
from tests.integration.test_webhooks_support import SECRET
from tests.simulation import Sim, running_simulator, small_store

STORE = small_store(seed=5, customers=40, days=60)


@dataclass
class Recorder:
    """A loopback receiver that records each request and answers from a script."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200s
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            form = parse_qs(body.decode())
            self.received.append(
                {
                    "path": request.url.path,
                    "query": dict(request.query_params),
                    "headers": dict(request.headers),
                    "body": body,
                    "payload": json.loads(form["payload"][0]),
                    "form": form,
                }
            )
            status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"status": "stored"}, status_code=status)

    def ids(self) -> list[str]:
        with self.lock:
            return [str(r["payload"]["id"]) for r in self.received]


@contextmanager
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    app = Starlette(routes=[Route("/hook", rec.handle, methods=["POST"])])
    with start_in_thread(app) as server:
        rec.url = f"{server.url}/hook"
        yield rec


def subscribe(sim: Sim, url: str, kind: str, *, active: bool = True) -> None:
    hook = {"id": f"{kind}-{url}-{active}", "type": kind, "url": url, "active": active}
    sim.state.insert("webhooks", hook)


def sale_body(sim: Sim, customer_id: str | None, price: str = "19.99") -> dict[str, Any]:
    register = sim.state.snapshot("registers")[0]
    body: dict[str, Any] = {
        "register_id": register["id"],
        "status": "CLOSED",
        "line_items": [
            {"product_id": "p-1", "quantity": 2, "price": Decimal(price), "tax": Decimal("1.5")}
        ],
        "payments": [{"name": "Cash", "amount": Decimal("42.98")}],
    }
    if customer_id:
        body["customer_id"] = customer_id
    return body


def live_customer(sim: Sim, index: int = 0) -> dict[str, Any]:
    return [c for c in sim.state.snapshot("customers") if not c.get("deleted_at")][index]


def test_a_sale_is_delivered_in_the_10_shape_signed_to_each_active_subscription() -> None:
    with running_simulator(STORE) as sim, recorder() as rec:
        sender = sim.ctx.webhooks
        sender.update({"secret": SECRET})
        subscribe(sim, f"{rec.url}?type=sale.update&token=tok-1", "sale.update")
        subscribe(sim, f"{rec.url}?to=second", "sale.update")
        subscribe(sim, f"{rec.url}?to=inactive", "sale.update", active=False)
        subscribe(sim, f"{rec.url}?to=customers", "customer.update")
        customer = live_customer(sim)
        sale = sim.control("POST", "sales", sale_body(sim, customer["id"]))["data"]
        attempts = sender.flush()
        log = sim.control("GET", "webhooks/deliveries")["data"]
    assert [a.status for a in attempts] == [200, 200]
    assert sorted(r["query"].get("to", "first") for r in rec.received) == ["first", "second"]
    first = next(r for r in rec.received if "to" not in r["query"])
    assert first["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    assert first["form"]["domain_prefix"] == [sim.state.retailer()["domain_prefix"]]
    # The product's verifier accepts the simulator's signature as raw-body hex.
    assert verify_signature(SECRET, first["body"], first["headers"]["x-signature"]) == "body:hex"
    assert first["headers"]["x-signature"].endswith(",algorithm=HMAC-SHA256")
    payload = first["payload"]
    assert payload["id"] == sale["id"]
    assert payload["customer_id"] == customer["id"]
    assert "version" not in payload
    assert "line_items" not in payload
    assert "payments" not in payload
    [line] = payload["register_sale_products"]
    assert line["quantity"] == "2"
    assert line["price"] == "19.99"
    assert line["price_total"] == "39.98"
    [paid] = payload["register_sale_payments"]
    assert (paid["amount"], paid["label"]) == ("42.98", "Cash")
    assert payload["totals"] == {
        "total_tax": "3.0",
        "total_price": "39.98",
        "total_payment": "42.98",
        "total_to_pay": "0.00",
    }
    assert payload["customer"]["id"] == customer["id"]
    # "2017-12-06 04:53:17": UTC, no offset, no T.
    created = sale["created_at"].replace("T", " ").removesuffix("+00:00")
    assert payload["created_at"] == created
    # The deliveries log masks the URL token.
    assert all("tok-1" not in entry["url"] for entry in log)
    assert any("token=***" in entry["url"] for entry in log)


def test_a_customer_is_delivered_with_sex_contact_and_numbers_as_text() -> None:
    with running_simulator(STORE) as sim, recorder() as rec:
        subscribe(sim, rec.url, "customer.update")
        customer = live_customer(sim, 1)
        sim.control("PUT", f"customers/{customer['id']}", {"gender": "F", "phone": "6155550123"})
        sim.ctx.webhooks.flush()
    [got] = rec.received
    assert "x-signature" not in got["headers"]  # no secret: unsigned, like personal tokens
    payload = got["payload"]
    assert payload["id"] == customer["id"]
    assert payload["sex"] == "F"
    assert payload["contact"]["phone"] == "6155550123"
    assert payload["year_to_date"] == str(customer["year_to_date"])
    assert isinstance(payload["enable_loyalty"], bool)
    assert payload["updated_at"].count(":") == 2
    assert "T" not in payload["updated_at"]


def test_failed_deliveries_are_retried_with_back_off_then_given_up() -> None:
    clock = Clock(source=lambda: 1_000_000.0)
    state = SimState(STORE)
    knobs = WebhookKnobs(max_retries=3, retry_base_seconds=10, retry_max_seconds=25)
    with recorder() as rec:
        sender = WebhookSender(state, knobs, clock=clock.time)
        try:
            hook = {"id": "h", "type": "customer.update", "url": rec.url, "active": True}
            state.insert("webhooks", hook)
            customer = live_customer_of(state)
            rec.statuses = [500, 503]
            state.update("customers", customer, lambda c: c.update(note="first"))
            assert [a.status for a in sender.step()] == [500]
            assert sender.step() == []  # the retry waits 10 s
            clock.advance(9.9)
            assert sender.step() == []
            clock.advance(0.1)
            assert [a.status for a in sender.step()] == [503]
            clock.advance(19)
            assert sender.step() == []  # then 20 s
            clock.advance(1)
            assert [(a.status, a.attempt) for a in sender.step()] == [(200, 3)]
            assert sender.idle()
            # A receiver that is down: connection errors, retried, then given up.
            state.update("webhooks", "h", lambda h: h.update(url="http://127.0.0.1:9/hook"))
            state.update("customers", customer, lambda c: c.update(note="second"))
            made = []
            for _ in range(4):
                made += sender.step()
                clock.advance(25)
            assert [a.attempt for a in made] == [1, 2, 3, 4]
            assert all(a.status is None and a.error for a in made)
            stats = sender.stats()
            assert (stats["gave_up"], stats["delivered"], stats["queued"]) == (1, 1, 0)
        finally:
            sender.close()
    assert [r["payload"]["note"] for r in rec.received] == ["first"] * 3


def live_customer_of(state: SimState) -> str:
    return str(next(c["id"] for c in state.snapshot("customers") if not c.get("deleted_at")))


def _decisions(seed: int, knobs: WebhookKnobs, changes: int) -> list[tuple[int, int]]:
    state = SimState(STORE)
    sender = WebhookSender(state, knobs, seed=seed)
    try:
        state.insert(
            "webhooks", {"id": "h", "type": "customer.update", "url": "http://x/", "active": True}
        )
        customer = live_customer_of(state)
        for n in range(changes):
            state.update("customers", customer, lambda c, n=n: c.update(note=f"n{n}"))
        return [(d.seq, d.copy) for d in sender.take()]
    finally:
        sender.close()


def test_drop_duplicate_and_reorder_are_seeded() -> None:
    knobs = WebhookKnobs(drop_rate=0.2, duplicate_rate=0.2, reorder_window=8)
    first = _decisions(3, knobs, 500)
    assert first == _decisions(3, knobs, 500)
    assert first != _decisions(4, knobs, 500)
    seqs = [seq for seq, _ in first]
    kept = set(seqs)
    # Roughly a fifth dropped, a fifth of the rest sent twice, and out of order.
    assert 60 <= 500 - len(kept) <= 140
    copies = sum(1 for _, copy in first if copy)
    assert 50 <= copies <= 110
    assert len(first) == len(kept) + copies
    assert seqs != sorted(seqs)
    # Shuffled within consecutive groups of 8, never further.
    in_order = sorted(first)
    for start in range(0, len(first), 8):
        assert sorted(first[start : start + 8]) == in_order[start : start + 8]
    plain = _decisions(3, WebhookKnobs(), 50)
    assert plain == [(n, 0) for n in range(1, 51)]


def test_delays_hold_each_delivery_within_the_range() -> None:
    clock = Clock(source=lambda: 2_000_000.0)
    state = SimState(STORE)
    knobs = WebhookKnobs(delay_min_ms=1000, delay_max_ms=3000)
    with recorder() as rec:
        sender = WebhookSender(state, knobs, seed=1, clock=clock.time)
        try:
            state.insert(
                "webhooks", {"id": "h", "type": "customer.update", "url": rec.url, "active": True}
            )
            customer = live_customer_of(state)
            for n in range(20):
                state.update("customers", customer, lambda c, n=n: c.update(note=f"n{n}"))
            assert sender.step() == []
            clock.advance(0.999)
            assert sender.step() == []
            clock.advance(1.0)
            middle = len(sender.step())
            clock.advance(1.001)
            rest = len(sender.step())
        finally:
            sender.close()
    assert 0 < middle < 20
    assert middle + rest == 20
    assert len(rec.received) == 20


def test_background_sending_delivers_every_change_to_a_live_receiver() -> None:
    with running_simulator(STORE) as sim, recorder() as rec:
        sender = sim.ctx.webhooks
        sender.update({"delay_max_ms": 20, "reorder_window": 4, "duplicate_rate": 0.5})
        subscribe(sim, rec.url, "sale.update")
        customer = live_customer(sim, 2)
        sender.start()
        sales = [sim.control("POST", "sales", sale_body(sim, customer["id"]))["data"]["id"]]
        sales += [
            sim.control("POST", "sales", sale_body(sim, None))["data"]["id"] for _ in range(9)
        ]
        assert sender.wait_idle(30)
        sender.stop()
        stats = sender.stats()
    assert set(rec.ids()) == set(sales)
    assert len(rec.received) == 10 + stats["duplicated"]
    assert stats["delivered"] == len(rec.received)
    assert not stats["running"]


def test_control_api_sets_knobs_flushes_and_streams() -> None:
    with running_simulator(STORE) as sim, recorder() as rec:
        url = f"{sim.url}/_sim/webhooks"
        changed = httpx.put(url, json={"drop_rate": 0.25, "secret": "s3cret", "reorder_window": 3})
        assert changed.status_code == 200
        settings = changed.json()["data"]["settings"]
        assert (settings["drop_rate"], settings["reorder_window"]) == (0.25, 3)
        assert settings["secret"] == "***"
        assert "s3cret" not in changed.text
        for bad in ({"drop_rate": 2}, {"nope": 1}, {"running": "yes"}, {"delay_min_ms": 5}):
            assert httpx.put(url, json=bad).status_code == 400, bad
        assert httpx.put(url, json={"drop_rate": 0, "secret": ""}).status_code == 200
        subscribe(sim, rec.url, "sale.update")
        live = httpx.post(f"{sim.url}/_sim/live", json={"steps": 5, "seed": 2}, timeout=30)
        assert live.status_code == 200
        changes = live.json()["data"]
        assert len(changes) == 5
        assert all(c["description"] and c["action"] for c in changes)
        flushed = httpx.post(f"{url}/flush", json={}, timeout=30).json()
        assert flushed["stats"]["queued"] == 0
        sale_ids = {c["sale_id"] for c in changes if c["sale_id"]}
        assert sale_ids <= set(rec.ids())
        assert httpx.post(f"{sim.url}/_sim/live", json={"steps": -1}).status_code == 400
        status = httpx.get(url).json()["data"]["stats"]
    assert status["delivered"] == len(rec.received) == len(flushed["data"])


def test_simulator_serve_validates_the_webhook_flags() -> None:
    runner = CliRunner()
    shown = runner.invoke(cli_app, ["simulator", "serve", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    for flag in ("--webhook-drop-rate", "--webhook-duplicate-rate", "--webhook-reorder-window"):
        assert flag in shown.output
    bad = runner.invoke(cli_app, ["simulator", "serve", "--webhook-drop-rate", "1.5"])
    assert bad.exit_code != 0
    assert "drop_rate" in bad.output
    bad = runner.invoke(
        cli_app,
        ["simulator", "serve", "--webhook-delay-min-ms", "9", "--webhook-delay-max-ms", "1"],
    )
    assert bad.exit_code != 0


@pytest.mark.parametrize("encoding", ["body:base64", "payload:hex", "payload:base64url"])
def test_every_signature_encoding_verifies(encoding: str) -> None:
    with running_simulator(STORE) as sim, recorder() as rec:
        sim.ctx.webhooks.update({"secret": SECRET, "signature_encoding": encoding})
        subscribe(sim, rec.url, "customer.update")
        customer = live_customer(sim, 3)
        sim.control("PUT", f"customers/{customer['id']}", {"note": "hello"})
        sim.ctx.webhooks.flush()
    [got] = rec.received
    header = got["headers"]["x-signature"]
    matched = verify_signature(SECRET, got["body"], header)
    # base64 and base64url coincide when the digest has neither + nor /.
    assert signature_header(SECRET, got["body"], matched) == header
    assert matched.split(":")[0] == encoding.split(":")[0]
