"""Real time on loopback. Prints one JSON object.

1. Sale → group moved: big sales are rung up in the simulator at a steady rate, each
   for a different customer not yet in the top tier; the clock runs from the sale's
   creation to the moment the simulator stores that customer's move into the top
   tier's group (webhook → `greenloop serve` → re-read → recompute → push).
2. Receiver: signed deliveries are posted open-loop at a fixed rate (each sent on
   schedule whether or not earlier ones were answered) while the worker processes
   them; the latency of each 2xx answer is measured by the sender.

`greenloop serve` runs as its own process on a fresh SQLite file (or --database-url);
the simulator runs in this one with its webhook sender in the background and the rate
limit lifted; the load generator of part 2 is a third process.

    .venv/bin/python benchmarks/webhook_service.py [--sales 600] [--rate 10] \\
        [--load-rate 250] [--load-seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from scratch_db import scratch_database
from sqlalchemy import select

from greenloop.config import Settings, load_settings
from greenloop.services import analysis, ingest
from greenloop.services import push as push_service
from greenloop.services import webhooks as webhook_service
from greenloop.simulator import ops_sales
from greenloop.simulator.app import app_for, create_context
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.server import start_in_thread
from greenloop.simulator.state import SimState
from greenloop.simulator.webhook_payloads import form_body, payload_10, signature_header
from greenloop.store import tables as t
from greenloop.store.analytics_repo import load_placeholders
from greenloop.store.engine import make_engine, migrate
from greenloop.store.inbox import inbox_stats

BIN = Path(sys.executable).parent
TOKEN = "bench-token-0123456789"
SECRET = "bench-webhook-secret-0123456789"
TOP = "Evergreen"
_LOAD_THREADS = 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentiles(values: list[float], scale: float = 1.0, digits: int = 3) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * scale, digits)

    return {
        "count": len(ordered),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1] * scale, digits),
    }


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- part 2's load generator (its own process) ---------------------------------------------


def _post_all(url: str, bodies: list[bytes], rate: float) -> list[tuple[float, int]]:
    """Send ``bodies[i]`` at ``start + i / rate`` (open loop) from a pool of threads,
    each with its own keep-alive connection; return (seconds, status) per delivery
    and, last, the whole run's duration."""
    results: list[tuple[float, int]] = [(0.0, 0)] * len(bodies)
    taken = iter(range(len(bodies)))
    lock = threading.Lock()
    start = time.perf_counter() + 0.5

    def sender() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    index = next(taken, None)
                if index is None:
                    return
                body = bodies[index]
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
                    "X-Signature": signature_header(SECRET, body),
                }
                time.sleep(max(0.0, start + index / rate - time.perf_counter()))
                began = time.perf_counter()
                try:
                    status = client.post(url, content=body, headers=headers).status_code
                except httpx.HTTPError:
                    status = 0
                results[index] = (time.perf_counter() - began, status)

    threads = [threading.Thread(target=sender) for _ in range(_LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [*results, (time.perf_counter() - start, -1)]


def generate_load(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    bodies = [b.encode("latin-1") for b in spec["bodies"]]
    results = _post_all(spec["url"], bodies, spec["rate"])
    print(json.dumps(results))


# -- the benchmark -------------------------------------------------------------------------


def settings_for(env: dict[str, str]) -> Settings:
    return load_settings(None, env=env)


def start_serve(env: dict[str, str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    log = (cwd / "serve.log").open("ab")
    proc = subprocess.Popen(
        [str(BIN / "greenloop"), "serve", "--port", str(port), "--no-schedule"],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise SystemExit((cwd / "serve.log").read_text()[-3000:])
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    wait_for(up, 60, "greenloop serve")
    return proc


def candidates(settings: Settings, state: SimState, top_group: str) -> list[str]:
    """One profile per person whose tier is below the top one and whose group is a
    tier group or the default group (so a push may move it)."""
    managed = {g["id"] for g in state.snapshot("customer_groups")}
    managed -= {
        g["id"] for g in state.snapshot("customer_groups") if g["name"] in ("Staff", "Wholesale")
    }
    engine = make_engine(settings.database_url())
    try:
        m, p = t.identity_members.c, t.persons.c
        with engine.connect() as conn:
            placeholders = load_placeholders(conn).emails
            rows = conn.execute(
                select(p.id, p.tier, m.customer_id)
                .join(t.identity_members, m.person_id == p.id)
                .where(m.customer_id.is_not(None), p.profiles == 1)
                .order_by(p.id)
            ).all()
    finally:
        engine.dispose()
    out = []
    for row in rows:
        customer = state.view("customers", row.customer_id)
        if customer is None or customer.get("deleted_at") or row.tier == TOP:
            continue
        group = customer.get("customer_group_id")
        email = str(customer.get("email") or "").strip().lower()
        # A profile whose email is a placeholder is a shared account: never moved.
        if group in managed and group != top_group and email and email not in placeholders:
            out.append(str(row.customer_id))
    return out


def run(args: argparse.Namespace, workdir: Path, database_url: str) -> dict[str, Any]:
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    store = generate_store(
        GeneratorConfig(
            seed=7, customers=args.customers, days=365, anchor=anchor - timedelta(days=35)
        )
    )
    state = SimState(store)
    ctx = create_context(state, SimulatorConfig(token=TOKEN, rate_limit=100_000_000))
    db_url = database_url or f"sqlite:///{workdir / 'greenloop.db'}"
    with start_in_thread(app_for(ctx)) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLOOP_")}
        env.update(
            GREENLOOP_LIGHTSPEED_BASE_URL=sim.url,
            GREENLOOP_LIGHTSPEED_TOKEN=TOKEN,
            GREENLOOP_DATABASE_URL=db_url,
            GREENLOOP_WEBHOOK_SECRET=SECRET,
            GREENLOOP_JOBS__POLL_MINUTES="0",
        )
        settings = settings_for(env)
        say("initial sync, analyze and push")
        engine = make_engine(db_url)
        migrate(engine)
        ingest.run_sync(settings)
        analysis.analyze(settings)
        push_service.run_push(settings, log_file=workdir / "tier_sync_log.json")
        groups = {g["name"]: g["id"] for g in state.snapshot("customer_groups")}
        top_group = groups[f"GreenHaus Crew - {TOP}"]
        chosen = candidates(settings, state, top_group)[: args.sales]
        if len(chosen) < args.sales:
            raise SystemExit(f"only {len(chosen)} customers can move; use more --customers")
        port = free_port()
        serve = start_serve(env, port, workdir)
        try:
            webhook_service.register_webhooks(
                settings, f"http://127.0.0.1:{port}/webhooks/lightspeed"
            )
            ctx.webhooks.update({"secret": SECRET})
            ctx.webhooks.start()
            moved = part_one(ctx, state, chosen, top_group, args.rate)
            wait_for(ctx.webhooks.idle, 120, "the sender")

            def drained() -> bool:
                with engine.connect() as conn:
                    return inbox_stats(conn, datetime.now(UTC)).depth == 0

            wait_for(drained, 120, "the inbox to drain before the load")
            load = part_two(
                state,
                f"http://127.0.0.1:{port}/webhooks/lightspeed?type=customer.update",
                args.load_rate,
                args.load_seconds,
                workdir,
            )
        finally:
            ctx.webhooks.close()
            serve.terminate()
            serve.wait(timeout=60)
            engine.dispose()
    latencies = [moved[c] for c in chosen if c in moved]
    group_moved = percentiles(latencies)
    group_moved["not_moved"] = len(chosen) - len(latencies)
    figures: dict[str, Any] = {
        "benchmark": "realtime",
        "database": db_url.split(":", 1)[0].split("+")[0],
        "customers": len(store.customers),
        "sales": len(chosen),
        "sale_rate_per_second": args.rate,
        "sale_to_group_moved_seconds": group_moved,
        "receiver": load,
        "targets": {"group_moved_p95_seconds": 2.0, "receiver_2xx_p99_ms": 100.0},
    }
    figures["meets_targets"] = bool(
        group_moved.get("p95", 1e9) < 2.0
        and not group_moved["not_moved"]
        and load["latency_ms"].get("p99", 1e9) < 100.0
        and load["non_2xx"] == 0
        and load["achieved_rate_per_second"] >= 200
    )
    return figures


def part_one(
    ctx: Any, state: SimState, chosen: list[str], top_group: str, rate: float
) -> dict[str, float]:
    """Ring up one big sale per chosen customer at ``rate`` per second; return each
    customer's seconds from sale to the move into the top group."""
    created: dict[str, float] = {}
    moved: dict[str, float] = {}
    lock = threading.Lock()

    def on_change(kind: str, obj: dict[str, Any]) -> None:
        if kind == "customers" and obj.get("customer_group_id") == top_group:
            with lock:
                started = created.get(obj["id"])
                if started is not None and obj["id"] not in moved:
                    moved[obj["id"]] = time.perf_counter() - started

    state.add_listener(on_change)
    register = state.snapshot("registers")[0]["id"]
    say(f"part 1: {len(chosen)} sales at {rate}/s")
    start = time.perf_counter()
    for index, customer_id in enumerate(chosen):
        time.sleep(max(0.0, start + index / rate - time.perf_counter()))
        line = {"product_id": "bench-big", "quantity": 1, "price": Decimal("2500")}
        body = {"register_id": register, "customer_id": customer_id, "line_items": [line]}
        with lock:
            created[customer_id] = time.perf_counter()
        ops_sales.create_sale(ctx, body)
    deadline = time.monotonic() + 60
    while len(moved) < len(chosen) and time.monotonic() < deadline:
        time.sleep(0.1)
    state.remove_listener(on_change)
    return moved


def part_two(
    state: SimState, url: str, rate: float, seconds: float, workdir: Path
) -> dict[str, Any]:
    customers = [c for c in state.snapshot("customers") if not c.get("deleted_at")]
    count = int(rate * seconds)
    bodies = [
        form_body(payload_10("customers", {**customers[i % len(customers)], "note": f"load {i}"}))
        for i in range(count)
    ]
    spec = workdir / "load.json"
    spec.write_text(
        json.dumps({"url": url, "rate": rate, "bodies": [b.decode("latin-1") for b in bodies]})
    )
    say(f"part 2: {count} deliveries at {rate}/s")
    done = subprocess.run(
        [sys.executable, __file__, "--generate-load", str(spec)],
        capture_output=True,
        check=True,
    )
    results = json.loads(done.stdout)
    elapsed = results.pop()[0]
    ok = [latency for latency, status in results if 200 <= status < 300]
    return {
        "deliveries": count,
        "target_rate_per_second": rate,
        "achieved_rate_per_second": round(count / elapsed, 1),
        "non_2xx": len(results) - len(ok),
        "latency_ms": percentiles(ok, scale=1000, digits=1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--sales", type=int, default=600)
    parser.add_argument("--rate", type=float, default=10.0, help="sales per second")
    parser.add_argument("--load-rate", type=float, default=250.0, help="deliveries per second")
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--generate-load", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_load:
        generate_load(args.generate_load)
        return
    with (
        tempfile.TemporaryDirectory() as scratch,
        scratch_database(args.database_url, "realtime") as database_url,
    ):
        figures = run(args, Path(scratch), database_url)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
