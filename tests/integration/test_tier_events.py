"""Outgoing tier-change events: queued with the history in the same transaction, posted
signed to a real loopback receiver, retried with back-off, parked, requeued; in order
per person; never for the baseline analysis unless asked."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from greenloop.analytics.recompute import recompute_customer
from greenloop.config import Settings
from greenloop.errors import ConfigError
from greenloop.events.sender import EventSender
from greenloop.events.signing import SIGNATURE_HEADER, verify
from greenloop.runtime.metrics import metrics_text
from greenloop.runtime.service import Service
from greenloop.services import analysis, ingest
from greenloop.services import events as event_service
from greenloop.simulator.server import start_in_thread
from greenloop.store import tables as t
from tests.simulation import ANCHOR, Sim, running_simulator, settings_for, small_store

STORE = small_store(seed=11, customers=120, days=200)
SECRET = "evt-secret-for-tests-0123456789"


@dataclass
class Receiver:
    url: str = ""
    # Statuses to answer, in order; 200 once they run out.
    script: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def receiver(script: list[int] | None = None) -> Iterator[Receiver]:
    rec = Receiver(script=list(script or []))

    async def take(request: Request) -> Response:
        rec.received.append((dict(request.headers), await request.body()))
        status = rec.script.pop(0) if rec.script else 200
        return JSONResponse({"ok": status < 300}, status_code=status)

    with start_in_thread(Starlette(routes=[Route("/events", take, methods=["POST"])])) as srv:
        rec.url = f"{srv.url}/events"
        yield rec


def _settings(sim: Sim, db_url: str, url: str, **events: Any) -> Settings:
    return settings_for(
        sim.url,
        db_url,
        events={"url": url, "secret": SECRET, "retry_base_seconds": 30, **events},
        jobs={"poll_minutes": 0},
    )


def _big_sale(sim: Sim, customer_id: str) -> None:
    register = sim.store()["registers"][0]
    body = {
        "register_id": register["id"],
        "customer_id": customer_id,
        "status": "CLOSED",
        "line_items": [{"product_id": "p-1", "quantity": 1, "price": Decimal("2500")}],
    }
    sim.control("POST", "sales", body)


def _non_evergreen_customer(engine: Engine) -> tuple[str, str]:
    p, m = t.persons.c, t.identity_members.c
    with engine.connect() as conn:
        row = conn.execute(
            select(p.id, m.customer_id)
            .join(t.identity_members, m.person_id == p.id)
            .where(m.customer_id.is_not(None), p.tier != "Evergreen", p.profiles == 1)
            .order_by(p.id)
            .limit(1)
        ).one()
    return row.id, row.customer_id


def _events(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(select(t.tier_events).order_by(t.tier_events.c.id))
        ]


def test_a_tier_change_is_posted_signed_once_and_settled(engine: Engine, db_url: str) -> None:
    with running_simulator(STORE) as sim, receiver() as rec:
        settings = _settings(sim, db_url, rec.url)
        ingest.run_sync(settings)
        analysis.analyze(settings, now=ANCHOR)
        assert _events(engine) == []  # the baseline is not announced
        person_id, customer_id = _non_evergreen_customer(engine)
        _big_sale(sim, customer_id)
        ingest.run_sync(settings)
        result = recompute_customer(
            engine, analysis.analyze_options(settings), [customer_id], datetime.now(UTC)
        )
        assert any(pid == person_id for pid, _old, new in result.tier_changes)
        [queued] = _events(engine)
        assert (queued["person_id"], queued["status"]) == (person_id, "pending")

        report = event_service.send_events(settings)
        again = event_service.send_events(settings)

    assert (report.sent, again.claimed) == (1, 0)
    [(headers, body)] = rec.received
    assert verify(SECRET, headers[SIGNATURE_HEADER.lower()], body, int(time.time()))
    assert not verify("another-secret", headers[SIGNATURE_HEADER.lower()], body, int(time.time()))
    event = json.loads(body)
    assert event["id"] == headers["x-greenloop-event-id"] == queued["event_id"]
    assert (event["type"], event["person_id"], event["to_tier"]) == (
        "tier.changed",
        person_id,
        "Evergreen",
    )
    assert event["change"] == "upgrade" or event["from_tier"] is None
    assert customer_id in event["person"]["customer_ids"]
    assert Decimal(event["person"]["lifetime_value"]) >= Decimal("2500")
    assert SECRET not in body.decode()
    [settled] = _events(engine)
    assert (settled["status"], settled["attempts"], settled["last_status"]) == ("sent", 1, 200)


def test_failures_back_off_keep_the_event_id_and_park_after_the_last_attempt(
    engine: Engine, db_url: str
) -> None:
    with running_simulator(STORE) as sim, receiver([500, 503, 200]) as rec:
        settings = _settings(sim, db_url, rec.url, announce_first_analysis=True)
        ingest.run_sync(settings)
        analysis.analyze(settings, now=ANCHOR)
        clock = [datetime.now(UTC)]
        queued = _events(engine)
        assert len(queued) > 1
        first = queued[0]["event_id"]
        with engine.begin() as conn:  # keep one event, so the script applies to it
            conn.execute(
                update(t.tier_events).where(t.tier_events.c.event_id != first).values(status="sent")
            )
        sender = EventSender(settings.events, engine, clock=lambda: clock[0])
        try:
            assert sender.send_due().failed == 1
            assert sender.send_due().claimed == 0  # waiting for its retry time
            [row] = [e for e in _events(engine) if e["event_id"] == first]
            assert row["status"] == "failed"
            assert row["next_attempt_at"] == clock[0] + timedelta(seconds=30)
            clock[0] += timedelta(seconds=31)
            assert sender.send_due().failed == 1
            [row] = [e for e in _events(engine) if e["event_id"] == first]
            assert row["next_attempt_at"] == clock[0] + timedelta(seconds=60)  # doubled
            clock[0] += timedelta(seconds=61)
            assert sender.send_due().sent == 1
        finally:
            sender.close()
    ids = {headers["x-greenloop-event-id"] for headers, _ in rec.received}
    assert ids == {first}
    assert len(rec.received) == 3

    with running_simulator(STORE) as sim, receiver([500] * 10) as rec:
        settings = _settings(sim, db_url, rec.url, max_attempts=2)
        with engine.begin() as conn:
            conn.execute(
                update(t.tier_events)
                .where(t.tier_events.c.event_id == first)
                .values(status="pending", attempts=0, next_attempt_at=clock[0])
            )
        sender = EventSender(settings.events, engine, clock=lambda: clock[0])
        try:
            sender.send_due()
            clock[0] += timedelta(hours=1)
            assert sender.send_due().parked == 1
        finally:
            sender.close()
        [row] = [e for e in _events(engine) if e["event_id"] == first]
        assert (row["status"], row["attempts"], row["last_error"]) == ("parked", 2, "HTTP 500")
        assert event_service.retry_parked(settings) == 1
        [row] = [e for e in _events(engine) if e["event_id"] == first]
        assert (row["status"], row["attempts"]) == ("pending", 0)


def test_a_persons_later_change_waits_for_the_earlier_one(engine: Engine, db_url: str) -> None:
    with running_simulator(STORE) as sim, receiver([500]) as rec:
        settings = _settings(sim, db_url, rec.url, announce_first_analysis=True)
        ingest.run_sync(settings)
        analysis.analyze(settings, now=ANCHOR)
        person_id, customer_id = _non_evergreen_customer(engine)
        with engine.begin() as conn:  # only this person's events are left to send
            conn.execute(
                update(t.tier_events)
                .where(t.tier_events.c.person_id != person_id)
                .values(status="sent")
            )
        _big_sale(sim, customer_id)
        ingest.run_sync(settings)
        recompute_customer(
            engine, analysis.analyze_options(settings), [customer_id], datetime.now(UTC)
        )
        mine = [e for e in _events(engine) if e["person_id"] == person_id]
        assert len(mine) == 2
        sender = EventSender(settings.events, engine)
        try:
            report = sender.send_due()  # the first fails; the second must not overtake it
            assert (report.claimed, report.failed) == (1, 1)
            with engine.begin() as conn:
                conn.execute(
                    update(t.tier_events)
                    .where(t.tier_events.c.status == "failed")
                    .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
                )
            assert sender.send_all().sent == 2
        finally:
            sender.close()
    order = [json.loads(body)["id"] for _h, body in rec.received]
    assert order == [mine[0]["event_id"], mine[0]["event_id"], mine[1]["event_id"]]


def test_no_events_are_queued_without_a_url(engine: Engine, db_url: str) -> None:
    with running_simulator(STORE) as sim:
        settings = settings_for(sim.url, db_url)
        ingest.run_sync(settings)
        analysis.analyze(settings, now=ANCHOR)
        analysis.analyze(settings, now=ANCHOR + timedelta(days=200))  # tiers drop
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.tier_history)).scalar_one() > 0
        assert conn.execute(select(func.count()).select_from(t.tier_events)).scalar_one() == 0
    with pytest.raises(ConfigError, match=r"events\.url"):
        event_service.send_events(settings)


def test_a_url_without_a_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"events\.secret"):
        settings_for("http://127.0.0.1:1", "sqlite://", events={"url": "https://x.example/e"})


def test_serve_sends_queued_events_and_counts_them_in_metrics(engine: Engine, db_url: str) -> None:
    with running_simulator(STORE) as sim, receiver() as rec:
        settings = _settings(sim, db_url, rec.url, poll_interval_seconds=0.1)
        ingest.run_sync(settings)
        analysis.analyze(settings, now=ANCHOR)
        _person_id, customer_id = _non_evergreen_customer(engine)
        _big_sale(sim, customer_id)
        ingest.run_sync(settings)
        recompute_customer(
            engine, analysis.analyze_options(settings), [customer_id], datetime.now(UTC)
        )
        service = Service(settings)
        service.start(worker=True, schedule=False)
        try:
            deadline = time.monotonic() + 30
            while not rec.received and time.monotonic() < deadline:
                time.sleep(0.05)
            while time.monotonic() < deadline and _events(engine)[0]["status"] != "sent":
                time.sleep(0.05)
            metrics = metrics_text(service.engine)
        finally:
            service.shutdown()
    assert len(rec.received) == 1
    assert 'greenloop_tier_events{status="sent"} 1' in metrics
