"""Full sync of a large generated store, with the rate limit lifted, beside its raw floor.
Prints one JSON object.

The simulator runs in its own process (its memory is not counted). Each round runs
GreenLoop's sync as a process of its own (``greenloop sync``'s own function,
``services.ingest.run_sync``, so it can also report how many rows went by ``COPY``), whose
peak RSS is read from the kernel when it exits, into a fresh database; then its floor
here: the same ``/sales`` pages fetched by version cursor and decoded with ``json``, each
sale turned into plain tuples (no models, no version guard, money kept as its JSON text)
and inserted with the driver's ``executemany`` into the same tables of another fresh
database, one transaction per page. The two alternate ``--rounds`` times; the medians
and the ratio GreenLoop / floor of sales per second are printed with the load average,
since the machine is shared and only ratios hold.

    .venv/bin/python benchmarks/sync.py [--customers 40000] [--sales 200000]
        [--page-size 1000] [--rounds 3]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from scratch_db import scratch_database
from sqlalchemy import Boolean

from greenloop.config import load_settings
from greenloop.services import ingest
from greenloop.store import tables as t
from greenloop.store.bulk import copy_counts
from greenloop.store.engine import make_engine, migrate

BIN = Path(sys.executable).parent
TOKEN = "bench-token-0123456789"
TARGET_RATIO = 0.7
TARGET_SALES_PER_SECOND = 10_000


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


def child(config: str) -> None:
    """One GreenLoop sync, in this process: the report and the rows sent by ``COPY``."""
    report = ingest.run_sync(load_settings(Path(config)))
    print(json.dumps({"report": report.to_json(), "copied": copy_counts()}))


def greenloop_round(url: str, database_url: str, page_size: int, label: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "greenloop.toml"
        env = {
            **os.environ,
            "GREENLOOP_LIGHTSPEED_TOKEN": TOKEN,
            "GREENLOOP_SYNC__PAGE_SIZE": str(page_size),
        }
        init = [str(BIN / "greenloop"), "init", "--config", str(config), "--base-url", url]
        with scratch_database(database_url, label) as scratch_url:
            if scratch_url:
                init += ["--database-url", scratch_url]
            subprocess.run(init, check=True, env=env, stdout=subprocess.DEVNULL)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(config)],
                env=env,
                capture_output=True,
                check=False,
            )
            seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sync failed: {done.stderr.decode()}")
    out = json.loads(done.stdout)
    out["seconds"] = seconds
    return dict(out)


# The floor's tables: every column but the parent's id, read by name from the JSON.
SALE_COLUMNS = tuple(c.name for c in t.sales.columns)
ITEM_COLUMNS = tuple(c.name for c in t.sale_line_items.columns if c.name != "sale_id")
PAYMENT_COLUMNS = tuple(
    c.name for c in t.sale_payments.columns if c.name not in ("sale_id", "sequence")
)


def _defaults(table: Any, names: tuple[str, ...]) -> list[tuple[int, object]]:
    """The NOT NULL amounts and flags the API may leave out, with what stands in."""
    return [
        (i, False if isinstance(table.c[n].type, Boolean) else 0)
        for i, n in enumerate(names)
        if not table.c[n].nullable and n not in ("id", "sequence")
    ]


def _sql(table: str, columns: tuple[str, ...], mark: str) -> str:
    # Names from our own schema.
    marks = ", ".join([mark] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def floor_round(url: str, database_url: str, page_size: int, label: str) -> dict[str, Any]:
    """The raw floor over the same pages into the same (empty) tables; sales only."""
    with tempfile.TemporaryDirectory() as tmp, scratch_database(database_url, label) as scratch:
        engine = make_engine(scratch or f"sqlite:///{Path(tmp) / 'floor.db'}")
        migrate(engine)
        raw = engine.raw_connection()
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
        sale_sql = _sql("sales", SALE_COLUMNS, mark)
        item_sql = _sql("sale_line_items", ("sale_id", *ITEM_COLUMNS), mark)
        pay_sql = _sql("sale_payments", ("sale_id", "sequence", *PAYMENT_COLUMNS), mark)
        defaults = _defaults(t.sale_line_items, ITEM_COLUMNS)
        attributes = SALE_COLUMNS.index("attributes")
        total = 0
        started = time.perf_counter()
        try:
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
            ) as http:
                after = 0
                while True:
                    response = http.get(
                        "/api/2.0/sales", params={"after": after, "page_size": page_size}
                    )
                    response.raise_for_status()
                    # Money stays its exact JSON text (no float, no Decimal).
                    payload = json.loads(response.content, parse_float=str)
                    items = payload["data"]
                    if not items:
                        break
                    sales, lines, pays = [], [], []
                    for sale in items:
                        row = [sale.get(name) for name in SALE_COLUMNS]
                        row[attributes] = json.dumps(sale.get("attributes") or [])
                        sales.append(tuple(row))
                        sid = sale["id"]
                        for n, item in enumerate(sale.get("line_items") or ()):
                            values = [item.get(name) for name in ITEM_COLUMNS]
                            for i, default in defaults:
                                if values[i] is None:
                                    values[i] = default
                            values[0] = n
                            lines.append((sid, *values))
                        for n, pay in enumerate(sale.get("payments") or ()):
                            pays.append((sid, n, *(pay.get(name) for name in PAYMENT_COLUMNS)))
                    cursor = raw.cursor()
                    cursor.executemany(sale_sql, sales)
                    cursor.executemany(item_sql, lines)
                    cursor.executemany(pay_sql, pays)
                    cursor.close()
                    raw.commit()
                    total += len(items)
                    after = payload["version"]["max"]
            seconds = time.perf_counter() - started
        finally:
            raw.close()
            engine.dispose()
    return {"sales": total, "seconds": seconds}


def start_simulator(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
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
            "100000000",  # lifted
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--sales", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="GreenLoop and its floor, alternated")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = start_simulator(args, port)
    runs: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    try:
        generated_at = time.monotonic()
        wait_ready(url, sim)
        generation_seconds = time.monotonic() - generated_at
        for round_ in range(max(1, args.rounds)):
            runs.append(greenloop_round(url, args.database_url, args.page_size, f"sync{round_}"))
            floors.append(floor_round(url, args.database_url, args.page_size, f"floor{round_}"))
        peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        sim.terminate()
        sim.wait(timeout=30)

    report = runs[0]["report"]
    resources = report["resources"]
    minimum = {
        name: (1 if name == "retailer" else math.ceil(r["fetched"] / args.page_size) + 1)
        for name, r in resources.items()
    }
    sales = resources["sales"]
    rates = [
        r["report"]["resources"]["sales"]["fetched"] / r["report"]["resources"]["sales"]["seconds"]
        for r in runs
    ]
    floor_rates = [f["sales"] / f["seconds"] for f in floors]
    rate, floor_rate = statistics.median(rates), statistics.median(floor_rates)
    ratio = rate / floor_rate
    copied = runs[0]["copied"]
    figures: dict[str, Any] = {
        "benchmark": "sync",
        "database": args.database_url.split(":", 1)[0] if args.database_url else "sqlite",
        "customers": resources["customers"]["fetched"],
        "sales": sales["fetched"],
        "page_size": args.page_size,
        "rounds": len(runs),
        "simulator_start_seconds": round(generation_seconds, 1),
        "sync_seconds": [round(r["seconds"], 2) for r in runs],
        "sales_seconds": [r["report"]["resources"]["sales"]["seconds"] for r in runs],
        "sales_per_second": round(rate),
        "sales_per_second_rounds": [round(r) for r in rates],
        "floor_sales": floors[0]["sales"],
        "floor_sales_per_second": round(floor_rate),
        "floor_sales_per_second_rounds": [round(r) for r in floor_rates],
        "ratio_to_floor": round(ratio, 3),
        "copy_used": bool(copied),
        "copied_rows": copied,
        "objects_per_second": round(
            sum(r["fetched"] for r in resources.values()) / runs[0]["seconds"]
        ),
        "requests": report["requests"],
        "requests_minimum": sum(minimum.values()),
        "requests_by_resource": {n: r["requests"] for n, r in resources.items()},
        "peak_rss_mb": round(peak_rss_mb, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "targets": {
            "requests_over_minimum_per_resource": 1,
            "peak_rss_mb": 400,
            "sales_per_second": TARGET_SALES_PER_SECOND,
            "ratio_to_floor": TARGET_RATIO,
        },
    }
    figures["meets_targets"] = bool(
        all(resources[n]["requests"] <= minimum[n] + 1 for n in resources)
        and peak_rss_mb < 400
        and rate >= TARGET_SALES_PER_SECOND
        and ratio >= TARGET_RATIO
        and floors[0]["sales"] == sales["fetched"]
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
