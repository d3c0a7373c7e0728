"""A login flood beside the webhook receiver. Prints one JSON object.

`greenloop serve` (receiver, worker and dashboard in one process, as in production) runs
on a fresh SQLite file (or --database-url) against a simulator in this process. In each
phase signed deliveries are posted open-loop at --load-rate per second for --seconds
(benchmarks/realtime.py's load generator, its own process) and the receiver's 2xx
latency is measured by the sender, while --logins clients (a third process) post wrong
passwords to /login as fast as they are answered:

- quiet: no flood, the baseline;
- one_address: every login from one address;
- many_addresses: each login from a new address (X-Forwarded-For through the trusted
  loopback proxy), so only the account limit stops them;
- limits_lifted: a second server with the login limits set out of reach, so every
  login checks its password: what the bounded password checks alone hold.

Each phase starts once the worker has drained the inbox. The server's resident memory
is sampled every 50 ms: before, peak and after each phase.

    .venv/bin/python benchmarks/login_flood.py [--logins 100] [--load-rate 100] \\
        [--seconds 10] [--phases quiet,one_address,many_addresses,limits_lifted]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from realtime import (
    SECRET,
    TOKEN,
    free_port,
    part_two,
    percentiles,
    say,
    start_serve,
    wait_for,
)
from scratch_db import scratch_database

from greenloop.config import load_settings
from greenloop.services import analysis, ingest
from greenloop.simulator.app import app_for, create_context
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.server import start_in_thread
from greenloop.simulator.state import SimState
from greenloop.store.engine import make_engine, migrate
from greenloop.store.inbox import inbox_stats
from greenloop.web.dashboard import hash_password

PASSWORD = "bench admin passphrase"
PHASES = ("quiet", "one_address", "many_addresses", "limits_lifted")
# Targets: the receiver's 2xx p99 under a flood, and the memory a flood may add.
P99_TARGET_MS = 250.0
RSS_GROWTH_TARGET_MB = 64.0


# -- the flood (its own process) -----------------------------------------------------------


async def _client(url: str, stop: float, many: bool, found: list[tuple[float, int]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        page = await client.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        while time.perf_counter() < stop:
            headers = {}
            if many:
                headers["X-Forwarded-For"] = ".".join(str(random.randint(1, 254)) for _ in range(4))
            began = time.perf_counter()
            try:
                answer = await client.post(
                    "/login",
                    data={"password": f"guess {random.random()}", "csrf_token": token},
                    headers=headers,
                )
                status = answer.status_code
            except httpx.HTTPError:
                status = 0
            found.append((time.perf_counter() - began, status))


def flood(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    found: list[tuple[float, int]] = []

    async def run() -> None:
        stop = time.perf_counter() + spec["seconds"]
        await asyncio.gather(
            *(_client(spec["url"], stop, spec["many"], found) for _ in range(spec["clients"]))
        )

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "attempts": len(found),
                "per_second": round(len(found) / elapsed, 1),
                "statuses": dict(sorted(Counter(str(s) for _, s in found).items())),
                "latency_ms": percentiles([s for s, _ in found], scale=1000, digits=1),
            }
        )
    )


# -- memory of the serving process ---------------------------------------------------------


class Memory:
    """Resident memory of ``pid`` sampled on a thread: before, peak and after."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        return int(self._process.memory_info().rss)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self._peak = max(self._peak, self._rss())

    def __enter__(self) -> Memory:
        self.before = self._peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = self._rss()

    def as_json(self) -> dict[str, float]:
        mb = 1024 * 1024
        return {
            "before": round(self.before / mb, 1),
            "peak": round(max(self._peak, self.after) / mb, 1),
            "after": round(self.after / mb, 1),
        }


# -- the benchmark -------------------------------------------------------------------------


def drained(db_url: str) -> None:
    """Wait until the worker has processed every delivery of the phase before, so each
    phase starts from the same idle server."""
    engine = make_engine(db_url)

    def empty() -> bool:
        with engine.connect() as conn:
            return inbox_stats(conn, datetime.now(UTC)).depth == 0

    try:
        wait_for(empty, 600, "the inbox to drain")
    finally:
        engine.dispose()


