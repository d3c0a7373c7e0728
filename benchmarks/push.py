"""`tiers push` against the simulator at the documented budget of a 1-register store.
Prints one JSON object.

A seeded store (20,000 customers by default) is generated and served by the simulator in
its own process, over HTTP on loopback, with a rate limit of 350 requests per 300 s
(300 x 1 register + 50; the generated store has five registers, so the limit is set
explicitly). GreenLoop syncs it into a fresh SQLite database, analyzes it as of the
generator's anchor, pushes the tiers with the default settings, then pushes again right
after (which must send no write). The figures: requests used against the minimum (the
refresh reads, one request per missing tier group, ceil(moves into a group / batch size)
per group, the re-read), 429s, seconds and moves per minute, and the retailer's current
approach (a GET then a write per customer) computed on the same plan.

The default history is 90 days, which gives about 5,600 tier changes on 20,000
customers (the issue's "about 5,000"); a 365-day history gives about 8,000 (the
generator's old-script groups are wrong for about 40% of a longer history's payers).

Then, each on a copy of the analyzed database taken before the push and against a fresh
simulator serving the same store: a batch-size sweep (seconds and requests per size; the
simulator refuses batches over 1,000 ids with a 400, so 2000 shows the cost of halving),
and two pushes under budget pressure, on a window scaled down to 15 s on both sides so
they wait seconds instead of minutes: one that starts with the budget spent (its first
request gets a 429) and one that starts with 10 requests left.

    .venv/bin/python benchmarks/push.py [--customers 20000] [--seed 7] [--days 90]
        [--sales N] [--keep DIR] [--no-sweep] [--no-pressure]
        [--sizes 25,50,100,250,500,1000,2000]

``--keep DIR`` leaves the store file, the configs and the SQLite files (as pushed) in DIR.
Progress goes to stderr.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from greenloop.config import Settings, load_settings
from greenloop.domain.group_plan import GroupMove
from greenloop.push.apply import PushReport
from greenloop.services import analysis, ingest, setup
from greenloop.services import push as push_service
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
PRESSURE_WINDOW_SECONDS = 15
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


def settings_at(
    config: Path, url: str, *, batch_size: int | None = None, window: float | None = None
) -> Settings:
    overrides: dict[str, dict[str, Any]] = {"lightspeed": {"base_url": url}}
    if window is not None:
        overrides["lightspeed"]["rate_limit_window_seconds"] = window
    if batch_size is not None:
        overrides["push"] = {"batch_size": batch_size}
    return load_settings(config, env=ENV, overrides=overrides)


def copy_workdir(source: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.name == "greenloop.toml" or path.name.startswith("greenloop.db"):
            shutil.copy2(path, target / path.name)


def sync_runs(settings: Settings, after_id: int = 0) -> list[dict[str, Any]]:
    engine = setup.open_engine(settings)
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
    engine = setup.open_engine(settings)
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
    """The simulator's request log, counted by kind."""
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
            kinds["other"] += 1
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            kinds["writes"] += 1
        if method in {"PUT", "PATCH"}:
            kinds["put_or_patch"] += 1
        if e["status"] == 429:
            kinds["status_429"] += 1
        elif e["status"] >= 400:
            kinds["refused"] += 1
    kinds["total"] = len(entries)
    return kinds


@dataclass
class Pushed:
    """One measured push: its report, the simulator's view and the reads it made."""

    report: PushReport
    seconds: float
    seen: Counter[str]
    reads: list[dict[str, Any]]  # sync runs of the refresh and the re-read
    page_size: int

    def minimum(self) -> dict[str, int]:
        report = self.report
        minimum = {
            "refresh": read_minimum(self.reads[0], self.page_size) if self.reads else 0,
            "create_groups": len(report.created_groups),
            "moves": move_minimum(report.plan.moves, report.batch_size),
            "reread": read_minimum(self.reads[1], self.page_size) if len(self.reads) > 1 else 0,
        }
        minimum["total"] = sum(minimum.values())
        return minimum

    def used(self) -> dict[str, int]:
        used = self.report.requests
        return {
            "refresh": used.refresh,
            "create_groups": used.create_groups,
            "moves": used.moves,
            "reread": used.reread,
            "total": used.total,
        }

    def moves_per_minute_under_budget(self) -> int:
        """Moves per minute when the push may not outrun 350 requests per 5 minutes."""
        minutes = max(self.seconds / 60, self.report.requests.total / BUDGET_PER_MINUTE)
        return round(len(self.report.plan.moves) / minutes)


