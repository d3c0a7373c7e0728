"""Helpers for the OAuth tests (no tests here): the simulator as the add-on's
authorization server, settings for GreenLoop as that add-on, and a connect done the
way an owner does it (the authorize step through the simulator's control route or its
HTML page, the callback's query handed to ``finish_connect``)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import Engine

from greenloop.config import Settings
from greenloop.services.connect import ConnectionStatus, finish_connect, start_connect
from tests.simulation import Sim, running_simulator, settings_for

CLIENT_ID = "greenloop-oauth-test"
CLIENT_SECRET = "oauth-client-secret-5f2c9a"
PUBLIC_URL = "https://greenloop.example"


@contextmanager
def oauth_simulator(**config: Any) -> Iterator[Sim]:
    with running_simulator(
        oauth_client_id=CLIENT_ID, oauth_client_secret=CLIENT_SECRET, **config
    ) as sim:
        yield sim


def oauth_settings(
    sim_url: str, db_url: str, sections: dict[str, dict[str, Any]] | None = None, **lightspeed: Any
) -> Settings:
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorize_url": f"{sim_url}/connect",
        "token": "",
        **lightspeed,
    }
    more = {"jobs": {"public_url": PUBLIC_URL}, **(sections or {})}
    return settings_for(sim_url, db_url, lightspeed=values, **more)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def authorize(sim_url: str, authorize_url: str, decision: str = "approve") -> dict[str, str]:
    """The owner's decision through the control route; the callback URL's query."""
    q = query_of(authorize_url)
    body = {
        "client_id": q["client_id"],
        "redirect_uri": q["redirect_uri"],
        "state": q["state"],
        "scope": q["scope"],
        "decision": decision,
    }
    response = httpx.post(f"{sim_url}/_sim/oauth/authorize", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return query_of(response.json()["location"])


def authorize_by_page(authorize_url: str, decision: str = "approve") -> dict[str, str]:
    """The owner's decision on the HTML page: GET it, post its form back."""
    page = httpx.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    found = re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text)
    fields = {name: html.unescape(value) for name, value in found}
    fields["decision"] = decision
    base = authorize_url.split("?", 1)[0]
    answer = httpx.post(base, data=fields, timeout=10, follow_redirects=False)
    assert answer.status_code in (302, 303), answer.text
    return query_of(answer.headers["location"])


def connect_store(
    settings: Settings, sim: Sim, engine: Engine, decision: str = "approve"
) -> ConnectionStatus:
    start = start_connect(settings, engine=engine)
    back = authorize(sim.url, start.url, decision)
    return finish_with(settings, back, engine)


def finish_with(settings: Settings, back: dict[str, str], engine: Engine) -> ConnectionStatus:
    return finish_connect(
        settings,
        state=back.get("state", ""),
        code=back.get("code", ""),
        error=back.get("error", ""),
        domain_prefix=back.get("domain_prefix", ""),
        engine=engine,
    )


def oauth_figures(sim_url: str) -> dict[str, Any]:
    response = httpx.get(f"{sim_url}/_sim/oauth/state", timeout=10)
    response.raise_for_status()
    figures: dict[str, Any] = response.json()
    return figures


def sim_post(sim_url: str, path: str, body: Any = None) -> Any:
    response = httpx.post(f"{sim_url}{path}", json=body or {}, timeout=10)
    response.raise_for_status()
    return response.json()
