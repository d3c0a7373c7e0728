"""`greenloop webhooks register / list / delete` against the simulator's webhooks API."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from greenloop.cli import app
from greenloop.errors import ConfigError, NotFound
from greenloop.services import webhooks as webhook_service
from greenloop.store.service_state import read_value, write_value
from greenloop.web.url_token import STORED_NAME
from tests.simulation import TOKEN, Sim, running_simulator, settings_for

URL = "http://127.0.0.1:8080/webhooks/lightspeed"
URL_TOKEN = "url-token-9f8e7d"


def test_register_is_idempotent_and_adds_type_and_token(tmp_path: Path) -> None:
    with running_simulator() as sim:
        settings = settings_for(
            sim.url, f"sqlite:///{tmp_path / 'g.db'}", webhooks={"url_token": URL_TOKEN}
        )
        first = webhook_service.register_webhooks(settings, URL)
        second = webhook_service.register_webhooks(settings, URL)
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


def test_list_reactivates_and_deletes(engine: Engine, db_url: str) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url, webhooks={"secret": "whsec-test"})
        [hook] = webhook_service.register_webhooks(settings, URL, types=["sale.update"])
        sim.state.update("webhooks", hook.id, lambda h: h.update(active=False))
        [again] = webhook_service.register_webhooks(settings, URL, types=["sale.update"])
        assert (again.id, again.status, again.active) == (hook.id, "reactivated", True)
        listed = webhook_service.list_webhooks(settings)
        assert [(h.id, h.type, h.url) for h in listed] == [
            (hook.id, "sale.update", f"{URL}?type=sale.update")
        ]
        gone = webhook_service.delete_webhook(settings, hook.id)
        assert gone.status == "deleted"
        assert webhook_service.list_webhooks(settings) == []
        with pytest.raises(NotFound):
            webhook_service.delete_webhook(settings, hook.id)
        with pytest.raises(ConfigError, match="unknown webhook type"):
            webhook_service.register_webhooks(settings, URL, types=["sale.created"])
        with pytest.raises(ConfigError, match="not an http"):
            webhook_service.register_webhooks(settings, "ftp://example.com/x")
    # A secret alone authenticates (signed deliveries): no token is made.
    assert read_value(engine, STORED_NAME) is None


def _served_tokens(sim: Sim) -> dict[str, str]:
    """type -> the token in each subscription URL the simulator holds."""
    out = {}
    for hook in sim.state.snapshot("webhooks"):
        query = dict(parse_qsl(urlsplit(hook["url"]).query))
        assert query["type"] == hook["type"]
        out[hook["type"]] = query.get("token", "")
    return out


def test_without_secret_or_token_register_makes_one_and_stores_it(
    engine: Engine, db_url: str
) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url)
        first = webhook_service.register(settings, URL)
        token = read_value(engine, STORED_NAME)
        assert token
        assert len(token) >= 40
        assert _served_tokens(sim) == {"sale.update": token, "customer.update": token}
        again = webhook_service.register(settings, URL)
        listed = webhook_service.list_webhooks(settings)
    assert (first.url_token, again.url_token) == ("created", "stored")
    assert [h.status for h in first.webhooks] == ["created", "created"]
    assert [h.status for h in again.webhooks] == ["exists", "exists"]
    assert first.replaced == again.replaced == []
    assert read_value(engine, STORED_NAME) == token
    shown = json.dumps([first.as_json(), again.as_json(), [h.as_json() for h in listed]])
    assert token not in shown
    assert shown.count("token=***") == 6


def test_rotate_token_replaces_the_subscriptions(engine: Engine, db_url: str) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url)
        first = webhook_service.register(settings, URL)
        old = read_value(engine, STORED_NAME)
        other = "https://elsewhere.example.com/hooks?type=sale.update&token=theirs"
        sim.state.insert(
            "webhooks", {"id": "x", "type": "sale.update", "url": other, "active": True}
        )
        # Only sale.update asked for: customer.update moves to the new token as well.
        rotated = webhook_service.register(settings, URL, types=["sale.update"], rotate_token=True)
        new = read_value(engine, STORED_NAME)
        served = _served_tokens(sim)
        urls = sorted(h["url"] for h in sim.state.snapshot("webhooks"))
    assert new
    assert old
    assert new != old
    assert rotated.url_token == "rotated"
    assert served == {"sale.update": new, "customer.update": new}
    assert sorted(h.id for h in rotated.replaced) == sorted(h.id for h in first.webhooks)
    assert {h.status for h in rotated.replaced} == {"replaced"}
    assert [h.status for h in rotated.webhooks] == ["created", "created"]
    assert other in urls  # another URL's subscription is not ours to replace
    assert len(urls) == 3
    assert old not in json.dumps(rotated.as_json())
    assert new not in json.dumps(rotated.as_json())


def test_a_configured_token_wins_over_the_stored_one(engine: Engine, db_url: str) -> None:
    write_value(engine, STORED_NAME, "stored-token-0123456789")
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url, webhooks={"url_token": URL_TOKEN})
        done = webhook_service.register(settings, URL)
        assert _served_tokens(sim) == {"sale.update": URL_TOKEN, "customer.update": URL_TOKEN}
        with pytest.raises(ConfigError, match="set in the configuration"):
            webhook_service.register(settings, URL, rotate_token=True)
    assert done.url_token == "configured"
    assert read_value(engine, STORED_NAME) == "stored-token-0123456789"


def test_a_changed_token_replaces_the_old_subscriptions(engine: Engine, db_url: str) -> None:
    with running_simulator() as sim:
        before = settings_for(sim.url, db_url, webhooks={"url_token": "old-token-7788"})
        webhook_service.register(before, URL)
        after = settings_for(sim.url, db_url, webhooks={"url_token": URL_TOKEN})
        done = webhook_service.register(after, URL)
        served = _served_tokens(sim)
    assert served == {"sale.update": URL_TOKEN, "customer.update": URL_TOKEN}
    assert len(done.replaced) == 2
    assert "old-token-7788" not in json.dumps(done.as_json())


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


def test_cli_register_says_it_made_a_token_and_never_prints_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    with running_simulator() as sim:
        config = tmp_path / "greenloop.toml"
        init = runner.invoke(app, ["init", "--config", str(config), "--base-url", sim.url])
        assert init.exit_code == 0, init.output
        monkeypatch.setenv("GREENLOOP_LIGHTSPEED_TOKEN", TOKEN)
        args = ["webhooks", "register", "--url", URL, "--config", str(config)]
        made = runner.invoke(app, args)
        first = set(_served_tokens(sim).values())
        rotated = runner.invoke(app, [*args, "--rotate-token"])
        second = set(_served_tokens(sim).values())
        listed = runner.invoke(app, ["webhooks", "list", "--config", str(config)])
    assert made.exit_code == 0, made.output
    assert "made a URL token" in made.output
    assert rotated.exit_code == 0, rotated.output
    assert "replaced the stored URL token" in rotated.output
    assert rotated.output.count("\nreplaced    ") == 2
    assert len(first) == len(second) == 1
    assert first != second
    for token in first | second:
        assert token not in made.output + rotated.output + listed.output
        assert token not in config.read_text()  # kept in the database only
    assert listed.output.count("token=***") == 2
