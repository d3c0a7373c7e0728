"""`greenloop webhooks register / list / delete` against the simulator's webhooks API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenloop import realtime
from greenloop.cli import app
from greenloop.errors import ConfigError, NotFound
from tests.simulation import TOKEN, running_simulator, settings_for

URL = "http://127.0.0.1:8080/webhooks/lightspeed"
URL_TOKEN = "url-token-9f8e7d"


def test_register_is_idempotent_and_adds_type_and_token(tmp_path: Path) -> None:
    with running_simulator() as sim:
        settings = settings_for(
            sim.url, f"sqlite:///{tmp_path / 'g.db'}", webhooks={"url_token": URL_TOKEN}
        )
        first = realtime.register_webhooks(settings, URL)
        second = realtime.register_webhooks(settings, URL)
        served = sim.state.snapshot("webhooks")
    assert [h.status for h in first] == ["created", "created"]
    assert [h.status for h in second] == ["exists", "exists"]
    assert [h.id for h in first] == [h.id for h in second]
    assert sorted((h["type"], h["url"]) for h in served) == [
        ("customer.update", f"{URL}?type=customer.update&token={URL_TOKEN}"),
        ("sale.update", f"{URL}?type=sale.update&token={URL_TOKEN}"),
    ]
    # What GreenLoop prints never shows the token.
    assert all(URL_TOKEN not in h.url and "token=***" in h.url for h in first + second)


def test_list_reactivates_and_deletes(tmp_path: Path) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, f"sqlite:///{tmp_path / 'g.db'}")
        [hook] = realtime.register_webhooks(settings, URL, types=["sale.update"])
        sim.state.update("webhooks", hook.id, lambda h: h.update(active=False))
        [again] = realtime.register_webhooks(settings, URL, types=["sale.update"])
        assert (again.id, again.status, again.active) == (hook.id, "reactivated", True)
        listed = realtime.list_webhooks(settings)
        assert [(h.id, h.type, h.url) for h in listed] == [
            (hook.id, "sale.update", f"{URL}?type=sale.update")
        ]
        gone = realtime.delete_webhook(settings, hook.id)
        assert gone.status == "deleted"
        assert realtime.list_webhooks(settings) == []
        with pytest.raises(NotFound):
            realtime.delete_webhook(settings, hook.id)
        with pytest.raises(ConfigError, match="unknown webhook type"):
            realtime.register_webhooks(settings, URL, types=["sale.created"])
        with pytest.raises(ConfigError, match="not an http"):
            realtime.register_webhooks(settings, "ftp://example.com/x")


def test_cli_register_list_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    with running_simulator() as sim:
        config = tmp_path / "greenloop.toml"
        init = runner.invoke(app, ["init", "--config", str(config), "--base-url", sim.url])
        assert init.exit_code == 0, init.output
        monkeypatch.setenv("GREENLOOP_LIGHTSPEED_TOKEN", TOKEN)
        monkeypatch.setenv("GREENLOOP_WEBHOOKS__URL_TOKEN", URL_TOKEN)
        args = ["webhooks", "register", "--url", URL, "--config", str(config), "--json"]
        created = runner.invoke(app, args)
        assert created.exit_code == 0, created.output
        assert URL_TOKEN not in created.output
        hooks = json.loads(created.output)["webhooks"]
        assert [h["status"] for h in hooks] == ["created", "created"]
        listed = runner.invoke(app, ["webhooks", "list", "--config", str(config)])
        assert listed.exit_code == 0
        assert listed.output.count("token=***") == 2
        assert URL_TOKEN not in listed.output
        deleted = runner.invoke(app, ["webhooks", "delete", hooks[0]["id"], "-c", str(config)])
        assert deleted.exit_code == 0
        missing = runner.invoke(app, ["webhooks", "delete", "nope", "-c", str(config)])
        assert missing.exit_code != 0
        assert "no webhook subscription" in missing.output
        inbox = runner.invoke(app, ["webhooks", "inbox", "-c", str(config), "--json"])
        assert inbox.exit_code == 0, inbox.output
        assert json.loads(inbox.output)["depth"] == 0
        assert len(sim.state.snapshot("webhooks")) == 1
