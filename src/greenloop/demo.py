"""``greenloop demo``: a generated store in the simulator, and the pipeline run against it.

It grows with each capability. Today: start the simulator on loopback with a generated
store, write a demo config pointing at it, create the database, sync, import the
store's eCom order export, analyze (persons, metrics, tiers, predictions) and write
``customer_analytics_master.csv``; then (unless ``--no-serve``) keep the simulator up so
you can poke at it and re-run the commands against ``demo/greenloop.toml``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from greenloop import operations, operations_push
from greenloop.analytics.run import AnalyzeReport
from greenloop.config import load_settings
from greenloop.ecom.importer import ImportResult
from greenloop.push.apply import PushReport
from greenloop.simulator.app import create_app
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.ecom_export import write_ecom_export
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.server import RunningServer, start_in_thread
from greenloop.simulator.state import SimState
from greenloop.sync.pull import SyncReport

__all__ = ["DemoResult", "run_demo"]


@dataclass
class DemoResult:
    directory: Path
    config_path: Path
    simulator_url: str
    simulator_token: str  # the throwaway simulator's, not a real store's
    sync: SyncReport
    ecom: ImportResult
    analysis: AnalyzeReport
    master_csv: Path
    push: PushReport
    seconds: float


def run_demo(
    directory: Path,
    *,
    customers: int = 2000,
    days: int = 365,
    seed: int = 7,
    port: int = 0,
    say: Callable[[str], None] = print,
) -> tuple[DemoResult, RunningServer]:
    """Run the pipeline once against a fresh simulator; the caller stops the server."""
    started = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    say(f"generating a store: {customers} customers, {days} days of sales (seed {seed})")
    store = generate_store(
        GeneratorConfig(seed=seed, customers=customers, days=days, anchor=_today())
    )
    token = "demo-" + secrets.token_urlsafe(16)
    state = SimState(store)
    server = start_in_thread(create_app(state, SimulatorConfig(token=token)), port=port)
    say(f"simulator listening on {server.url}")
    try:
        config_path = directory / "greenloop.toml"
        db_path = directory / "greenloop.db"
        if db_path.exists():
            db_path.unlink()  # a new simulator means a new store: start clean
        operations.init_project(
            config_path,
            domain_prefix="demo",
            base_url=server.url,
            database_url=f"sqlite:///{db_path.resolve()}",
            force=True,
        )
        settings = load_settings(config_path, overrides={"lightspeed": {"token": token}})
        say("syncing from the simulator …")
        report = operations.run_sync(settings)
        export = directory / "ecom_orders_export.csv"
        with export.open("w", encoding="utf-8", newline="") as out:
            write_ecom_export(store.ecom_orders, out, timezone=settings.ecom.timezone)
        say(f"importing the eCom order export {export} …")
        imported = operations.import_ecom(settings, [export])
        say("analyzing: persons, metrics, tiers, predictions …")
        analysis = operations.analyze(settings)
        master = directory / "customer_analytics_master.csv"
        operations.export_master(settings, master)
        say("pushing tiers to the simulator's customer groups …")
        push, _ = operations_push.run_push(settings, log_file=directory / "tier_sync_log.json")
    except BaseException:
        server.stop()
        raise
    result = DemoResult(
        directory,
        config_path,
        server.url,
        token,
        report,
        imported,
        analysis,
        master,
        push,
        time.monotonic() - started,
    )
    return result, server


def _today() -> datetime:
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
