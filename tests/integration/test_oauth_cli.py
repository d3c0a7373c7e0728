"""`greenloop connect` through CliRunner on a temporary SQLite file: what it needs
before it can print a link, the link itself, and --status without a connection."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from greenloop.cli.app import app

runner = CliRunner()


def _init(tmp_path: Path) -> Path:
    config = tmp_path / "greenloop.toml"
    result = runner.invoke(app, ["init", "--config", str(config), "--domain-prefix", "shop"])
    assert result.exit_code == 0, result.output
    return config


def test_connect_needs_the_add_on_then_prints_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _init(tmp_path)
    for name in ("GREENLOOP_LIGHTSPEED_TOKEN", "EXPO_PUBLIC_LIGHTSPEED_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    missing = runner.invoke(app, ["connect", "--config", str(config)])
    assert missing.exit_code == 2
    assert "lightspeed.client_id" in missing.output

    monkeypatch.setenv("GREENLOOP_LIGHTSPEED_CLIENT_ID", "the-app")
    monkeypatch.setenv("GREENLOOP_LIGHTSPEED_CLIENT_SECRET", "the-app-secret-0123")
    no_url = runner.invoke(app, ["connect", "--config", str(config)])
    assert no_url.exit_code == 2
    assert "jobs.public_url" in no_url.output

    monkeypatch.setenv("GREENLOOP_JOBS__PUBLIC_URL", "https://gl.example/")
    started = runner.invoke(app, ["connect", "--config", str(config), "--json"])
    assert started.exit_code == 0, started.output
    link = json.loads(started.output)
    query = {k: v[0] for k, v in parse_qs(urlsplit(link["url"]).query).items()}
    assert link["url"].startswith("https://secure.retail.lightspeed.app/connect?")
    assert query["redirect_uri"] == "https://gl.example/oauth/callback"
    assert "sales:write" not in query["scope"].split()
    assert len(query["state"]) >= 32
    assert "the-app-secret-0123" not in started.output

    status = runner.invoke(app, ["connect", "--config", str(config), "--status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["state"] == "not_connected"

    wrong = ["connect", "--config", str(config), "--code", "c", "--state", "not-ours"]
    refused = runner.invoke(app, wrong)
    assert refused.exit_code == 2
    assert "unknown, expired or already used" in refused.output
