"""``greenloop demo``: a generated store in the simulator, the whole pipeline against it,
and (unless ``--no-serve``) the dashboard with tiers changing while you watch.

:func:`run_demo` starts the simulator on loopback with a generated store, writes a demo
config pointing at it (with a fresh dashboard password), and runs the pipeline: sync,
import of the store's eCom export, a few weeks of past analyses (so the charts have a
history), today's analysis, the master CSV, a backtest as of 90 days before the anchor
(the at-risk page shows it), the push of tiers into customer groups.
:func:`serve_demo` then runs what ``greenloop serve`` runs (receiver, worker, poll,
dashboard) on the demo database, subscribes it to the simulator's webhooks, and streams
live changes into the simulator: each sale reaches GreenLoop as a webhook, the worker
recomputes that customer and moves their group, and the dashboard shows it.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from greenloop.analytics.backtest import NotEnoughHistory
from greenloop.analytics.run import AnalyzeReport
from greenloop.config import Settings, load_settings
from greenloop.ecom.importer import ImportResult
from greenloop.errors import ConfigError
from greenloop.push.apply import PushReport
from greenloop.runtime.service import Service
from greenloop.services import analysis as analysis_service
from greenloop.services import ingest, setup
from greenloop.services import push as push_service
from greenloop.services import webhooks as webhook_service
from greenloop.simulator.app import app_for, create_context
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.context import SimContext
from greenloop.simulator.ecom_export import write_ecom_export
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.live import LiveStream
from greenloop.simulator.server import RunningServer, start_in_thread
from greenloop.simulator.state import SimState
from greenloop.simulator.webhook_knobs import WebhookKnobs
from greenloop.sync.pull import SyncReport
from greenloop.web.dashboard import hash_password

__all__ = ["DemoResult", "DemoSimulator", "Steps", "check_port_free", "run_demo", "serve_demo"]

# Past analyses, one a week, before today's: the tier-distribution chart starts there.
HISTORY_WEEKS = 8
# The backtest the at-risk page shows: predictions as of this many days before the
# anchor, scored against the days since.
BACKTEST_DAYS = 90


class Steps(Protocol):
    """Where the demo reports progress (a terminal progress bar, or plain lines)."""

    def step(self, description: str) -> contextlib.AbstractContextManager[None]: ...

    def say(self, text: str) -> None: ...


class PlainSteps:
    def __init__(self, say: Callable[[str], None] = print) -> None:
        self.say = say

    @contextlib.contextmanager
    def step(self, description: str) -> Iterator[None]:
        self.say(f"{description} …")
        yield


@dataclass
class DemoSimulator:
    server: RunningServer
    ctx: SimContext
    token: str  # the throwaway simulator's, not a real store's

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.ctx.webhooks.close()
        self.server.stop()


@dataclass
class DemoResult:
    directory: Path
    config_path: Path
    settings: Settings
    password: str  # the demo dashboard's, made for this run
    sync: SyncReport
    ecom: ImportResult
    analysis: AnalyzeReport
    history_points: int
    master_csv: Path
    push: PushReport
    seconds: float
    # The backtest as of BACKTEST_DAYS before the store's anchor (None: too little history).
    backtest: dict[str, Any] | None = None


def run_demo(
    directory: Path,
    *,
    customers: int = 2000,
    days: int = 365,
    seed: int = 7,
    port: int = 0,
    steps: Steps | None = None,
) -> tuple[DemoResult, DemoSimulator]:
    """Run the pipeline once against a fresh simulator; the caller stops the simulator."""
    steps = steps or PlainSteps()
    started = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    anchor = _today()
    with steps.step(f"generating a store: {customers} customers, {days} days (seed {seed})"):
        store = generate_store(
            GeneratorConfig(seed=seed, customers=customers, days=days, anchor=anchor)
        )
    token = "demo-" + secrets.token_urlsafe(16)
    webhook_secret = secrets.token_urlsafe(24)
    knobs = WebhookKnobs(secret=webhook_secret, retry_base_seconds=2.0, retry_max_seconds=30.0)
    ctx = create_context(SimState(store), SimulatorConfig(token=token, webhooks=knobs))
    simulator = DemoSimulator(start_in_thread(app_for(ctx), port=port), ctx, token)
    steps.say(f"simulator listening on {simulator.url}")
    try:
        config_path = directory / "greenloop.toml"
        db_path = directory / "greenloop.db"
        for stale in directory.glob("greenloop.db*"):
            stale.unlink()  # a new simulator means a new store: start clean
        setup.init_project(
            config_path,
            domain_prefix="demo",
            base_url=simulator.url,
            database_url=f"sqlite:///{db_path.resolve()}",
            force=True,
        )
        password = secrets.token_urlsafe(9)
        _set_dashboard_password(config_path, password)
        settings = load_settings(
            config_path,
            overrides={
                "lightspeed": {"token": token},
                "webhooks": {"secret": webhook_secret, "poll_interval_seconds": 0.2},
                "jobs": {"output_dir": str(directory)},
            },
        )
        with steps.step("syncing customers, groups, registers and sales from the simulator"):
            report = ingest.run_sync(settings)
        export = directory / "ecom_orders_export.csv"
        with steps.step(f"importing the eCom order export {export.name}"):
            with export.open("w", encoding="utf-8", newline="") as out:
                write_ecom_export(store.ecom_orders, out, timezone=settings.ecom.timezone)
            imported = ingest.import_ecom(settings, [export])
        today = datetime.now(UTC)
        with steps.step(f"analyzing the last {HISTORY_WEEKS} weeks, one week at a time"):
            for weeks in range(HISTORY_WEEKS, 0, -1):
                analysis_service.analyze(settings, now=today - timedelta(weeks=weeks))
        with steps.step("analyzing today: persons, metrics, tiers, predictions, a backtest"):
            analysis = analysis_service.analyze(settings, now=today)
            master = directory / "customer_analytics_master.csv"
            analysis_service.export_master(settings, master)
            backtest = _backtest(settings, anchor - timedelta(days=BACKTEST_DAYS), steps)
        with steps.step("pushing tiers to the simulator's customer groups"):
            push, _ = push_service.run_push(settings, log_file=directory / "tier_sync_log.json")
    except BaseException:
        simulator.stop()
        raise
    result = DemoResult(
        directory,
        config_path,
        settings,
        password,
        report,
        imported,
        analysis,
        HISTORY_WEEKS + 1,
        master,
        push,
        time.monotonic() - started,
        backtest,
    )
    return result, simulator


def _backtest(settings: Settings, as_of: datetime, steps: Steps) -> dict[str, Any] | None:
    """The backtest the at-risk page shows; a store too short for it is only a remark."""
    try:
        result = analysis_service.backtest(settings, as_of)
    except NotEnoughHistory as exc:
        steps.say(f"no backtest: {exc.message}")
        return None
    steps.say(
        f"backtest as of {as_of.date().isoformat()}: AUC {result['auc']}, {result['model']} chosen"
    )
    return result


def serve_demo(
    result: DemoResult,
    simulator: DemoSimulator,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    interval: float = 2.0,
    say: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> None:
    """Serve the dashboard and stream live changes until ``stop`` is set (or Ctrl-C)."""
    stop = stop or threading.Event()
    service = Service(result.settings)
    service.start(worker=True, schedule=False)
    try:
        with start_in_thread(service.web_app(), host=host, port=port) as web:
            hooks = webhook_service.register_webhooks(
                result.settings, f"{web.url}/webhooks/lightspeed"
            )
            simulator.ctx.webhooks.start()
            say(f"dashboard: {web.url}/  (password: {result.password})")
            say(f"webhooks: {len(hooks)} subscriptions deliver the simulator's changes")
            say(f"live changes every {interval:g} s; Ctrl-C stops")
            live = LiveStream(simulator.ctx, seed=int(time.time()))
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(interval):
                    say(f"  live: {live.step()}")
    finally:
        simulator.ctx.webhooks.stop()
        service.shutdown()


def check_port_free(host: str, port: int) -> None:
    """Fail before the pipeline runs, not after, when the dashboard's port is taken."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot serve the dashboard on {host}:{port} ({exc.strerror})",
                hint="Pass --port N (0 picks a free port), or stop what is using it.",
            ) from None


def _set_dashboard_password(config_path: Path, password: str) -> None:
    """Put the hash of ``password`` into the config, so ``greenloop serve`` on the demo
    config takes the same login after the demo has stopped."""
    text = config_path.read_text(encoding="utf-8")
    line = f'admin_password_hash = "{hash_password(password)}"'
    updated, count = re.subn(r'(?m)^# admin_password_hash = ""$', line, text)
    if count != 1:
        raise RuntimeError("the config template has no admin_password_hash line to fill")
    config_path.write_text(updated, encoding="utf-8")


def _today() -> datetime:
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
