"""Register → deliver (issue 7 acceptance), all real processes: `greenloop simulator
serve` with webhook knobs on its command line, `greenloop webhooks register --url …`
creating the subscriptions, and the simulator delivering its changes to a running
`greenloop serve`, which moves a big spender's group.

No webhook secret or URL token is configured anywhere (issue 14, item 3): register
makes the URL token, keeps it in the database and never prints it, and the serve that
was already running reads it there and accepts the deliveries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from greenloop.services import analysis, ingest
from greenloop.services import push as push_service
from greenloop.simulator.model import dumps, loads
from greenloop.store.service_state import read_value
from greenloop.web.url_token import STORED_NAME
from tests.e2e.test_serve_support import (
    ServeProcess,
    free_port,
    greenloop,
    greenloop_env,
    inbox_depth,
    inbox_rows,
    simulator_process,
    wait_until,
)
from tests.integration.test_realtime_support import assert_realtime_facts_match
from tests.simulation import settings_for

TOKEN = "e2e-register-token-0123456789"
EVERGREEN = "GreenHaus Crew - Evergreen"


@pytest.fixture
def simulator() -> Iterator[str]:
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    anchor -= timedelta(days=35)
    args = ["--port", "0", "--token", TOKEN, "--seed", "21", "--customers", "120"]
    args += ["--days", "200", "--anchor", anchor.isoformat()]
    knobs = ["--webhook-duplicate-rate", "0.3", "--webhook-reorder-window", "3"]
    knobs += ["--webhook-delay-max-ms", "30", "--webhook-retry-base", "0.2"]
    with simulator_process(*args, *knobs) as url:
        yield url


def control(sim: str, method: str, path: str, body: Any = None) -> Any:
    content = None if body is None else dumps(body).encode()
    response = httpx.request(
        method,
        f"{sim}/_sim/{path}",
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    response.raise_for_status()
    return loads(response.content)


def group_of(sim: str, customer_id: str) -> str:
    store = control(sim, "GET", "store")
    names = {g["id"]: g["name"] for g in store["customer_groups"]}
    customer = next(c for c in store["customers"] if c["id"] == customer_id)
    return str(names.get(customer["customer_group_id"], ""))


def test_register_then_the_simulator_delivers_to_serve(
    simulator: str, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    out = {"output_dir": str(tmp_path / "out")}
    settings = settings_for(simulator, db_url, lightspeed={"token": TOKEN}, jobs=out)
    ingest.run_sync(settings)
    analysis.analyze(settings)
    report, _ = push_service.run_push(settings)
    movable = [m.customer_id for m in report.plan.moves if m.tier not in {"Evergreen", "Bloom"}]
    env = greenloop_env(simulator, TOKEN, db_url)
    serve = ServeProcess(free_port(), env, tmp_path)
    serve.start()
    try:
        url = f"{serve.url}/webhooks/lightspeed"
        args = ("webhooks", "register", "--url", url, "--json")
        registered = greenloop(*args, env=env, cwd=tmp_path)
        assert registered.returncode == 0, registered.stderr
        url_token = read_value(engine, STORED_NAME)
        assert url_token
        assert url_token not in registered.stdout + registered.stderr
        answer = json.loads(registered.stdout)
        assert answer["url_token"] == "created"
        assert [h["status"] for h in answer["webhooks"]] == ["created", "created"]
        assert not list(tmp_path.glob("*.toml"))  # nothing but the database holds it
        hooks = control(simulator, "GET", "store")["webhooks"]
        assert sorted((h["type"], h["url"], h["active"]) for h in hooks) == [
            ("customer.update", f"{url}?type=customer.update&token={url_token}", True),
            ("sale.update", f"{url}?type=sale.update&token={url_token}", True),
        ]

        # A big sale: the delivery reaches serve, which moves the customer's group.
        customer_id = movable[0]
        register = control(simulator, "GET", "store")["registers"][0]
        line = {"product_id": "p-1", "quantity": 1, "price": Decimal("2000")}
        sale = {"register_id": register["id"], "customer_id": customer_id, "line_items": [line]}
        control(simulator, "POST", "sales", sale)
        wait_until(lambda: group_of(simulator, customer_id) == EVERGREEN, seconds=60, what="move")

        def quiet() -> bool:
            stats = control(simulator, "GET", "webhooks")["data"]["stats"]
            return stats["queued"] == 0 and stats["in_flight"] == 0 and inbox_depth(engine) == 0

        # A new token, while serve runs: the subscriptions are replaced, and the live
        # changes below reach serve with the new token only.
        wait_until(quiet, seconds=60, what="the sale's deliveries to be processed")
        rotated = greenloop(*args, "--rotate-token", env=env, cwd=tmp_path)
        assert rotated.returncode == 0, rotated.stderr
        new_token = read_value(engine, STORED_NAME)
        assert new_token
        assert new_token != url_token
        assert new_token not in rotated.stdout + rotated.stderr
        answer = json.loads(rotated.stdout)
        assert (answer["url_token"], len(answer["replaced"])) == ("rotated", 2)
        hooks = control(simulator, "GET", "store")["webhooks"]
        assert sorted(h["url"] for h in hooks) == [
            f"{url}?type=customer.update&token={new_token}",
            f"{url}?type=sale.update&token={new_token}",
        ]

        # A stretch of live changes, delivered with copies and out of order.
        changes = control(simulator, "POST", "live", {"steps": 60, "seed": 3})["data"]
        assert len(changes) == 60
        wait_until(quiet, seconds=120, what="the deliveries to be processed")
        served = control(simulator, "GET", "store")
        stats = control(simulator, "GET", "webhooks")["data"]["stats"]
        log = control(simulator, "GET", "webhooks/deliveries")["data"]
    finally:
        serve.stop()
    assert stats["duplicated"] > 0
    assert stats["out_of_order"] > 0
    assert stats["gave_up"] == 0
    assert not any(t in entry["url"] for entry in log for t in (url_token, new_token))
    rows = [r for r in inbox_rows(engine) if r["first_seen_by"] == "webhook"]
    assert {r["signature_encoding"] for r in rows} == {"url-token"}
    assert sum(r["duplicates"] for r in rows) > 0
    assert_realtime_facts_match(engine, served)
    said = serve.log.read_text()
    assert "refused (503) until `greenloop webhooks register" in said  # at start
    assert url_token not in said
    assert new_token not in said