def measured_push(sim: Sim, settings: Settings) -> Pushed:
    before = last_sync_run_id(settings)
    sim.control("DELETE", "requests")
    started = time.perf_counter()
    report, _ = push_service.run_push(settings)
    seconds = time.perf_counter() - started
    seen = classify(sim.requests())
    return Pushed(report, seconds, seen, sync_runs(settings, before), settings.sync.page_size)


@dataclass
class Bench:
    workdir: Path
    store_file: Path
    analyzed: Path  # config and database after analyze, before any push

    def push_on_copy(
        self,
        tag: str,
        *,
        batch_size: int | None = None,
        remaining: int | None = None,
        window: float | None = None,
    ) -> Pushed:
        """A push on a copy of the analyzed database, against a fresh simulator."""
        target = self.workdir / tag
        copy_workdir(self.analyzed, target)
        with simulator(self.store_file, self.workdir / "simulator.log") as sim:
            if remaining is not None or window is not None:
                body: dict[str, Any] = {}
                if window is not None:
                    body["window_seconds"] = window
                if remaining is not None:
                    body["remaining"] = remaining
                sim.control("PUT", "rate_limit", body)
            settings = settings_at(
                target / "greenloop.toml", sim.url, batch_size=batch_size, window=window
            )
            say(f"{tag}: push")
            return measured_push(sim, settings)


