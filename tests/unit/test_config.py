from __future__ import annotations

from pathlib import Path

import pytest

from greenloop.config import load_settings
from greenloop.config.template import render_config
from greenloop.errors import ConfigError


def test_template_loads_and_defaults_to_sqlite_next_to_config(tmp_path: Path) -> None:
    path = tmp_path / "greenloop.toml"
    path.write_text(render_config(domain_prefix="mystore"))
    settings = load_settings(path, env={})
    assert settings.lightspeed.domain_prefix == "mystore"
    assert settings.lightspeed.origin() == "https://mystore.retail.lightspeed.app"
    assert settings.database_url() == f"sqlite:///{tmp_path / 'greenloop.db'}"


def test_environment_wins_and_retailer_names_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "greenloop.toml"
    path.write_text(render_config(domain_prefix="fromfile"))
    env = {
        "EXPO_PUBLIC_LIGHTSPEED_TOKEN": "lsxs_pt_expo",
        "EXPO_PUBLIC_LIGHTSPEED_DOMAIN_PREFIX": "expo",
        "GREENLOOP_LIGHTSPEED_DOMAIN_PREFIX": "greenloop",
        "GREENLOOP_SYNC__PAGE_SIZE": "250",
    }
    settings = load_settings(path, env=env)
    assert settings.lightspeed.require_token() == "lsxs_pt_expo"
    assert settings.lightspeed.domain_prefix == "greenloop"
    assert settings.sync.page_size == 250


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765/api/2.0/", "http://127.0.0.1:8765"),
        ("https://x.retail.lightspeed.app/api", "https://x.retail.lightspeed.app"),
    ],
)
def test_base_url_accepts_pasted_api_paths(raw: str, origin: str) -> None:
    assert (
        load_settings(None, env={"GREENLOOP_LIGHTSPEED_BASE_URL": raw}).lightspeed.origin()
        == origin
    )


@pytest.mark.parametrize("token", ["", "changeme", "  "])
def test_placeholder_tokens_are_refused_with_a_fix(token: str) -> None:
    settings = load_settings(None, env={"GREENLOOP_LIGHTSPEED__TOKEN": token})
    with pytest.raises(ConfigError, match="no Lightspeed API token") as info:
        settings.lightspeed.require_token()
    assert "Personal Tokens" in info.value.hint


def test_token_is_not_in_repr_or_validation_errors(tmp_path: Path) -> None:
    settings = load_settings(None, env={"GREENLOOP_LIGHTSPEED_TOKEN": "lsxs_pt_SECRET123"})
    assert "SECRET123" not in repr(settings)
    bad = tmp_path / "bad.toml"
    bad.write_text('[lightspeed]\ntoken = "lsxs_pt_SECRET123"\ntimeout_seconds = "soon"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(bad, env={})
    assert "SECRET123" not in str(info.value)
    assert "timeout_seconds" in str(info.value)


def test_missing_explicit_config_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_settings(tmp_path / "nope.toml", env={})
    assert "greenloop init" in info.value.hint


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text("[sync]\npage_sise = 5\n")
    with pytest.raises(ConfigError, match="page_sise"):
        load_settings(path, env={})
