"""Full sync of a large generated store, with the rate limit lifted. Prints one JSON object.

The simulator runs in its own process (its memory is not counted); the sync runs as
`greenloop sync` in another, whose peak RSS is read from the kernel when it exits.

    .venv/bin/python benchmarks/sync.py [--customers 40000] [--sales 200000] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from scratch_db import scratch_database

BIN = Path(sys.executable).parent
TOKEN = "bench-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 600) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"simulator exited early: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            response = httpx.get(f"{url}/_sim/info", timeout=5)
            if response.status_code == 200:
                return dict(response.json())
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("simulator did not start in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--sales", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = subprocess.Popen(
        [
            str(BIN / "greenloop"),
            "simulator",
            "serve",
            "--port",
            str(port),
            "--token",
            TOKEN,
            "--customers",
            str(args.customers),
            "--sales",
            str(args.sales),
            "--days",
            "730",
            "--seed",
            "7",
            "--anchor",
            "2026-11-01T00:00:00+00:00",
            "--rate-limit",
            "100000000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        generated_at = time.monotonic()
        wait_ready(url, sim)
        generation_seconds = time.monotonic() - generated_at
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "greenloop.toml"
            env = {
                **os.environ,
                "GREENLOOP_LIGHTSPEED_TOKEN": TOKEN,
                "GREENLOOP_SYNC__PAGE_SIZE": str(args.page_size),
            }
            init = [str(BIN / "greenloop"), "init", "--config", str(config), "--base-url", url]
            with scratch_database(args.database_url, "sync") as database_url:
                if database_url:
                    init += ["--database-url", database_url]
                subprocess.run(init, check=True, env=env, stdout=subprocess.DEVNULL)
                started = time.perf_counter()
                done = subprocess.run(
                    [str(BIN / "greenloop"), "sync", "--config", str(config), "--json"],
                    env=env,
                    capture_output=True,
                    check=False,
                )
                seconds = time.perf_counter() - started
            peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode != 0:
            raise SystemExit(f"sync failed: {done.stderr.decode()}")
        report = json.loads(done.stdout)
    finally:
        sim.terminate()
        sim.wait(timeout=30)

    resources = report["resources"]
    minimum = {
        name: (1 if name == "retailer" else math.ceil(r["fetched"] / args.page_size) + 1)
        for name, r in resources.items()
    }
    sales = resources["sales"]
    figures = {
        "benchmark": "sync",
        "database": args.database_url.split(":", 1)[0] if args.database_url else "sqlite",
        "customers": resources["customers"]["fetched"],
        "sales": sales["fetched"],
        "page_size": args.page_size,
        "simulator_start_seconds": round(generation_seconds, 1),
        "sync_seconds": round(seconds, 2),
        "sales_seconds": sales["seconds"],
        "sales_per_second": round(sales["fetched"] / sales["seconds"])
        if sales["seconds"]
        else None,
        "objects_per_second": round(sum(r["fetched"] for r in resources.values()) / seconds),
        "requests": report["requests"],
        "requests_minimum": sum(minimum.values()),
        "requests_by_resource": {n: r["requests"] for n, r in resources.items()},
        "peak_rss_mb": round(peak_rss_mb, 1),
        "targets": {
            "requests_over_minimum_per_resource": 1,
            "peak_rss_mb": 400,
            "sales_per_second": 5000,
        },
    }
    figures["meets_targets"] = bool(
        all(resources[n]["requests"] <= minimum[n] + 1 for n in resources)
        and peak_rss_mb < 400
        and (figures["sales_per_second"] or 0) >= 5000
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
