"""`greenloop demo` served: the dashboard answers with the demo's password, the
simulator's live changes arrive as webhooks, and the worker settles them."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

from greenloop.runtime.demo import run_demo, serve_demo
from greenloop.store import tables as t


def test_the_served_demo_streams_changes_through_webhooks(tmp_path: Path) -> None:
    result, simulator = run_demo(tmp_path / "demo", customers=120, days=90)
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=serve_demo,
        args=(result, simulator),
        kwargs={"port": 0, "interval": 0.1, "say": lines.append, "stop": stop},
    )
    thread.start()
    engine = create_engine(result.settings.database_url())
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and done < 20:
            time.sleep(0.2)
            with engine.connect() as conn:
                done = conn.execute(
                    select(func.count())
                    .select_from(t.webhook_inbox)
                    .where(t.webhook_inbox.c.status == "done")
                ).scalar_one()
        [url] = [m.group(1) for line in lines if (m := re.search(r"dashboard: (\S+)/ ", line))]
        with httpx.Client(base_url=url) as client:
            assert client.get("/").status_code == 303  # the login comes first
            form = client.get("/login").text
            [csrf] = re.findall(r'name="csrf_token" value="([^"]+)"', form)
            refused = client.post("/login", data={"password": "wrong", "csrf_token": csrf})
            assert refused.status_code == 401
            taken = client.post("/login", data={"password": result.password, "csrf_token": csrf})
            assert taken.status_code == 303
            assert client.get("/").status_code == 200
    finally:
        stop.set()
        thread.join(timeout=60)
        simulator.stop()
        engine.dispose()
    assert done >= 20
    assert sum(line.startswith("  live: ") for line in lines) >= 10
    assert result.password not in (tmp_path / "demo" / "greenloop.toml").read_text()
    assert 'admin_password_hash = "scrypt$' in (tmp_path / "demo" / "greenloop.toml").read_text()


def test_a_taken_dashboard_port_stops_the_demo_before_the_pipeline(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from greenloop.cli import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["demo", "--port", str(port), "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.output
    assert "--port" in result.output
    assert not (tmp_path / "greenloop.db").exists()  # nothing ran
