"""`tiers push` against the simulator at the documented budget of a 1-register store.
Prints one JSON object.

A seeded store (20,000 customers by default) is generated and served by the simulator in
its own process, over HTTP on loopback, with a rate limit of 350 requests per 300 s
(300 x 1 register + 50: the generated store has five registers, so the limit is set
explicitly). GreenLoop syncs it into a fresh SQLite database, analyzes it as of the
generator's anchor, then pushes the tiers with the default settings, and pushes again
right after (which must send no write). The figures: requests used against the minimum
(refresh reads, group creation, ceil(moves into a group / batch size) per group, re-read),
429s, moves per minute, and the retailer's current approach (a GET then a write per
customer) on the same plan. Then a batch-size sweep: the analyzed database before the
push is copied and pushed again, against a fresh simulator serving the same store, once
per batch size.

    .venv/bin/python benchmarks/push.py [--customers 20000] [--seed 7] [--days 365]
        [--keep DIR] [--no-sweep] [--sizes 25,50,100,250,500,1000,2000]

``--keep DIR`` leaves the store file, the config, the SQLite file (as pushed) and the
sweep's copies in DIR. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from greenloop import operations, operations_push
from greenloop.config import Settings, load_settings
from greenloop.domain.group_plan import GroupMove
from greenloop.push.apply import PushReport
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.model import dump_store
from greenloop.store import tables as t

BIN = Path(sys.executable).parent
TOKEN = "bench-token-0123456789"
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
# The documented budget of a store with one register (reference §9): 300 x 1 + 50.
BUDGET_REQUESTS = 350
BUDGET_WINDOW_SECONDS = 300
BUDGET_PER_MINUTE = BUDGET_REQUESTS / (BUDGET_WINDOW_SECONDS / 60)
ENV = {"GREENLOOP_LIGHTSPEED_TOKEN": TOKEN}
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sim:
    def __init__(self, url: str) -> None:
        self.url = url

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/_sim/{path}", json=body, timeout=120)
        response.raise_for_status()
        return response.json() if response.content else None

    def requests(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "requests")["data"])

    def budget_remaining(self) -> int:
        return int(self.control("GET", "rate_limit")["data"]["remaining"])


@contextmanager
def simulator(store_file: Path, log_file: Path) -> Iterator[Sim]:
    """The simulator serving ``store_file`` in its own process, at the 1-register budget."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            [
                str(BIN / "greenloop"),
                "simulator",
                "serve",
                "--port",
                str(port),
                "--token",
                TOKEN,
                "--store",
                str(store_file),
                "--rate-limit",
                str(BUDGET_REQUESTS),
                "--rate-window",
                str(BUDGET_WINDOW_SECONDS),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"simulator exited early; see {log_file}")
            try:
                if httpx.get(f"{url}/_sim/info", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("simulator did not start in time")
            time.sleep(0.25)
        yield Sim(url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def init_workdir(workdir: Path, url: str) -> Path:
    config = workdir / "greenloop.toml"
    subprocess.run(
        [str(BIN / "greenloop"), "init", "--config", str(config), "--base-url", url],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return config


def settings_at(config: Path, url: str, batch_size: int | None = None) -> Settings:
    overrides: dict[str, dict[str, Any]] = {"lightspeed": {"base_url": url}}
    if batch_size is not None:
        overrides["push"] = {"batch_size": batch_size}
    return load_settings(config, env=ENV, overrides=overrides)


def copy_database(source: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.name == "greenloop.toml" or path.name.startswith("greenloop.db"):
            shutil.copy2(path, target / path.name)


def sync_runs_after(settings: Settings, after_id: int) -> list[dict[str, Any]]:
    engine = operations.open_engine(settings)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.sync_runs.c.detail)
                .where(t.sync_runs.c.id > after_id)
                .order_by(t.sync_runs.c.id)
            ).all()
    finally:
        engine.dispose()
    return [dict(r.detail) for r in rows]


def last_sync_run_id(settings: Settings) -> int:
    engine = operations.open_engine(settings)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.max(t.sync_runs.c.id))).scalar() or 0)
    finally:
        engine.dispose()


def read_minimum(detail: dict[str, Any], page_size: int) -> int:
    """Pages of the changed objects, plus the empty page that ends each resource."""
    return sum(math.ceil(r["fetched"] / page_size) + 1 for r in detail["resources"].values())


