"""The inbox worker against the simulator over HTTP: deliveries from the simulator reach
the real receiver, the worker re-reads each object, stores it with the version guard and
recomputes its person; failures back off and park; PostgreSQL runs two workers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from greenloop.config import Settings
from greenloop.lightspeed.client import connect
from greenloop.runtime.worker import InboxWorker, process_inbox
from greenloop.services import analysis, ingest
from greenloop.services import webhooks as webhook_service
from greenloop.services.realtime import Realtime, WorkerReport
from greenloop.simulator.webhook_sender import WebhookSender
from greenloop.store import inbox
from greenloop.store import tables as t
from tests.integration.test_webhooks_support import (
    SECRET,
    Clock,
    form_body,
    hand_made,
    inbox_rows,
    running_receiver,
    sender_for,
)
from tests.simulation import Sim, running_simulator, settings_for


@dataclass
class Live:
    sim: Sim
    settings: Settings
    sender: WebhookSender
    receiver: str
    clock: Clock = field(default_factory=Clock)
    pushed: list[tuple[str, list[str]]] = field(default_factory=list)

    def process(self, **kwargs: Any) -> WorkerReport:
        report = process_inbox(self.settings, clock=self.clock, **kwargs)
        self.pushed.extend(report.recomputed)
        return report

    def customer(self, index: int = 0) -> dict[str, Any]:
        live = [c for c in self.sim.store()["customers"] if not c.get("deleted_at")]
        return live[index]

    def ring_up(self, customer_id: str, status: str = "CLOSED", price: str = "25") -> Any:
        register = self.sim.store()["registers"][0]
        body = {
            "register_id": register["id"],
            "customer_id": customer_id,
            "status": status,
            "line_items": [{"product_id": "p-1", "quantity": 1, "price": Decimal(price)}],
        }
        return self.sim.control("POST", "sales", body)["data"]


@contextmanager
def live(engine: Engine, db_url: str, **webhooks: Any) -> Iterator[Live]:
    with running_simulator() as sim:
        settings = settings_for(
            sim.url,
            db_url,
            lightspeed={"max_retries": 1},
            webhooks={"secret": SECRET, "retry_base_seconds": 60, **webhooks},
        )
        ingest.run_sync(settings)
        analysis.analyze(settings)
        with running_receiver(settings, engine) as url:
            webhook_service.register_webhooks(settings, f"{url}/webhooks/lightspeed")
            yield Live(sim, settings, sender_for(sim), url)


def _stored_sale(engine: Engine, sale_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(t.sales).where(t.sales.c.id == sale_id)).first()


def _person_of(engine: Engine, customer_id: str) -> Any:
    with engine.connect() as conn:
        m = t.identity_members.c
        pid = conn.execute(
            select(m.person_id).where(m.member_key == f"customer:{customer_id}")
        ).scalar_one()
        return conn.execute(select(t.persons).where(t.persons.c.id == pid)).one()


def test_a_new_sale_reaches_the_database_and_its_person(engine: Engine, db_url: str) -> None:
    with live(engine, db_url) as run:
        customer = run.customer()
        before = _person_of(engine, customer["id"])
        sale = run.ring_up(customer["id"], price="125.50")
        attempts = run.sender.flush()
        assert attempts
        assert {a.status for a in attempts} == {200}
        report = run.process()
        served = next(s for s in run.sim.store()["sales"] if s["id"] == sale["id"])
    stored = _stored_sale(engine, sale["id"])
    assert stored is not None
    assert stored.version == served["version"]
    assert stored.customer_id == customer["id"]
    after = _person_of(engine, customer["id"])
    assert after.purchases == before.purchases + 1
    assert after.lifetime_value > before.lifetime_value
    assert report.applied >= 1
    assert report.parked == report.retried == 0
    assert any(customer["id"] in ids and pid == after.id for pid, ids in run.pushed)
    assert {r["status"] for r in inbox_rows(engine)} == {"done"}


def test_duplicated_and_reordered_deliveries_never_regress_a_version(
    engine: Engine, db_url: str
) -> None:
    with live(engine, db_url) as run:
        customer = run.customer(1)
        sale = run.ring_up(customer["id"], status="LAYBY")
        first = [o for o in run.sender.take() if o.type == "sale.update"]
        run.sim.control("PUT", f"sales/{sale['id']}", {"status": "LAYBY_CLOSED"})
        second = [o for o in run.sender.take() if o.type == "sale.update"]
        # The newer delivery arrives first, twice, and is processed...
        run.sender.send(second + second)
        run.process()
        latest = next(s for s in run.sim.store()["sales"] if s["id"] == sale["id"])
        assert _stored_sale(engine, sale["id"]).version == latest["version"]
        # ...then the older one arrives late, twice: a re-read, nothing goes back.
        replies = run.sender.send(first + first)
        late = run.process()
    assert [json.loads(a.response)["status"] for a in replies] == ["stored", "duplicate"]
    stored = _stored_sale(engine, sale["id"])
    assert stored.version == latest["version"]
    assert stored.status == "LAYBY_CLOSED"
    assert late.unchanged == 1
    assert late.applied == 0
    rows = [r for r in inbox_rows(engine) if r["object_id"] == sale["id"]]
    assert [(r["outcome"], r["duplicates"]) for r in rows] == [("applied", 1), ("unchanged", 1)]


def test_a_replay_after_processing_is_not_a_new_change(engine: Engine, db_url: str) -> None:
    with live(engine, db_url) as run:
        sale = run.ring_up(run.customer(6)["id"])
        deliveries = [d for d in run.sender.take() if d.object_id == sale["id"]]
        assert [a.status for a in run.sender.send(deliveries)] == [200]
        first = run.process()
        reads = len(run.sim.requests())
        # The same delivery again, later (a replay, or Lightspeed retrying after a
        # lost answer): acknowledged, counted, and nothing for the worker to do.
        [again] = run.sender.send(deliveries)
        second = run.process()
        assert len(run.sim.requests()) == reads
    assert first.applied == 1
    assert json.loads(again.response)["status"] == "duplicate"
    assert (second.claimed, second.applied, second.persons) == (0, 0, 0)
    [row] = [r for r in inbox_rows(engine) if r["object_id"] == sale["id"]]
    assert (row["status"], row["duplicates"], row["attempts"]) == ("done", 1, 1)


def test_a_customer_edit_is_re_read_and_stored(engine: Engine, db_url: str) -> None:
    with live(engine, db_url) as run:
        customer = run.customer(2)
        run.sim.control("PUT", f"customers/{customer['id']}", {"first_name": "Wilhelmina"})
        run.sender.flush()
        report = run.process()
    with engine.connect() as conn:
        name = conn.execute(
            select(t.customers.c.first_name).where(t.customers.c.id == customer["id"])
        ).scalar_one()
    assert name == "Wilhelmina"
    assert report.applied == 1
    assert report.persons >= 1


def test_failing_delivery_backs_off_then_parks_without_blocking_the_queue(
    engine: Engine, db_url: str
) -> None:
    with live(engine, db_url, max_attempts=2) as run:
        customer = run.customer(3)
        broken = run.ring_up(customer["id"])
        run.sender.flush()
        run.sim.control("PUT", "faults", {"error_rate": 1.0})
        first = run.process()
        assert first.retried == first.claimed > 0
        # Not due yet: nothing is claimed, nothing waits.
        assert run.process().claimed == 0
        run.clock.advance(61)
        second = run.process()
        assert second.parked == second.claimed
        run.sim.control("PUT", "faults", {"error_rate": 0.0})
        # A later change is processed while the parked rows stay parked.
        other = run.ring_up(run.customer(4)["id"])
        run.sender.flush()
        third = run.process()
        assert _stored_sale(engine, other["id"]) is not None
        assert _stored_sale(engine, broken["id"]) is None
        parked = webhook_service.inbox_status(run.settings)["parked_rows"]
        assert parked
        assert all("HTTP 500" in row["last_error"] for row in parked)
        assert all(row["attempts"] == 2 for row in parked)
        assert third.parked == 0
        # Once the cause is fixed, `webhooks retry` sends them through again.
        assert webhook_service.requeue_parked(run.settings) == len(parked)
        run.process()
    assert _stored_sale(engine, broken["id"]) is not None
    assert "parked" not in {r["status"] for r in inbox_rows(engine)}


def test_an_object_that_stays_404_is_settled_as_gone(engine: Engine, db_url: str) -> None:
    with live(engine, db_url, not_found_attempts=2) as run:
        body = form_body({"id": "no-such-sale", "register_sale_products": []})
        url = f"{run.receiver}/webhooks/lightspeed?type=sale.update"
        [attempt] = run.sender.send([hand_made(url, body)])
        assert attempt.status == 200
        first = run.process()
        run.clock.advance(61)
        second = run.process()
    assert (first.retried, second.gone) == (1, 1)
    [row] = inbox_rows(engine)
    assert (row["status"], row["outcome"]) == ("done", "gone")


def test_stopping_the_worker_returns_its_claims(engine: Engine, db_url: str) -> None:
    with live(engine, db_url) as run:
        run.ring_up(run.customer(5)["id"])
        run.sender.flush()
        client = connect(run.settings.lightspeed)
        try:
            worker = InboxWorker(
                Realtime.for_settings(run.settings, engine, client, clock=run.clock)
            )
            with engine.begin() as conn:
                claimed = inbox.claim_batch(conn, worker.rt.name, run.clock())
            assert claimed
            stop = threading.Event()
            stop.set()  # SIGTERM arrived while these rows were in hand
            worker.run_forever(stop)
            rows = inbox_rows(engine)
            assert {r["status"] for r in rows} == {"pending"}
            assert {r["attempts"] for r in rows} == {0}
            assert worker.run_until_idle().claimed == len(rows)
        finally:
            client.close()
    assert {r["status"] for r in inbox_rows(engine)} == {"done"}


def test_two_postgres_workers_never_process_a_delivery_twice(engine: Engine, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL (SKIP LOCKED); SQLite runs one")
    with live(engine, db_url, batch_size=2) as run:
        sales = [run.ring_up(run.customer(i)["id"])["id"] for i in range(12)]
        run.sender.flush()
        run.sim.control("DELETE", "requests")
        reports: list[WorkerReport] = []
        clients = [connect(run.settings.lightspeed) for _ in range(2)]
        workers = [InboxWorker(Realtime.for_settings(run.settings, engine, c)) for c in clients]
        threads = [
            threading.Thread(target=lambda w=w: reports.append(w.run_until_idle())) for w in workers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for client in clients:
            client.close()
        reads = [r["path"] for r in run.sim.requests() if r["path"].startswith("/api/2.0/sales/")]
    rows = inbox_rows(engine)
    assert {r["status"] for r in rows} == {"done"}
    assert sum(r.claimed for r in reports) == len(rows)
    for sale_id in sales:
        assert reads.count(f"/api/2.0/sales/{sale_id}") == 1
