"""A real `greenloop serve` on a generated store, and headless Chromium to drive it.

The store is synced from the simulator, analysed on three days and pushed by the daily
job (the same pipeline as the dashboard's integration tests). `serve` runs as its own
process from a greenloop.toml, like a retailer runs it, with `--no-schedule` so no
daily catch-up run changes the figures while the pages are checked.

Chromium is Debian's (`/usr/bin/chromium`, installed by `make test` where apt-get is
available); Playwright drives it and never downloads a browser of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from greenloop.config import Settings, load_settings
from greenloop.runtime.daily import run_daily
from greenloop.services import analysis, ingest
from greenloop.simulator.ecom_export import write_ecom_export
from greenloop.store.engine import make_engine, migrate, normalise_url
from greenloop.web.dashboard import hash_password
from tests.conftest import DB_PARAMS, PG_URL, REPO, _with_search_path
from tests.simulation import ANCHOR, TOKEN, Sim, running_simulator, small_store

PASSWORD = "browser test passphrase"
STAFF_PASSWORD = "browser staff passphrase"
API_TOKEN = "browser-api-token-0123456789abcdef"
PROGRESS_KEY = "browser-progress-key-0123456789"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass
class Served:
    url: str
    database_url: str
    db: str  # "sqlite" or "postgresql", for the screenshot names
    prepared: Any = None  # what serve_store's prepare answered

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml(sections: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        # JSON strings, numbers and lists of them are valid TOML values.
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def _database(request: pytest.FixtureRequest, tmp: Path) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'greenloop.db'}", None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return _with_search_path(normalise_url(PG_URL), schema), schema


def _drop_schema(schema: str) -> None:
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"serve did not answer: {log.read_text()[-2000:]}")


# One served store per database for every page test module (building it is the slow part).
@pytest.fixture(scope="session", params=DB_PARAMS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    yield from serve_store(request, tmp_path_factory)


def serve_store(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    prepare: Callable[[Sim, Settings], Any] | None = None,
    sections: dict[str, dict[str, Any]] | None = None,
) -> Iterator[Served]:
    """The ``served`` fixture's body, for a module that needs the store changed:
    ``prepare`` runs between the first analyses and the daily run (which syncs and
    analyses again), its answer kept as ``Served.prepared``; ``sections`` add to the
    greenloop.toml."""
    if chromium_path() is None:
        pytest.skip("no Chromium found (apt-get install chromium, or run make test as root)")
    pytest.importorskip("playwright.sync_api")
    tmp = tmp_path_factory.mktemp("browser")
    url, schema = _database(request, tmp)
    store = small_store(seed=21, customers=160, days=240)
    inbox = tmp / "inbox"
    inbox.mkdir()
    with (inbox / "orders.csv").open("w", encoding="utf-8", newline="") as out:
        write_ecom_export(store.ecom_orders, out, timezone="America/Chicago")
    port = _free_port()
    try:
        with running_simulator(store) as sim:
            config = tmp / "greenloop.toml"
            config.write_text(
                _toml(
                    {
                        "lightspeed": {"base_url": sim.url, "timeout_seconds": 5},
                        "database": {"url": url},
                        "analytics": {
                            "min_customers_for_predictions": 50,
                            "min_repeat_customers_for_predictions": 10,
                        },
                        "jobs": {
                            "output_dir": str(tmp / "out"),
                            "ecom_inbox": str(inbox),
                            "port": port,
                        },
                        "webhooks": {"url_token": "browser-webhook-url-token"},
                        "dashboard": {
                            "admin_password_hash": hash_password(PASSWORD),
                            "staff_password_hash": hash_password(STAFF_PASSWORD),
                            "api_token": API_TOKEN,
                            "progress_api_key": PROGRESS_KEY,
                        },
                        **(sections or {}),
                    }
                ),
                encoding="utf-8",
            )
            env = {**os.environ, "GREENLOOP_LIGHTSPEED_TOKEN": TOKEN}
            settings = load_settings(config, env=env)
            engine = make_engine(url)
            migrate(engine)
            engine.dispose()
            ingest.run_sync(settings)
            for days in (60, 30):
                analysis.analyze(settings, now=ANCHOR - timedelta(days=days))
            prepared = prepare(sim, settings) if prepare is not None else None
            assert run_daily(settings, now=ANCHOR).run_id is not None
            log = tmp / "serve.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "greenloop",
                        "serve",
                        "--config",
                        str(config),
                        "--no-schedule",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_healthy(base, process, log)
                yield Served(base, url, request.param, prepared)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    finally:
        if schema is not None:
            _drop_schema(schema)


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()
