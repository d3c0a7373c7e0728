"""The command line: every command documented, JSON output shapes, errors and exit codes."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import click
import pytest
import typer.main
from typer.testing import CliRunner

from greenloop.cli import app
from tests.simulation import TOKEN, running_simulator

runner = CliRunner()


def _walk(
    command: click.Command, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(prefix, command)]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found.extend(_walk(sub, (*prefix, name)))
    return found


ALL_COMMANDS = _walk(typer.main.get_command(app))


@pytest.mark.parametrize(
    ("path", "command"), ALL_COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_every_command_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert (command.help or "").strip(), f"`greenloop {' '.join(path)}` has no help text"
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert (param.help or "").strip(), f"option {param.opts} of {path} has no help"


def test_init_writes_a_commented_config_and_migrates(tmp_path: Path) -> None:
    config = tmp_path / "greenloop.toml"
    result = runner.invoke(
        app, ["init", "--config", str(config), "--domain-prefix", "shop", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["config_written"] is True
    assert payload["revision"]
    assert (tmp_path / "greenloop.db").exists()
    assert "# Personal token" in config.read_text()
    again = runner.invoke(app, ["init", "--config", str(config), "--json"])
    assert json.loads(again.output)["config_written"] is False


def _init(tmp_path: Path, base_url: str) -> Path:
    config = tmp_path / "greenloop.toml"
    result = runner.invoke(app, ["init", "--config", str(config), "--base-url", base_url])
    assert result.exit_code == 0, result.output
    return config


def test_sync_json_reports_per_resource_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_simulator() as sim:
        config = _init(tmp_path, sim.url)
        monkeypatch.setenv("GREENLOOP_LIGHTSPEED_TOKEN", TOKEN)
        result = runner.invoke(app, ["sync", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload["resources"]) == {
        "retailer",
        "outlets",
        "registers",
        "users",
        "customer_groups",
        "customers",
        "sales",
    }
    for figures in payload["resources"].values():
        assert {"fetched", "requests", "cursor"} <= set(figures)
    assert payload["requests"] == sum(r["requests"] for r in payload["resources"].values())


def test_bad_token_is_one_line_nonzero_and_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "lsxs_pt_DO_NOT_PRINT_ME_42"
    with running_simulator() as sim:
        config = _init(tmp_path, sim.url)
        monkeypatch.setenv("GREENLOOP_LIGHTSPEED_TOKEN", secret)
        with caplog.at_level(logging.DEBUG):
            result = runner.invoke(app, ["sync", "--config", str(config), "--verbose"])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert "401" in lines[0]
    assert "Personal Tokens" in lines[0]
    assert secret not in result.output
    assert secret not in result.stderr
    assert secret not in caplog.text


def test_unmigrated_database_says_to_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENLOOP_LIGHTSPEED_TOKEN", TOKEN)
    monkeypatch.setenv("GREENLOOP_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("GREENLOOP_LIGHTSPEED_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sync"])
    assert result.exit_code == 2
    assert "greenloop init" in result.stderr


def test_missing_token_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _init(tmp_path, "http://127.0.0.1:9")
    for name in ("GREENLOOP_LIGHTSPEED_TOKEN", "EXPO_PUBLIC_LIGHTSPEED_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, ["sync", "--config", str(config)])
    assert result.exit_code == 2
    assert "no Lightspeed API token" in result.stderr


def test_demo_no_serve_runs_the_pipeline(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "demo",
            "--no-serve",
            "--dir",
            str(tmp_path / "demo"),
            "--customers",
            "80",
            "--days",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "pipeline finished" in result.output
    assert (tmp_path / "demo" / "greenloop.db").exists()


@pytest.mark.parametrize(
    ("setup", "exit_code", "fragment"),
    [
        ("wrong_token", 2, "token was refused"),
        ("unreachable", 3, "cannot reach"),
        ("server_errors", 3, "HTTP 500"),
        ("malformed", 3, "not valid JSON"),
    ],
)
def test_sync_failures_end_in_one_line_and_a_nonzero_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str, exit_code: int, fragment: str
) -> None:
    with running_simulator() as sim:
        config = _init(tmp_path, "http://127.0.0.1:9" if setup == "unreachable" else sim.url)
        monkeypatch.setenv(
            "GREENLOOP_LIGHTSPEED_TOKEN", "lsxs_pt_WRONGWRONG" if setup == "wrong_token" else TOKEN
        )
        monkeypatch.setenv("GREENLOOP_LIGHTSPEED__MAX_RETRIES", "1")
        monkeypatch.setenv("GREENLOOP_LIGHTSPEED__BACKOFF_BASE_SECONDS", "0.01")
        if setup == "server_errors":
            sim.control("PUT", "faults", {"error_rate": 1.0})
        if setup == "malformed":
            sim.control("PUT", "faults", {"malformed_rate": 1.0})
        result = runner.invoke(app, ["sync", "--config", str(config)])
    assert result.exit_code == exit_code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert fragment in errors[0]
    assert TOKEN not in result.output
    assert "WRONGWRONG" not in result.output


def test_import_ecom_json_and_exit_code(tmp_path: Path) -> None:
    from tests.ecom_files import SAMPLE, sample_rows, with_cells, write_export

    config = _init(tmp_path, "http://127.0.0.1:9")
    ok = runner.invoke(app, ["import-ecom", str(SAMPLE), "--config", str(config), "--json"])
    assert ok.exit_code == 0, ok.output
    payload = json.loads(ok.stdout)
    assert {
        "orders_new",
        "orders_updated",
        "orders_unchanged",
        "line_items",
        "rejected",
        "warnings",
    } <= set(payload)
    assert payload["orders_new"] == 2

    header, rows = sample_rows()
    bad = write_export(
        tmp_path / "bad.csv", header, [with_cells(header, rows[2], order_total="12,3,4")]
    )
    result = runner.invoke(app, ["import-ecom", str(bad), "--config", str(config), "--json"])
    assert result.exit_code == 1
    rejected = json.loads(result.stdout)["rejected"]
    assert rejected == [
        {
            "file": str(bad),
            "line": 2,
            "column": "order_total",
            "message": f"{bad}:2: order_total: '12,3,4' is not an amount, write it like 1234.56",
        }
    ]
    text = runner.invoke(app, ["import-ecom", str(bad), "--config", str(config)])
    assert text.exit_code == 1
    assert f"rejected: {bad}:2: order_total:" in text.stderr


def test_import_ecom_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    config = _init(tmp_path, "http://127.0.0.1:9")
    result = runner.invoke(
        app, ["import-ecom", str(tmp_path / "nope.csv"), "--config", str(config)]
    )
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_reconcile_json_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from greenloop.simulator.ecom_export import write_ecom_export
    from tests.simulation import small_store

    store = small_store(seed=3)
    export = tmp_path / "export.csv"
    with export.open("w", encoding="utf-8", newline="") as out:
        write_ecom_export(store.ecom_orders, out)
    with running_simulator(store) as sim:
        config = _init(tmp_path, sim.url)
        monkeypatch.setenv("GREENLOOP_LIGHTSPEED_TOKEN", TOKEN)
        assert runner.invoke(app, ["sync", "--config", str(config)]).exit_code == 0
    assert runner.invoke(app, ["import-ecom", str(export), "--config", str(config)]).exit_code == 0
    result = runner.invoke(app, ["reconcile", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {
        "matched",
        "csv_only",
        "xseries_only",
        "stale_hints",
        "amount_mismatches",
        "time_mismatches",
        "lag_seconds",
    } <= set(report)
    assert report["matched"] > 0
    assert {"p50", "p95", "max"} <= set(report["lag_seconds"])
    reasons = {row["reason"] for row in report["csv_only"]}
    assert "not_yet_synced" in reasons
    assert report["time_mismatches"] == []
    human = runner.invoke(app, ["reconcile", "--config", str(config)])
    assert "matched orders" in human.stdout


def test_a_failed_json_command_prints_one_json_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _init(tmp_path, "http://127.0.0.1:9")
    monkeypatch.setenv("GREENLOOP_LIGHTSPEED_TOKEN", TOKEN)
    monkeypatch.setenv("GREENLOOP_LIGHTSPEED__MAX_RETRIES", "0")
    result = runner.invoke(app, ["sync", "--config", str(config), "--json"])
    assert result.exit_code == 3
    payload = json.loads(result.stdout)
    assert set(payload) == {"error", "error_type", "exit_code", "meaning"}
    assert "cannot reach" in payload["error"]
    assert payload["error_type"] == "ConnectionFailed"
    assert payload["exit_code"] == 3
    assert payload["meaning"].startswith("retryable")
    # The same error, as one line, on stderr.
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {payload['error']}"
    ]
    missing = runner.invoke(app, ["reconcile", "--config", str(tmp_path / "nope.toml"), "--json"])
    assert missing.exit_code == 2
    assert json.loads(missing.stdout)["meaning"].startswith("fatal")


def test_init_refuses_a_database_password_in_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "greenloop.toml"
    url = "postgresql://greenloop:s3cr3t-pw@db.internal:5432/greenloop"
    result = runner.invoke(app, ["init", "--config", str(config), "--database-url", url])
    assert result.exit_code == 2
    assert not config.exists()
    assert "s3cr3t-pw" not in result.output
    assert "GREENLOOP_DATABASE_URL=" in result.stderr
    assert "greenloop:PASSWORD@db.internal" in result.stderr


def test_the_sqlite_database_and_its_wal_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from greenloop.store.engine import make_engine

    previous = os.umask(0o022)  # the usual default, under which SQLite creates files 0644
    try:
        with running_simulator() as sim:
            config = _init(tmp_path, sim.url)
            monkeypatch.setenv("GREENLOOP_LIGHTSPEED_TOKEN", TOKEN)
            assert runner.invoke(app, ["sync", "--config", str(config)]).exit_code == 0
        engine = make_engine(f"sqlite:///{tmp_path / 'greenloop.db'}")
        with engine.connect() as conn:  # the -wal and -shm files exist while it is open
            conn.execute(text("UPDATE sync_cursors SET version = version"))
            files = sorted(path.name for path in tmp_path.glob("greenloop.db*"))
            assert files == ["greenloop.db", "greenloop.db-shm", "greenloop.db-wal"]
            for name in files:
                assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
        engine.dispose()
    finally:
        os.umask(previous)