def move_minimum(moves: list[GroupMove], batch_size: int) -> int:
    per_group = Counter(move.to_group_id for move in moves)
    return sum(math.ceil(n / batch_size) for n in per_group.values())


def classify(entries: list[dict[str, Any]]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for e in entries:
        path, method = e["path"], e["method"]
        if method == "GET" and path.endswith("/customer_groups"):
            kinds["get_groups"] += 1
        elif method == "GET" and path.endswith("/customers"):
            kinds["get_customers"] += 1
        elif method == "POST" and path.endswith("/customer_groups"):
            kinds["create_group"] += 1
        elif method == "POST" and path.endswith("/customers"):
            kinds["move_batch"] += 1
        else:
            kinds[f"{method} {path}"] += 1
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            kinds["writes"] += 1
        if method == "PUT":
            kinds["put"] += 1
        if e["status"] == 429:
            kinds["status_429"] += 1
    kinds["total"] = len(entries)
    return kinds


def timed_push(settings: Settings) -> tuple[PushReport, float]:
    started = time.perf_counter()
    report, _ = operations_push.run_push(settings)
    return report, time.perf_counter() - started


def sweep(
    workdir: Path, store_file: Path, analyzed: Path, sizes: list[int], planned: int
) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        target = workdir / f"sweep-{size}"
        copy_database(analyzed, target)
        with simulator(store_file, workdir / "simulator.log") as sim:
            settings = settings_at(target / "greenloop.toml", sim.url, batch_size=size)
            say(f"sweep: batch size {size}")
            report, seconds = timed_push(settings)
            seen = classify(sim.requests())
        moves = len(report.plan.moves)
        rows.append(
            {
                "batch_size": size,
                "outcome": report.outcome,
                "moves": moves,
                "moved": report.moved,
                "seconds": round(seconds, 2),
                "requests": report.requests.total,
                "move_requests": report.requests.moves,
                "minimum_move_requests": move_minimum(report.plan.moves, size),
                "requests_seen_by_simulator": seen["total"],
                "rate_limited_429s": report.rate_limited,
                "fits_one_window": report.requests.total <= BUDGET_REQUESTS,
                "moves_per_minute_measured": round(moves / seconds * 60) if seconds else None,
                "moves_per_minute_under_budget": round(
                    moves / max(seconds / 60, report.requests.total / BUDGET_PER_MINUTE)
                ),
            }
        )
        if moves != planned:
            say(f"sweep: batch size {size} planned {moves} moves, not {planned}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", default="", help="write every file to this new directory")
    parser.add_argument("--no-sweep", action="store_true", help="skip the batch-size sweep")
    parser.add_argument("--sizes", default="25,50,100,250,500,1000,2000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(args.keep or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        if any(workdir.iterdir()):
            raise SystemExit(f"{workdir} is not empty: --keep needs a new directory")
        figures = run(workdir, args.customers, args.seed, args.days, None if args.no_sweep else sizes)
    print(json.dumps(figures))


def run(
    workdir: Path, customers: int, seed: int, days: int, sizes: list[int] | None
) -> dict[str, Any]:
    say(f"generating a store of {customers} customers (seed {seed}, {days} days)")
    store = generate_store(GeneratorConfig(seed=seed, customers=customers, days=days, anchor=ANCHOR))
    store_file = workdir / "store.json"
    dump_store(store, store_file)
    generated = {"customers": len(store.customers), "sales": len(store.sales)}
    registers = len(store.registers)
    del store
    main_dir = workdir / "main"
    main_dir.mkdir()
    analyzed = workdir / "analyzed"
    with simulator(store_file, workdir / "simulator.log") as sim:
        config = init_workdir(main_dir, sim.url)
        settings = settings_at(config, sim.url)
        page_size = settings.sync.page_size
        batch_size = settings.push.batch_size
        say("sync")
        began = time.perf_counter()
        synced = operations.run_sync(settings)
        sync_seconds = time.perf_counter() - began
        say(f"sync: {synced.requests} requests in {sync_seconds:.1f}s; analyze")
        began = time.perf_counter()
        operations.analyze(settings, now=ANCHOR)
        analyze_seconds = time.perf_counter() - began
        if sizes:
            copy_database(main_dir, analyzed)
        before_push = last_sync_run_id(settings)
        budget_before = sim.budget_remaining()
        sim.control("DELETE", "requests")
        say("push")
        report, seconds = timed_push(settings)
        seen = classify(sim.requests())
        budget_after = sim.budget_remaining()
        reads = sync_runs_after(settings, before_push)
        say(f"push: {report.outcome}, {report.moved} moved in {seconds:.1f}s; second push")
        sim.control("DELETE", "requests")
        again, again_seconds = timed_push(settings)
        seen_again = classify(sim.requests())

    if not report.ok:
        raise SystemExit(f"push did not succeed: {report.outcome}: {report.error}")
    moves = report.plan.moves
    tier_changes = len(moves)
    refresh_min = read_minimum(reads[0], page_size) if reads else 0
    reread_min = read_minimum(reads[1], page_size) if len(reads) > 1 else 0
    minimum = {
        "refresh": refresh_min,
        "create_groups": len(report.created_groups),
        "moves": move_minimum(moves, batch_size),
        "reread": reread_min,
    }
    minimum["total"] = sum(minimum.values())
    used = report.requests
    minutes_under_budget = used.total / BUDGET_PER_MINUTE
    retailer_requests = 2 * tier_changes
    retailer_minutes = retailer_requests / BUDGET_PER_MINUTE
    figures: dict[str, Any] = {
        "benchmark": "push",
        "database": "sqlite",
        "customers": generated["customers"],
        "sales": generated["sales"],
        "generator": {"seed": seed, "days": days, "anchor": ANCHOR.isoformat()},
        "generated_registers": registers,
        "rate_limit": {"requests": BUDGET_REQUESTS, "window_seconds": BUDGET_WINDOW_SECONDS},
        "sync_seconds": round(sync_seconds, 1),
        "sync_requests": synced.requests,
        "analyze_seconds": round(analyze_seconds, 1),
        "tier_changes": tier_changes,
        "tier_changes_by_target_tier": dict(Counter(m.tier for m in moves).most_common()),
        "skipped": {r: len(report.plan.skipped(r)) for r in ("protected", "placeholder", "override")},
        "groups_created": report.created_groups,
        "outcome": report.outcome,
        "moved": report.moved,
        "not_taken": len(report.not_taken),
        "failed": len(report.failed),
        "batch_size": batch_size,
        "batches": report.batches,
        "requests_used": {
            "refresh": used.refresh,
            "create_groups": used.create_groups,
            "moves": used.moves,
            "reread": used.reread,
            "total": used.total,
        },
        "minimum_requests": minimum,
        "requests_equal_minimum": used.total == minimum["total"],
        "report_minimum_move_requests": report.minimum_move_requests,
        "requests_seen_by_simulator": {
            k: seen[k]
            for k in ("get_groups", "get_customers", "create_group", "move_batch", "total")
        },
        "put_requests": seen["put"],
        "rate_limited_429s": report.rate_limited,
        "simulator_429s": seen["status_429"],
        "budget_remaining_before_push": budget_before,
        "budget_remaining_after_push": budget_after,
        "seconds": round(seconds, 2),
        "moves_per_minute": round(tier_changes / seconds * 60) if seconds else None,
        "minutes_under_budget": round(minutes_under_budget, 2),
        # With the budget the only limit: each request moves up to batch_size customers.
        "moves_per_minute_under_budget": round(BUDGET_PER_MINUTE * batch_size),
        "moves_per_minute_under_budget_this_plan": round(
            tier_changes / max(seconds / 60, minutes_under_budget)
        ),
        "retailer_requests": retailer_requests,
        "retailer_minutes_under_budget": round(retailer_minutes, 1),
        "retailer_moves_per_minute_under_budget": round(BUDGET_PER_MINUTE / 2, 1),
        "second_push_moves": len(again.plan.moves),
        "second_push_write_requests": seen_again["writes"],
        "second_push_requests": again.requests.total,
        "second_push_seconds": round(again_seconds, 2),
        "second_push_outcome": again.outcome,
    }
    if sizes:
        figures["sweep"] = sweep(workdir, store_file, analyzed, sizes, tier_changes)
    say("done")
    return figures


if __name__ == "__main__":
    main()
