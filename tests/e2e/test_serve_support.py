"""Helpers for the process tests (no tests here): a free port, `greenloop simulator
serve` and `greenloop serve` as real subprocesses, the environment that configures
GreenLoop, and waiting."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import Engine, select

from greenloop.store import tables as t
from greenloop.store.inbox import inbox_stats

BIN = Path(sys.executable).parent / "greenloop"


@contextmanager
def simulator_process(*args: str) -> Iterator[str]:
    """`greenloop simulator serve ARGS` as its own process; yields its base URL."""
    proc = subprocess.Popen(
        [str(BIN), "simulator", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/api", line)
        assert match, f"simulator did not announce its URL: {line!r}"
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def greenloop_env(sim_url: str, token: str, db_url: str, **extra: str) -> dict[str, str]:
    """GreenLoop configured through the environment only (no greenloop.toml)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLOOP_")}
    env.update(
        GREENLOOP_LIGHTSPEED_BASE_URL=sim_url,
        GREENLOOP_LIGHTSPEED_TOKEN=token,
        GREENLOOP_DATABASE_URL=db_url,
        GREENLOOP_LIGHTSPEED__BACKOFF_BASE_SECONDS="0.05",
        GREENLOOP_LIGHTSPEED__BACKOFF_MAX_SECONDS="0.2",
        GREENLOOP_JOBS__POLL_MINUTES="0",
        GREENLOOP_WEBHOOKS__POLL_INTERVAL_SECONDS="0.1",
        GREENLOOP_WEBHOOKS__RETRY_BASE_SECONDS="0.1",
        GREENLOOP_WEBHOOKS__RETRY_MAX_SECONDS="0.5",
    )
    env.update(extra)
    return env


def greenloop(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


class ServeProcess:
    """`greenloop serve --no-schedule` on a fixed port, its output in a log file."""

    def __init__(self, port: int, env: dict[str, str], cwd: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.cwd = cwd
        self.log = cwd / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[Any] | None = None

    def start(self, timeout: float = 60) -> None:
        self._out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--port", str(self.port), "--no-schedule"],
            env=self.env,
            cwd=self.cwd,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("serve did not start in time")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, claims and transactions are left as they are."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def wait_until(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def inbox_depth(engine: Engine) -> int:
    with engine.connect() as conn:
        return inbox_stats(conn, datetime.now(UTC)).depth


def inbox_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(t.webhook_inbox).order_by(t.webhook_inbox.c.id))
        return [dict(r._mapping) for r in rows]