def sweep(bench: Bench, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        pushed = bench.push_on_copy(f"sweep-{size}", batch_size=size)
        report, minimum = pushed.report, pushed.minimum()
        rows.append(
            {
                "batch_size": size,
                "outcome": report.outcome,
                "moves": len(report.plan.moves),
                "moved": report.moved,
                "seconds": round(pushed.seconds, 2),
                "requests": report.requests.total,
                "move_requests": report.requests.moves,
                "minimum_requests": minimum["total"],
                "minimum_move_requests": minimum["moves"],
                "refused_batches": pushed.seen["refused"],
                "rate_limited_429s": report.rate_limited,
                "fits_one_window": report.requests.total <= BUDGET_REQUESTS,
                "moves_per_minute": round(len(report.plan.moves) / pushed.seconds * 60),
                "moves_per_minute_under_budget": pushed.moves_per_minute_under_budget(),
            }
        )
    return rows


def pressure(bench: Bench) -> list[dict[str, Any]]:
    rows = []
    for remaining in (0, 10):
        pushed = bench.push_on_copy(
            f"pressure-{remaining}", remaining=remaining, window=PRESSURE_WINDOW_SECONDS
        )
        report, minimum = pushed.report, pushed.minimum()
        accepted = pushed.seen["total"] - pushed.seen["status_429"]
        rows.append(
            {
                "window_seconds": PRESSURE_WINDOW_SECONDS,
                "budget_left_at_start": remaining,
                "outcome": report.outcome,
                "moves": len(report.plan.moves),
                "moved": report.moved,
                "seconds": round(pushed.seconds, 2),
                "rate_limited_429s": report.rate_limited,
                "simulator_429s": pushed.seen["status_429"],
                "requests_used": report.requests.total,
                "requests_answered": accepted,
                "minimum_requests": minimum["total"],
                "answered_equal_minimum": accepted == minimum["total"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--sales", type=int, default=None, help="default: the generator's")
    parser.add_argument("--keep", default="", help="write every file to this new directory")
    parser.add_argument("--no-sweep", action="store_true", help="skip the batch-size sweep")
    parser.add_argument("--no-pressure", action="store_true", help="skip the pressure runs")
    parser.add_argument("--sizes", default="25,50,100,250,500,1000,2000")
    args = parser.parse_args()
    sizes = [] if args.no_sweep else [int(s) for s in args.sizes.split(",") if s.strip()]

    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(args.keep or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        if any(workdir.iterdir()):
            raise SystemExit(f"{workdir} is not empty: --keep needs a new directory")
        config = GeneratorConfig(
            seed=args.seed,
            customers=args.customers,
            days=args.days,
            sales=args.sales,
            anchor=ANCHOR,
        )
        figures = run(workdir, config, sizes, pressure_runs=not args.no_pressure)
    print(json.dumps(figures))


def run(
    workdir: Path, config: GeneratorConfig, sizes: list[int], *, pressure_runs: bool
) -> dict[str, Any]:
    say(f"generating a store: {config}")
    store = generate_store(config)
    store_file = workdir / "store.json"
    dump_store(store, store_file)
    generated = {"customers": len(store.customers), "sales": len(store.sales)}
    registers = len(store.registers)
    del store
    main_dir = workdir / "main"
    main_dir.mkdir()
    bench = Bench(workdir, store_file, workdir / "analyzed")
    with simulator(store_file, workdir / "simulator.log") as sim:
        config_file = main_dir / "greenloop.toml"
        subprocess.run(
            [str(BIN / "greenloop"), "init", "--config", str(config_file), "--base-url", sim.url],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        settings = settings_at(config_file, sim.url)
        say("sync")
        began = time.perf_counter()
        synced = ingest.run_sync(settings)
        sync_seconds = time.perf_counter() - began
        say(f"sync: {synced.requests} requests in {sync_seconds:.1f}s; analyze")
        began = time.perf_counter()
        analysis.analyze(settings, now=ANCHOR)
        analyze_seconds = time.perf_counter() - began
        if sizes or pressure_runs:
            copy_workdir(main_dir, bench.analyzed)
        budget_before = sim.budget_remaining()
        say("push")
        first = measured_push(sim, settings)
        budget_after = sim.budget_remaining()
        report = first.report
        say(f"push: {report.outcome}, {report.moved} moved in {first.seconds:.1f}s; again")
        second = measured_push(sim, settings)

    if not report.ok:
        raise SystemExit(f"push did not succeed: {report.outcome}: {report.error}")
    moves = report.plan.moves
    tier_changes = len(moves)
    batch_size = report.batch_size
    used, minimum = first.used(), first.minimum()
    minutes_under_budget = used["total"] / BUDGET_PER_MINUTE
    retailer_requests = 2 * tier_changes
    figures: dict[str, Any] = {
        "benchmark": "push",
        "database": "sqlite",
        "customers": generated["customers"],
        "sales": generated["sales"],
        "generator": {
            "seed": config.seed,
            "days": config.days,
            "sales": config.sales,
            "anchor": ANCHOR.isoformat(),
        },
        "generated_registers": registers,
        "rate_limit": {"requests": BUDGET_REQUESTS, "window_seconds": BUDGET_WINDOW_SECONDS},
        "sync_seconds": round(sync_seconds, 1),
        "sync_requests": synced.requests,
        "analyze_seconds": round(analyze_seconds, 1),
        "tier_changes": tier_changes,
        "tier_changes_by_target_tier": {
            (tier or "(no tier)"): n for tier, n in Counter(m.tier for m in moves).most_common()
        },
        "target_groups": len({m.to_group_id for m in moves}),
        "skipped": {
            r: len(report.plan.skipped(r)) for r in ("protected", "placeholder", "override")
        },
        "groups_created": report.created_groups,
        "outcome": report.outcome,
        "moved": report.moved,
        "not_taken": len(report.not_taken),
        "failed": len(report.failed),
        "batch_size": batch_size,
        "batches": report.batches,
        "requests_used": used,
        "minimum_requests": minimum,
        "requests_equal_minimum": used == minimum,
        "report_minimum_move_requests": report.minimum_move_requests,
        "requests_seen_by_simulator": {
            k: first.seen[k]
            for k in ("get_groups", "get_customers", "create_group", "move_batch", "other", "total")
        },
        "put_or_patch_requests": first.seen["put_or_patch"],
        "rate_limited_429s": report.rate_limited,
        "simulator_429s": first.seen["status_429"],
        "budget_left_before_push": budget_before,
        "budget_left_after_push": budget_after,
        "seconds": round(first.seconds, 2),
        "moves_per_minute": round(tier_changes / first.seconds * 60),
        "minutes_under_budget": round(minutes_under_budget, 2),
        # Budget-bound rate: each request moves up to batch_size customers.
        "moves_per_minute_under_budget": round(BUDGET_PER_MINUTE * batch_size),
        "moves_per_minute_under_budget_this_plan": first.moves_per_minute_under_budget(),
        "retailer_requests": retailer_requests,
        "retailer_minutes_under_budget": round(retailer_requests / BUDGET_PER_MINUTE, 1),
        "retailer_moves_per_minute_under_budget": round(BUDGET_PER_MINUTE / 2, 1),
        "second_push_moves": len(second.report.plan.moves),
        "second_push_write_requests": second.seen["writes"],
        "second_push_requests": second.seen["total"],
        "second_push_seconds": round(second.seconds, 2),
        "second_push_outcome": second.report.outcome,
    }
    if sizes:
        figures["sweep"] = sweep(bench, sizes)
    if pressure_runs:
        figures["pressure"] = pressure(bench)
    say("done")
    return figures


if __name__ == "__main__":
    main()
