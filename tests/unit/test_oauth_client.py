"""The OAuth pieces without a database: the authorize URL, the token endpoint's answers
(through a fake endpoint on an httpx MockTransport), the client's one retry on a 401 with
a token source, a missing scope named, and the settings' redaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from greenloop.config import load_settings
from greenloop.errors import AuthFailed, ConfigError, ConnectionLost, MissingScope
from greenloop.lightspeed.client import LightspeedClient
from greenloop.lightspeed.oauth import InvalidGrant, authorize_url, exchange_code, refresh_tokens
from greenloop.lightspeed.responses import raise_for_status

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def test_authorize_url_carries_every_parameter_and_the_scopes() -> None:
    url = authorize_url(
        "https://secure.retail.lightspeed.app/connect",
        client_id="app",
        redirect_uri="https://gl.example/oauth/callback",
        state="s1",
        scopes=("sales:read", "customers:read"),
    )
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert q == {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": "https://gl.example/oauth/callback",
        "state": "s1",
        "scope": "sales:read customers:read",
    }


def token_endpoint(status: int, body: object) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_a_token_answer_is_read_with_its_lifetime_and_hides_its_tokens() -> None:
    body = {
        "access_token": "acc-123456",
        "token_type": "Bearer",
        "expires": 1,  # another clock's epoch: expires_in wins
        "expires_in": 3600,
        "refresh_token": "ref-123456",
        "domain_prefix": "shop",
        "scope": "sales:read webhooks",
    }
    with token_endpoint(200, body) as http:
        grant = exchange_code(
            http, "https://x", code="c", client_id="a", client_secret="b", redirect_uri="r", now=NOW
        )
    assert grant.expires_at == NOW + timedelta(hours=1)
    assert grant.lifetime_seconds == 3600
    assert grant.scopes == ("sales:read", "webhooks")
    assert "acc-123456" not in repr(grant)
    assert "ref-123456" not in repr(grant)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_grant", "error_description": "used"}, InvalidGrant),
        (401, {"error": "invalid_client"}, ConfigError),
        (400, {"error": "invalid_request"}, AuthFailed),
    ],
)
def test_token_endpoint_refusals(status: int, body: object, error: type[Exception]) -> None:
    with token_endpoint(status, body) as http, pytest.raises(error) as caught:
        refresh_tokens(http, "https://x", refresh_token="r", client_id="a", client_secret="sec")
    assert "sec" not in str(caught.value)


def test_missing_scope_is_named() -> None:
    body = json.dumps({"error": "permission denied", "message": "missing scope: customers:write"})
    with pytest.raises(MissingScope) as caught:
        raise_for_status(403, {}, body.encode(), "POST /x", NOW)
    assert caught.value.scope == "customers:write"
    assert "greenloop connect" in caught.value.one_line()


class Source:
    """A token source that hands out a new token once the API refuses one."""

    def __init__(self, tokens: list[str], *, lost_after: bool = False) -> None:
        self.tokens = tokens
        self.refusals: list[str] = []
        self.lost_after = lost_after

    def token(self) -> str:
        return self.tokens[0]

    def refused(self, token: str) -> str | None:
        self.refusals.append(token)
        if self.lost_after and len(self.refusals) > 1:
            raise ConnectionLost("gone")
        self.tokens.pop(0)
        return self.tokens[0] if self.tokens else None

    def close(self) -> None:
        pass


def api(accepted: set[str], seen: list[str]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        seen.append(token)
        if token in accepted:
            return httpx.Response(200, json={"data": {"ok": True}})
        return httpx.Response(401, json={"error": "Access token is not valid"})

    return httpx.Client(base_url="https://x", transport=httpx.MockTransport(handle))


def test_a_401_asks_the_source_once_and_the_request_is_sent_again() -> None:
    seen: list[str] = []
    source = Source(["old", "new"])
    client = LightspeedClient(api({"new"}, seen), token_source=source, sleep=lambda _: None)
    assert client.get_data("/api/2.0/retailer") == {"ok": True}
    assert seen == ["old", "new"]
    assert source.refusals == ["old"]


def test_the_fresh_token_refused_too_ends_with_the_sources_word() -> None:
    seen: list[str] = []
    source = Source(["old", "new"], lost_after=True)
    client = LightspeedClient(api(set(), seen), token_source=source, sleep=lambda _: None)
    with pytest.raises(ConnectionLost):
        client.get_data("/api/2.0/retailer")
    assert seen == ["old", "new"]


def test_a_refusal_on_the_add_on_says_reconnect_not_personal_token() -> None:
    def forbidden(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"error": "forbidden"})

    http = httpx.Client(base_url="https://x", transport=httpx.MockTransport(forbidden))
    client = LightspeedClient(http, token_source=Source(["t"]), sleep=lambda _: None)
    with pytest.raises(AuthFailed) as caught:
        client.get_data("/api/2.0/retailer")
    assert "greenloop connect" in caught.value.one_line()
    assert "personal token" not in caught.value.one_line().lower()
    # A 401 refused again after the one retry says the same.
    source = Source(["old", "new"])
    client = LightspeedClient(api(set(), []), token_source=source, sleep=lambda _: None)
    with pytest.raises(AuthFailed) as caught:
        client.get_data("/api/2.0/retailer")
    assert "greenloop connect" in caught.value.one_line()


def test_client_secret_is_redacted_and_scopes_read_from_the_environment() -> None:
    settings = load_settings(
        None,
        env={
            "GREENLOOP_LIGHTSPEED_CLIENT_ID": "app",
            "GREENLOOP_LIGHTSPEED_CLIENT_SECRET": "the-client-secret",
            "GREENLOOP_LIGHTSPEED__SCOPES": "sales:read customers:read",
        },
    )
    assert "the-client-secret" in settings.secrets()
    assert settings.lightspeed.scopes == ("sales:read", "customers:read")
    assert settings.lightspeed.oauth_configured()
    assert "sales:write" not in load_settings(None, env={}).lightspeed.scopes
