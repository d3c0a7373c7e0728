"""`greenloop run daily` against the simulator: every step, the inbox, the lock, failures."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from greenloop.cli import app
from greenloop.config import Settings
from greenloop.errors import Busy
from greenloop.runtime.daily import run_daily
from greenloop.simulator.ecom_export import write_ecom_export
from greenloop.store import tables as t
from greenloop.store.locks import job_lock
from tests.ecom_files import sample_rows, with_cells, write_export
from tests.simulation import ANCHOR, running_simulator, settings_for, small_store

STORE = small_store(seed=7, customers=150, days=200)


def daily_settings(url: str, db_url: str, tmp_path: Path) -> Settings:
    return settings_for(
        url,
        db_url,
        jobs={"output_dir": str(tmp_path / "out"), "ecom_inbox": str(tmp_path / "inbox")},
    )


def test_daily_runs_every_step_files_the_inbox_and_writes_the_outputs(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with (inbox / "ecom_orders_export.csv").open("w", encoding="utf-8", newline="") as out:
        write_ecom_export(STORE.ecom_orders, out, timezone="America/Chicago")
    (inbox / "notes.csv").write_text("this is not an export\n")
    # An export with one order no store produces: the rest of it imports.
    header, rows = sample_rows()
    write_export(
        inbox / "hostile.csv",
        header,
        [
            with_cells(header, rows[2], order_number="90001", timestamp="Dec 31, 9999 11:59 PM"),
            with_cells(header, rows[2], order_number="90002", shipto_person_name="y" * 200_000),
            with_cells(header, rows[2], order_number="90003"),
        ],
    )
    with running_simulator(STORE) as sim:
        settings = daily_settings(sim.url, db_url, tmp_path)
        report = run_daily(settings, now=ANCHOR)
    steps = {s.name: s for s in report.steps}
    assert list(steps) == [
        "sync",
        "import_ecom",
        "analyze",
        "push",
        "verify",
        "export_master",
        "events",
    ]
    # The file it cannot read fails the step, and every later step still runs.
    assert {n: s.status for n, s in steps.items() if n != "import_ecom"} == dict.fromkeys(
        ["sync", "analyze", "push", "verify", "export_master", "events"], "ok"
    )
    assert steps["import_ecom"].status == "failed"
    assert "1 of 3 files could not be read" in (steps["import_ecom"].error or "")
    assert steps["import_ecom"].summary["orders_new"] > 0
    assert steps["import_ecom"].summary["unreadable"] == 1
    rejected = json.dumps(steps["import_ecom"].summary["rejected"])
    assert "notes.csv" in rejected
    assert "hostile.csv:2: timestamp" in rejected
    assert "hostile.csv:4: shipto_person_name" in rejected
    assert not report.ok
    assert report.exit_code == 2
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []
    assert len(list((inbox / "imported").iterdir())) == 1
    # Both files with a problem are filed away, each with its reason beside it.
    filed = sorted(p.name for p in (inbox / "rejected").iterdir())
    assert len(filed) == 4
    assert [name.split(".")[0] for name in filed] == ["hostile"] * 2 + ["notes"] * 2
    notes_reason = next((inbox / "rejected").glob("notes.*.csv.reason.txt")).read_text()
    assert "no 'order_number' column" in notes_reason
    assert "Nothing was imported" in notes_reason
    hostile_reason = next((inbox / "rejected").glob("hostile.*.csv.reason.txt")).read_text()
    assert "1 orders imported" in hostile_reason
    assert ":2: timestamp: 'Dec 31, 9999 11:59 PM'" in hostile_reason
    out = tmp_path / "out"
    assert (out / "customer_analytics_master.csv").stat().st_size > 0
    log = json.loads((out / "tier_sync_log.json").read_text())
    assert log["updated"] == steps["push"].summary["moved"] > 0
    with engine.connect() as conn:
        row = conn.execute(select(t.job_runs)).one()
    assert row.outcome == "failed"
    with engine.connect() as conn:
        numbers = set(conn.execute(select(t.ecom_orders.c.order_number)).scalars())
    assert "90003" in numbers
    assert not {"90001", "90002"} & numbers
    assert [s["name"] for s in row.steps] == list(steps)


def test_a_failed_step_skips_the_rest_and_the_command_exits_non_zero(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        assert sim.ctx is not None
        sim.ctx.config = replace(sim.ctx.config, token="lsxs_pt_a_new_token_the_owner_made")
        config = tmp_path / "greenloop.toml"
        settings = daily_settings(sim.url, db_url, tmp_path)
        config.write_text(
            "[lightspeed]\n"
            f'base_url = "{sim.url}"\n'
            f'token = "{settings.lightspeed.token.get_secret_value()}"\n'
            "[database]\n"
            f'url = "{db_url}"\n'
            "[jobs]\n"
            f'output_dir = "{tmp_path / "out"}"\n'
        )
        result = CliRunner().invoke(app, ["run", "daily", "--json", "--config", str(config)])
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    statuses = {s["name"]: s["status"] for s in report["steps"]}
    assert statuses["sync"] == "failed"
    assert "token" in report["steps"][0]["error"].lower()
    assert all(statuses[n] == "skipped" for n in list(statuses)[1:])
    assert report["steps"][2]["error"] == "skipped because sync failed"
    assert settings.lightspeed.token.get_secret_value() not in result.output


def test_two_daily_runs_never_overlap(engine: Engine, db_url: str, tmp_path: Path) -> None:
    settings = daily_settings("http://127.0.0.1:9", db_url, tmp_path)
    with (
        job_lock(engine, "daily", ttl=timedelta(minutes=5), holder="other-host:1"),
        pytest.raises(Busy),
    ):
        run_daily(settings)
