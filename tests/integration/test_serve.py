"""`serve` end to end: a webhook for a big sale moves the customer into the new tier's
group within seconds; a change no webhook announced is caught by the poll; /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from greenloop.config import Settings
from greenloop.runtime.metrics import metrics_text
from greenloop.runtime.service import Service
from greenloop.services import analysis, ingest
from greenloop.services import push as push_service
from greenloop.services import webhooks as webhook_service
from greenloop.simulator.server import start_in_thread
from greenloop.web.app import create_app
from greenloop.web.dashboard import dashboard_routes
from tests.envelope import assert_error
from tests.integration.test_webhooks_support import SECRET, sender_for
from tests.simulation import Sim, running_simulator, settings_for, small_store

STORE = small_store(seed=21, customers=160, days=240)
EVERGREEN = "GreenHaus Crew - Evergreen"


def pushed(sim: Sim, db_url: str, tmp_path: Path) -> tuple[Settings, list[str]]:
    settings = settings_for(
        sim.url,
        db_url,
        webhooks={"secret": SECRET},
        jobs={"output_dir": str(tmp_path / "out"), "poll_minutes": 0},
    )
    ingest.run_sync(settings)
    analysis.analyze(settings)
    report, _ = push_service.run_push(settings)
    assert report.ok
    movable = [m.customer_id for m in report.plan.moves if m.tier not in {"Evergreen", "Bloom"}]
    return settings, movable


def ring_up(sim: Sim, customer_id: str, price: str) -> Any:
    register = sim.store()["registers"][0]
    body = {
        "register_id": register["id"],
        "customer_id": customer_id,
        "status": "CLOSED",
        "line_items": [{"product_id": "p-1", "quantity": 1, "price": Decimal(price)}],
    }
    return sim.control("POST", "sales", body)["data"]


def group_name_of(sim: Sim, customer_id: str) -> str:
    groups = {g["id"]: g["name"] for g in sim.state.snapshot("customer_groups")}
    customer = next(c for c in sim.state.snapshot("customers") if c["id"] == customer_id)
    return str(groups.get(customer.get("customer_group_id"), ""))


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_sale_webhook_moves_the_customer_into_the_new_tier_group(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        settings, movable = pushed(sim, db_url, tmp_path)
        customer_id = movable[0]
        service = Service(settings)
        service.start(worker=True, schedule=False)
        try:
            with start_in_thread(service.web_app()) as server:
                webhook_service.register_webhooks(settings, f"{server.url}/webhooks/lightspeed")
                sender = sender_for(sim)
                ring_up(sim, customer_id, "2000")
                assert {a.status for a in sender.flush()} == {200}
                wait_for(lambda: group_name_of(sim, customer_id) == EVERGREEN)
                wait_for(
                    lambda: "greenloop_inbox_depth 0" in httpx.get(server.url + "/metrics").text
                )
                metrics = httpx.get(server.url + "/metrics").text
        finally:
            service.shutdown()
    assert "greenloop_webhook_deliveries_total" in metrics
    assert "greenloop_push_ok 1" in metrics
    assert SECRET not in metrics
    # The latencies the benchmarks measure are histograms here too.
    assert _sample(metrics, 'greenloop_webhook_receive_seconds_count{status="2xx"}') >= 1
    assert _sample(metrics, "greenloop_sale_to_group_seconds_count") >= 1
    assert "# TYPE greenloop_sale_to_group_seconds histogram" in metrics


def _sample(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[-1])


def test_the_poll_catches_a_change_no_webhook_announced(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        settings, movable = pushed(sim, db_url, tmp_path)
        customer_id = movable[-1]
        service = Service(settings)
        try:
            ring_up(sim, customer_id, "2000")  # the webhook is lost
            report = service.poll()
            assert report.error is None
            assert report.caught >= 1
            assert report.persons >= 1
            assert group_name_of(sim, customer_id) == EVERGREEN
            again = service.poll()
            assert again.caught == 0
            text = metrics_text(service.engine, service.budget)
        finally:
            service.shutdown()
    caught = next(
        line for line in text.splitlines() if line.startswith("greenloop_poll_catches_total ")
    )
    assert float(caught.split()[1]) == report.caught


def test_every_response_says_nosniff_and_errors_share_one_envelope(
    engine: Engine, db_url: str
) -> None:
    settings = settings_for("http://127.0.0.1:9", db_url, webhooks={"secret": SECRET})
    service = Service(settings)

    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug")

    try:
        dashboard = dashboard_routes(settings, service.engine)
        routes = [*service.routes(), *dashboard, Route("/boom", boom)]
        app = create_app(settings, service.engine, routes=routes)
        with TestClient(app, raise_server_exceptions=False) as client:
            for path in ("/healthz", "/metrics", "/static/dashboard.css", "/login"):
                response = client.get(path)
                assert response.status_code == 200, path
                assert response.headers["x-content-type-options"] == "nosniff", path
            assert_error(client.get("/no-such-page"), 404, "not_found")
            assert_error(client.get("/static/no-such.css"), 404, "not_found")
            assert_error(client.get("/api/no-such-route"), 404, "not_found")
            wrong = client.get("/webhooks/lightspeed")
            assert_error(wrong, 405, "method_not_allowed")
            assert wrong.headers["allow"] == "POST"
            unsigned = client.post("/webhooks/lightspeed", content=b"payload=%7B%7D")
            assert_error(unsigned, 401, "signature_required")
            assert_error(client.get("/boom"), 500, "internal_error")
    finally:
        service.shutdown()
