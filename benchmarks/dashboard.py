"""Server time of every dashboard page and main API route on a large store. Prints one
JSON object.

The store (40,000 profiles, 200,000 sales, their eCom orders) is written straight into
the database by the analyze benchmark's seeded generator (the simulator is too slow at
this size), then `greenloop analyze` runs three times (60 and 30 days ago, and now) so
the tier history and the daily snapshots have something to chart. A day's worth of
sync runs (the poll's every five minutes plus the daily sync), a push run with a move
row per customer, and webhook inbox rows are added so Sync health reads real volumes.

The dashboard runs in this process (the same routes `greenloop serve` mounts) and each
route is requested ``--repeat`` times over in-process ASGI after one warm-up request;
the figures are the wall time of each request as the server handles it (no network).
The revenue and reconciliation figures are computed once in the background before the
pages are measured, as `serve` does; that computation is reported on its own.

    .venv/bin/python benchmarks/dashboard.py [--customers 40000] [--sales 200000]
        [--repeat 7] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from scratch_db import scratch_database
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from greenloop.config import load_settings
from greenloop.lightspeed.ratelimit import RateBudget, RateLimit
from greenloop.services.analysis import analyze_options
from greenloop.store import tables as t
from greenloop.store.bulk import bulk_insert
from greenloop.store.engine import make_engine
from greenloop.web.dashboard import dashboard_routes
from greenloop.web.dashboard.figures import HeavyFigures

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TARGET_MS = 300
API_TOKEN = "bench-dashboard-token-0123456789"


def _analyze_benchmark() -> Any:
    """benchmarks/analyze.py as a module: its store generator, NOW and helpers."""
    spec = importlib.util.spec_from_file_location("bench_analyze", HERE / "analyze.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _analyze_benchmark()
NOW = BENCH.NOW


def NOW_FN() -> Any:
    return NOW


def analyze(config: Path, when: Any) -> float:
    began = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "greenloop"),
            "analyze",
            "--json",
            "--config",
            str(config),
            "--now",
            *[when.isoformat()],
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - began


def add_operations_history(engine: Engine) -> dict[str, int]:
    """A day of sync runs, one push run with a move per profile, webhook inbox rows."""
    resources = ("retailer", "outlets", "registers", "users", "customer_groups")
    with engine.begin() as conn:
        customers = conn.execute(select(t.customers.c.id)).scalars().all()
        members = dict(
            conn.execute(
                select(t.identity_members.c.customer_id, t.identity_members.c.person_id)
            ).all()
        )
        runs = []
        for n in range(288):  # the poll every five minutes: customers and sales only
            at = NOW - timedelta(minutes=5 * (288 - n))
            detail = {"resources": {"customers": {"fetched": 3}, "sales": {"fetched": 9}}}
            runs.append((at, at + timedelta(seconds=2), False, "ok", 2, detail, None))
        daily = {"resources": {name: {"fetched": 0} for name in (*resources, "customers")}}
        yesterday = NOW - timedelta(days=1)
        runs.insert(0, (yesterday, yesterday, False, "ok", 9, daily, None))  # the daily sync
        names = ("started_at", "finished_at", "full", "outcome", "requests", "detail", "error")
        # Through SQLAlchemy, which quotes "full" (reserved on PostgreSQL); 289 rows.
        conn.execute(t.sync_runs.insert(), [dict(zip(names, run, strict=True)) for run in runs])
        conn.execute(
            t.push_runs.insert().values(
                id=1,
                started_at=NOW,
                finished_at=NOW + timedelta(minutes=2),
                dry_run=False,
                outcome="ok",
                planned=len(customers),
                moved=len(customers) - 40,
                failed=40,
                requests=200,
                error=None,
                detail={"tiers": {}, "groups_created": [], "skipped": {}},
            )
        )
        moves = [
            (1, None, cid, members.get(cid), "Seed", "g0", "g1", status, None, NOW)
            for i, cid in enumerate(customers)
            for status in ("failed" if i % 1000 == 0 else "moved",)
        ]
        bulk_insert(
            conn,
            t.push_moves,
            (
                "run_id",
                "batch_id",
                "customer_id",
                "person_id",
                "tier",
                "from_group_id",
                "to_group_id",
                "status",
                "error",
                "updated_at",
            ),
            moves,
        )
        inbox = [
            (
                NOW - timedelta(seconds=30 * n),
                "sale.update",
                f"sale-{n}",
                f"bench:{n}",
                b"payload=...",
                "application/x-www-form-urlencoded",
                "/webhooks/lightspeed",
                "url-token",
                "poll" if n % 50 == 0 else "webhook",
                "parked" if n % 997 == 0 else "done",
                1,
                NOW,
                0,
            )
            for n in range(5_000)
        ]
        bulk_insert(
            conn,
            t.webhook_inbox,
            (
                "received_at",
                "type",
                "object_id",
                "dedupe_key",
                "body",
                "content_type",
                "endpoint",
                "signature_encoding",
                "first_seen_by",
                "status",
                "attempts",
                "next_attempt_at",
                "duplicates",
            ),
            inbox,
        )
    return {"sync_runs": len(runs), "push_moves": len(moves), "inbox_rows": len(inbox)}


def measure(client: TestClient, path: str, repeat: int, **kw: Any) -> dict[str, Any]:
    method = kw.pop("method", "GET")
    first = client.request(method, path, **kw)  # warm-up: templates, query plans
    if first.status_code != 200:
        raise SystemExit(f"{method} {path}: {first.status_code} {first.text[:300]}")
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.request(method, path, **kw)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return {
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "bytes": len(first.content),
    }


def pick_people(engine: Engine) -> dict[str, Any]:
    p, m = t.persons.c, t.identity_members.c
    with engine.connect() as conn:
        busiest = conn.execute(select(p.id).order_by(p.purchases.desc()).limit(1)).scalar_one()
        typical = conn.execute(
            select(p.id).where(p.purchases == 3, p.phone.is_not(None)).order_by(p.id).limit(1)
        ).scalar_one()
        phone, name = conn.execute(select(p.phone, p.name).where(p.id == typical)).one()
        customer = conn.execute(
            select(m.customer_id).where(m.person_id == typical, m.customer_id.is_not(None))
        ).scalar()
        persons = conn.execute(select(func.count()).select_from(t.persons)).scalar_one()
    digits = "".join(ch for ch in str(phone) if ch.isdigit())[-10:]
    return {
        "busiest": busiest,
        "typical": typical,
        "customer": customer,
        "phone_written": f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
        "name_part": str(name).split()[0],
        "persons": persons,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--sales", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()

    with (
        scratch_database(args.database_url, "dashboard") as database_url,
        tempfile.TemporaryDirectory() as scratch,
    ):
        config = Path(scratch) / "greenloop.toml"
        init = [str(BIN / "greenloop"), "init", "--config", str(config)]
        if database_url:
            init += ["--database-url", database_url]
        subprocess.run(init, check=True, stdout=subprocess.DEVNULL)
        settings = load_settings(config, env={}, overrides={"dashboard": {"api_token": API_TOKEN}})
        began = time.perf_counter()
        engine = make_engine(settings.database_url())
        store = BENCH.Store(engine, args.customers, args.sales)
        store.write_shop()
        store.write_customers()
        store.write_sales(args.sales // 20)
        generated = store.counts
        del store
        generate_seconds = time.perf_counter() - began
        analyze_seconds = [
            round(analyze(config, NOW - timedelta(days=days)), 1) for days in (60, 30, 0)
        ]
        history = add_operations_history(engine)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        figures = report(engine, settings, args.repeat)
        engine.dispose()
    figures.update(
        {
            "generated": generated,
            "generate_seconds": round(generate_seconds, 1),
            "analyze_seconds": analyze_seconds,
            "operations_history": history,
            "database": args.database_url.split(":", 1)[0] if args.database_url else "sqlite",
            "profiles": args.customers,
            "sales": args.sales,
        }
    )
    print(json.dumps({"benchmark": "dashboard", **figures}))


def report(engine: Engine, settings: Any, repeat: int) -> dict[str, Any]:
    budget = RateBudget(window_seconds=300)
    budget.acquire()
    budget.observe(RateLimit(limit=350, remaining=349))
    app = Starlette(routes=dashboard_routes(settings, engine, clock=NOW_FN, budget=budget))
    client = TestClient(app)
    login = client.get("/login").text
    token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"password": API_TOKEN, "csrf_token": token})
    people = pick_people(engine)

    # What `serve` computes off the request path: the revenue and reconciliation
    # figures (timed on their own here; the app's first request computes its copy).
    options = analyze_options(settings)
    heavy = HeavyFigures(engine, settings, options.counting, options.metrics.store_zone, NOW_FN)
    began = time.perf_counter()
    heavy.compute()
    background_seconds = time.perf_counter() - began
    client.get("/api/revenue")

    pages = {
        "/": "overview",
        "/customers": "customers (everyone, by value)",
        f"/customers?q={people['phone_written']}": "customers: search by phone",
        f"/customers?q={people['name_part']}": "customers: search by name",
        f"/customers/{people['typical']}": "person (3 purchases)",
        f"/customers/{people['busiest']}": "person (the most purchases)",
        f"/lookup?q={people['phone_written']}": "staff lookup by phone",
        f"/lookup?q={people['name_part']}": "staff lookup by name",
        "/at-risk": "at risk",
        "/at-risk?sort=p_alive&order=asc": "at risk by P(active)",
        "/program": "program",
        "/sync": "sync health",
        "/sync/push-runs/1": "push run log",
    }
    api = [
        "/api/overview",
        "/api/tiers/history",
        "/api/movements",
        "/api/revenue",
        "/api/customers",
        f"/api/customers?q={people['phone_written']}",
        f"/api/customers/{people['typical']}",
        "/api/at-risk",
        "/api/program",
        "/api/sync-health",
        "/api/push-runs",
        "/api/push-runs/1",
    ]
    page_times = {label: measure(client, path, repeat) for path, label in pages.items()}
    api_times = {path: measure(client, path, repeat) for path in api}
    program = client.get("/api/program").json()["toml"]
    edited = program.replace('at_least = "1500"', 'at_least = "1000"')
    csrf = client.get("/program").text.split('name="csrf_token" value="', 1)[1].split('"')[0]
    actions = {
        "program preview (POST /api/program/preview)": measure(
            client,
            "/api/program/preview",
            1,
            method="POST",
            json={"program": edited},
            headers={"X-CSRF-Token": csrf},
        ),
        "at-risk CSV": measure(client, "/at-risk.csv", 1),
        "customer_analytics_master.csv": measure(
            client, "/exports/customer_analytics_master.csv", 1
        ),
    }
    worst = max(v["median_ms"] for v in page_times.values())
    worst_max = max(v["max_ms"] for v in page_times.values())
    return {
        "persons": people["persons"],
        "pages": page_times,
        "api": api_times,
        "actions_not_pages": actions,
        "revenue_and_reconcile_background_seconds": round(background_seconds, 2),
        "slowest_page_median_ms": worst,
        "slowest_page_max_ms": worst_max,
        "target_ms": TARGET_MS,
        "meets_target": worst_max < TARGET_MS,
    }


if __name__ == "__main__":
    main()