def phase(
    name: str, port: int, pid: int, state: SimState, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}"
    flooding = None
    if name != "quiet":
        spec = workdir / f"flood-{name}.json"
        spec.write_text(
            json.dumps(
                {
                    "url": url,
                    "clients": args.logins,
                    "seconds": args.seconds + 2.0,
                    "many": name == "many_addresses",
                }
            )
        )
        say(f"{name}: {args.logins} login clients beside {args.load_rate:g} deliveries/s")
        flooding = subprocess.Popen(
            [sys.executable, __file__, "--flood", str(spec)], stdout=subprocess.PIPE
        )
        time.sleep(1.0)  # the flood is in full swing before the deliveries start
    else:
        say(f"{name}: {args.load_rate:g} deliveries/s, no logins")
    with Memory(pid) as memory:
        receiver = part_two(
            state,
            f"{url}/webhooks/lightspeed?type=customer.update",
            args.load_rate,
            args.seconds,
            workdir,
        )
        figures: dict[str, Any] = {"receiver": receiver}
        if flooding is not None:
            out, _ = flooding.communicate(timeout=120)
            figures["logins"] = json.loads(out)
    figures["rss_mb"] = memory.as_json()
    return figures


def run(args: argparse.Namespace, workdir: Path, database_url: str) -> dict[str, Any]:
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    store = generate_store(
        GeneratorConfig(seed=7, customers=args.customers, days=365, anchor=anchor - timedelta(1))
    )
    state = SimState(store)
    ctx = create_context(state, SimulatorConfig(token=TOKEN, rate_limit=100_000_000))
    db_url = database_url or f"sqlite:///{workdir / 'greenloop.db'}"
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phases {sorted(unknown)}; use {','.join(PHASES)}")
    figures: dict[str, Any] = {}
    with start_in_thread(app_for(ctx)) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLOOP_")}
        env.update(
            GREENLOOP_LIGHTSPEED_BASE_URL=sim.url,
            GREENLOOP_LIGHTSPEED_TOKEN=TOKEN,
            GREENLOOP_DATABASE_URL=db_url,
            GREENLOOP_WEBHOOK_SECRET=SECRET,
            GREENLOOP_JOBS__POLL_MINUTES="0",
            GREENLOOP_DASHBOARD__ADMIN_PASSWORD_HASH=hash_password(PASSWORD),
            GREENLOOP_DASHBOARD__SESSION_SECRET="bench-session-secret-0123456789",
        )
        say("initial sync and analyze")
        engine = make_engine(db_url)
        migrate(engine)
        engine.dispose()
        settings = load_settings(None, env=env)
        ingest.run_sync(settings)
        analysis.analyze(settings)
        lifted = {
            **env,
            "GREENLOOP_DASHBOARD__LOGIN_FAILURES_PER_ADDRESS": "1000000000",
            "GREENLOOP_DASHBOARD__LOGIN_FAILURES_PER_ACCOUNT": "1000000000",
        }
        for server_env, names in (
            (env, [p for p in phases if p != "limits_lifted"]),
            (lifted, [p for p in phases if p == "limits_lifted"]),
        ):
            if not names:
                continue
            port = free_port()
            serve = start_serve(server_env, port, workdir)
            try:
                for name in names:
                    drained(db_url)
                    figures[name] = phase(name, port, serve.pid, state, args, workdir)
            finally:
                serve.terminate()
                serve.wait(timeout=60)
    return summary(args, db_url, figures)


def summary(args: argparse.Namespace, db_url: str, figures: dict[str, Any]) -> dict[str, Any]:
    def p99(name: str) -> float:
        return float(figures[name]["receiver"]["latency_ms"].get("p99", 1e9))

    floods = [name for name in figures if name != "quiet"]
    growth = {
        name: round(figures[name]["rss_mb"]["peak"] - figures[name]["rss_mb"]["before"], 1)
        for name in figures
    }
    return {
        "benchmark": "login_flood",
        "database": db_url.split(":", 1)[0].split("+")[0],
        "login_clients": args.logins,
        "deliveries_per_second": args.load_rate,
        "seconds_per_phase": args.seconds,
        "receiver_2xx_ms": {
            name: {k: figures[name]["receiver"]["latency_ms"].get(k) for k in ("p50", "p99")}
            for name in figures
        },
        "rss_growth_mb": growth,
        "phases": figures,
        "targets": {
            "receiver_2xx_p99_ms_under_flood": P99_TARGET_MS,
            "rss_growth_mb_under_flood": RSS_GROWTH_TARGET_MB,
        },
        "meets_targets": bool(
            floods
            and all(p99(name) < P99_TARGET_MS for name in floods)
            and all(figures[name]["receiver"]["non_2xx"] == 0 for name in figures)
            and all(growth[name] < RSS_GROWTH_TARGET_MB for name in floods)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--logins", type=int, default=100, help="concurrent login clients")
    parser.add_argument("--load-rate", type=float, default=100.0, help="deliveries per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--flood", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood:
        flood(args.flood)
        return
    with (
        tempfile.TemporaryDirectory() as scratch,
        scratch_database(args.database_url, "login_flood") as database_url,
    ):
        figures = run(args, Path(scratch), database_url)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
