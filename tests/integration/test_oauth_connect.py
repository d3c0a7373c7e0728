"""GreenLoop as a Lightspeed add-on against the simulator's OAuth server, over real HTTP,
on SQLite and PostgreSQL: connect (approve, deny, a state used twice), the status that
shows no token, sync and push on the connection, an access token expiring in the middle
of a sync, the refresh token's rotation, revocation, a missing scope, and the personal
token still working beside it."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from greenloop.errors import AuthFailed, ConnectionLost, MissingScope
from greenloop.lightspeed.oauth import refresh_tokens
from greenloop.services import ingest
from greenloop.services.connect import connection_status, start_connect
from greenloop.services.tokens import REFRESH_REFUSED, lightspeed_client
from greenloop.store import oauth_repo
from greenloop.web.dashboard import dashboard_routes, hash_password
from tests.integration.test_oauth_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    authorize,
    authorize_by_page,
    connect_store,
    finish_with,
    oauth_figures,
    oauth_settings,
    oauth_simulator,
    sim_post,
)
from tests.simulation import TOKEN, Sim


@pytest.fixture
def sim() -> Iterator[Sim]:
    with oauth_simulator() as running:
        yield running


def stored(engine: Engine) -> oauth_repo.StoredConnection:
    with engine.connect() as conn:
        row = oauth_repo.read_connection(conn)
    assert row is not None
    return row


def test_connect_on_the_authorize_page_then_sync_on_the_connection(
    sim: Sim, engine: Engine, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = oauth_settings(sim.url, db_url)
    start = start_connect(settings, engine=engine)
    assert "scope=" in start.url
    assert "sales%3Awrite" not in start.url
    status = finish_with(settings, authorize_by_page(start.url), engine)

    assert status.state == "connected"
    assert status.mode == "oauth"
    assert set(status.scopes) == set(settings.lightspeed.scopes)
    row = stored(engine)
    shown = json.dumps(status.as_json()) + status.as_text()
    assert row.access_token not in shown
    assert row.refresh_token not in shown

    result = ingest.run_sync(settings)
    assert result.resources["customers"].new > 0
    assert result.resources["sales"].new > 0
    # Every API request went out with the connection's token, none with a personal one.
    assert oauth_figures(sim.url)["codes_redeemed"] == 1
    logged = caplog.text
    assert row.access_token not in logged
    assert row.refresh_token not in logged
    assert CLIENT_SECRET not in logged


def test_denied_connect_stores_nothing_and_says_so(sim: Sim, engine: Engine, db_url: str) -> None:
    settings = oauth_settings(sim.url, db_url)
    with pytest.raises(AuthFailed, match="denied access; nothing was stored"):
        connect_store(settings, sim, engine, decision="deny")
    assert connection_status(settings, engine=engine).state == "not_connected"


def test_a_state_is_single_use(sim: Sim, engine: Engine, db_url: str) -> None:
    settings = oauth_settings(sim.url, db_url)
    start = start_connect(settings, engine=engine)
    back = authorize(sim.url, start.url)
    finish_with(settings, back, engine)
    with pytest.raises(AuthFailed, match="unknown, expired or already used"):
        finish_with(settings, back, engine)
    forged = {**back, "state": "not-a-state-we-made"}
    with pytest.raises(AuthFailed, match="unknown, expired or already used"):
        finish_with(settings, forged, engine)


def test_a_state_lives_ten_minutes(sim: Sim, engine: Engine, db_url: str) -> None:
    settings = oauth_settings(sim.url, db_url)
    eleven_minutes_ago = datetime.now(UTC) - timedelta(minutes=11)
    start = start_connect(settings, engine=engine, now=eleven_minutes_ago)
    back = authorize(sim.url, start.url)
    with pytest.raises(AuthFailed, match="unknown, expired or already used"):
        finish_with(settings, back, engine)
    assert connection_status(settings, engine=engine).state == "not_connected"


class ExpireAfter(httpx.BaseTransport):
    """A real HTTP transport that, after ``n`` API requests, asks the simulator to
    expire every access token (the expiry lands between two pages of a sync)."""

    def __init__(self, sim_url: str, n: int, then: Callable[[], Any] | None = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.sim_url = sim_url
        self.left = n
        self.then = then

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/2.0/"):
            self.left -= 1
            if self.left == 0:
                (self.then or (lambda: sim_post(self.sim_url, "/_sim/oauth/expire_access")))()
        return self.inner.handle_request(request)


def test_access_token_expiring_mid_sync_is_refreshed_and_the_sync_finishes(
    sim: Sim, engine: Engine, db_url: str
) -> None:
    settings = oauth_settings(sim.url, db_url)
    settings = settings.model_copy(
        update={"sync": settings.sync.model_copy(update={"page_size": 25})}
    )
    connect_store(settings, sim, engine)
    before = stored(engine)

    def factory(s: Any) -> Any:
        return lightspeed_client(s, engine=engine, transport=ExpireAfter(sim.url, 8))

    result = ingest.run_sync(settings, client_factory=factory)
    assert result.resources["sales"].new > 0
    assert result.resources["sales"].pages > 2
    after = stored(engine)
    assert after.refreshes == 1
    assert after.refresh_started_at is None
    assert after.refresh_token != before.refresh_token
    assert oauth_figures(sim.url)["refresh_grants"] == 1

    # Rotation: the old refresh token is refused now the new one is issued.
    with httpx.Client() as http, pytest.raises(AuthFailed, match="invalid_grant"):
        refresh_tokens(
            http,
            sim.url,
            refresh_token=before.refresh_token,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        )


def test_revoked_connection_stops_with_one_line(sim: Sim, engine: Engine, db_url: str) -> None:
    settings = oauth_settings(sim.url, db_url)
    connect_store(settings, sim, engine)
    sim_post(sim.url, "/_sim/oauth/revoke")
    with pytest.raises(ConnectionLost) as caught:
        ingest.run_sync(settings)
    assert caught.value.one_line() == REFRESH_REFUSED
    assert caught.value.exit_code == AuthFailed.exit_code
    status = connection_status(settings, engine=engine)
    assert status.state == "needs_reconnect"
    assert status.problem == REFRESH_REFUSED
    # The next command says the same without asking Lightspeed again.
    refused = oauth_figures(sim.url)["refused_grants"]
    with pytest.raises(ConnectionLost, match="refresh token refused"):
        ingest.run_sync(settings)
    assert oauth_figures(sim.url)["refused_grants"] == refused


def test_missing_scope_names_it_and_the_fix(sim: Sim, engine: Engine, db_url: str) -> None:
    scopes = ["retailer:read", "outlets:read", "registers:read", "customers:read", "sales:read"]
    settings = oauth_settings(sim.url, db_url, scopes=scopes)
    connect_store(settings, sim, engine)
    with pytest.raises(MissingScope) as caught:
        ingest.run_sync(settings)
    assert caught.value.scope == "users:read"
    line = caught.value.one_line()
    assert "lacks the scope users:read" in line
    assert "`greenloop connect`" in line


def test_personal_token_still_works_beside_an_unconnected_add_on(
    sim: Sim, engine: Engine, db_url: str
) -> None:
    settings = oauth_settings(sim.url, db_url, token=TOKEN)
    assert connection_status(settings, engine=engine).mode == "personal_token"
    assert ingest.run_sync(settings).resources["customers"].new > 0


def test_sync_health_shows_the_connection_state_and_no_token(
    sim: Sim, engine: Engine, db_url: str
) -> None:
    password = "a long admin passphrase"
    dashboard = {
        "admin_password_hash": hash_password(password),
        "api_token": "dash-api-token-0123456789abcdef",
        "session_secret": "dash-session-secret-0123456789",
    }
    settings = oauth_settings(sim.url, db_url, {"dashboard": dashboard})
    connect_store(settings, sim, engine)
    sim_post(sim.url, "/_sim/oauth/revoke")
    with pytest.raises(ConnectionLost):
        ingest.run_sync(settings)
    row = stored(engine)
    app = Starlette(routes=dashboard_routes(settings, engine))
    api = TestClient(app, headers={"Authorization": f"Bearer {dashboard['api_token']}"})
    shown = api.get("/api/sync-health").json()["lightspeed_connection"]
    assert shown["state"] == "needs_reconnect"
    assert shown["problem"] == REFRESH_REFUSED
    page_client = TestClient(app)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page_client.get("/login").text)
    assert csrf
    page_client.post(
        "/login",
        data={"password": password, "csrf_token": csrf.group(1), "next": "/"},
        follow_redirects=False,
    )
    page = page_client.get("/sync").text
    assert "Lightspeed connection" in page
    assert "needs reconnect" in page
    assert "greenloop connect" in page
    for text in (page, json.dumps(shown)):
        assert row.access_token not in text
        assert row.refresh_token not in text
