"""The simulator as an OAuth 2.0 authorization server, over real HTTP (reference §1
Auth, §8 Signature, §9, §10): the authorize page and its redirects, the form-encoded
token endpoint, code reuse, refresh rotation (strict and with grace), expiry by the
simulator's clock, scope checks per route, revoking the connection, the per-app rate
bucket, and webhooks of an OAuth subscription signed with the client secret while the
personal token keeps working as before.

Time never passes by itself here: the simulator's clock is frozen at ``T0`` and moved
through ``POST /_sim/clock``, so nothing waits and nothing is timed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from greenloop.lightspeed.webhook_signature import verify_signature
from greenloop.simulator import cli
from greenloop.simulator.routes_oauth import TOKEN_RATE_LIMIT
from greenloop.simulator.server import start_in_thread
from tests.integration.test_simulator_api import (
    API,
    T0,
    TOKEN,
    Harness,
    SwappableApp,
    build_harness,
)

CLIENT_ID = "greenloop-test-app"
CLIENT_SECRET = "sim-oauth-secret-7d1e"
REDIRECT = "https://greenloop.example/oauth/callback"
TOKEN_URL = "/api/1.0/token"
TOKEN_FIELDS = {
    "access_token",
    "token_type",
    "expires",
    "expires_in",
    "refresh_token",
    "domain_prefix",
    "scope",
}
EVERY_SCOPE_WE_USE = "sales:read customers:read customers:write webhooks"


# -- harness -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, SwappableApp]]:
    swap = SwappableApp()
    with start_in_thread(swap) as running:
        yield running.url, swap


@dataclass
class OAuthSim:
    h: Harness
    bare: httpx.Client  # no Authorization header

    @property
    def url(self) -> str:
        return self.h.url

    def authorize(
        self,
        scope: str | None = EVERY_SCOPE_WE_USE,
        *,
        decision: str = "approve",
        state: str = "st-42",
        redirect_uri: str = REDIRECT,
        client_id: str = CLIENT_ID,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "decision": decision,
        }
        if scope is not None:
            body["scope"] = scope
        return self.bare.post("/_sim/oauth/authorize", json=body)

    def code(self, scope: str = EVERY_SCOPE_WE_USE) -> str:
        response = self.authorize(scope)
        assert response.status_code == 200, response.text
        return query_of(response.json()["location"])["code"]

    def token(self, **form: str) -> httpx.Response:
        return self.bare.post(TOKEN_URL, data=form)

    def exchange(self, code: str, **overrides: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            **overrides,
        }
        return self.token(**form)

    def refresh(self, refresh_token: str, **overrides: str) -> httpx.Response:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **overrides,
        }
        return self.token(**form)

    def connect(self, scope: str = EVERY_SCOPE_WE_USE) -> dict[str, Any]:
        response = self.exchange(self.code(scope))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def api(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return self.bare.request(method, API + path, headers=headers, **kwargs)

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.bare.request(method, f"/_sim/{path}", json=body)

    def figures(self) -> dict[str, Any]:
        return dict(self.control("GET", "oauth/state").json())

    def advance(self, seconds: float) -> None:
        assert self.control("POST", "clock", {"advance_seconds": seconds}).status_code == 200


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def make_oauth(server: tuple[str, SwappableApp]) -> Iterator[Any]:
    url, swap = server
    clients: list[httpx.Client] = []

    def make(**config: Any) -> OAuthSim:
        settings: dict[str, Any] = {
            "oauth_client_id": CLIENT_ID,
            "oauth_client_secret": CLIENT_SECRET,
            **config,
        }
        h = build_harness(url, swap, clients, **settings)
        bare = httpx.Client(base_url=url, timeout=10)
        clients.append(bare)
        return OAuthSim(h, bare)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sim(make_oauth: Any) -> OAuthSim:
    result: OAuthSim = make_oauth()
    return result


def assert_invalid_grant(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert body["error_description"]


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "Access token is not valid"}


# -- the authorize page ------------------------------------------------------------


def _connect_params(**overrides: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "st-page",
        "scope": "sales:read customers:write",
        **overrides,
    }


def _hidden_inputs(page: str) -> dict[str, str]:
    pairs = re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page)
    return {name: value.replace("&amp;", "&") for name, value in pairs}


def test_the_authorize_page_names_the_store_and_the_scopes_in_words(sim: OAuthSim) -> None:
    page = sim.bare.get("/connect", params=_connect_params())
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Green Corner" in page.text
    assert "See your sales" in page.text
    assert "move customers between groups" in page.text
    assert 'value="approve"' in page.text
    assert 'value="deny"' in page.text
    assert _hidden_inputs(page.text) == _connect_params()


def test_approving_the_page_form_redirects_with_code_domain_prefix_and_state(
    sim: OAuthSim,
) -> None:
    page = sim.bare.get("/connect", params=_connect_params())
    form = {**_hidden_inputs(page.text), "decision": "approve"}
    answer = sim.bare.post("/connect", data=form)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = query_of(location)
    assert set(query) == {"code", "domain_prefix", "state"}
    assert query["domain_prefix"] == "greencorner"
    assert query["state"] == "st-page"
    assert len(query["code"]) >= 20
    tokens = sim.exchange(query["code"]).json()
    assert tokens["scope"] == "sales:read customers:write"


def test_the_page_escapes_what_it_is_given_and_hands_it_back_unchanged(sim: OAuthSim) -> None:
    state = 'a"><script>x</script>&b=1'
    page = sim.bare.get("/connect", params=_connect_params(state=state))
    assert "<script>" not in page.text
    form = {**_connect_params(state=state), "decision": "approve"}
    answer = sim.bare.post("/connect", data=form)
    assert query_of(answer.headers["location"])["state"] == state


def test_denying_redirects_with_access_denied_and_the_state(sim: OAuthSim) -> None:
    form = {**_connect_params(), "decision": "deny"}
    answer = sim.bare.post("/connect", data=form)
    assert answer.status_code == 302
    assert query_of(answer.headers["location"]) == {"error": "access_denied", "state": "st-page"}
    by_control = sim.authorize(decision="deny", state="st-2").json()["location"]
    assert query_of(by_control) == {"error": "access_denied", "state": "st-2"}
    assert sim.figures()["codes_issued"] == 0


def test_a_redirect_uri_keeps_its_own_query(sim: OAuthSim) -> None:
    location = sim.authorize(redirect_uri=REDIRECT + "?tenant=7").json()["location"]
    query = query_of(location)
    assert query["tenant"] == "7"
    assert "code" in query


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "someone-else"},
        {"client_id": ""},
        {"redirect_uri": ""},
        {"redirect_uri": "ftp://greenloop.example/cb"},
        {"redirect_uri": "https://greenloop.example/cb#frag"},
    ],
    ids=["unknown-client", "no-client", "no-redirect", "not-http", "fragment"],
)
def test_an_unknown_client_or_a_bad_redirect_uri_is_a_400_page_and_no_redirect(
    sim: OAuthSim, overrides: dict[str, str]
) -> None:
    page = sim.bare.get("/connect", params=_connect_params(**overrides))
    assert page.status_code == 400
    assert "location" not in page.headers
    assert page.headers["content-type"].startswith("text/html")
    posted = sim.bare.post("/connect", data={**_connect_params(**overrides), "decision": "approve"})
    assert posted.status_code == 400
    assert "location" not in posted.headers
    by_control = sim.authorize(
        client_id=overrides.get("client_id", CLIENT_ID),
        redirect_uri=overrides.get("redirect_uri", REDIRECT),
    )
    assert by_control.status_code == 400
    assert sim.figures()["codes_issued"] == 0


def test_only_registered_redirect_uris_are_allowed_when_some_are_registered(
    make_oauth: Any,
) -> None:
    sim: OAuthSim = make_oauth(oauth_redirect_uris=(REDIRECT,))
    assert sim.authorize().status_code == 200
    other = sim.bare.get(
        "/connect", params=_connect_params(redirect_uri="https://greenloop.example/other")
    )
    assert other.status_code == 400
    assert "location" not in other.headers


@pytest.mark.parametrize("scope", [None, "", "   ", "sales:read bogus:scope", "sales"], ids=str)
def test_a_missing_or_unknown_scope_redirects_with_invalid_scope(
    sim: OAuthSim, scope: str | None
) -> None:
    params = _connect_params()
    if scope is None:
        del params["scope"]
    else:
        params["scope"] = scope
    page = sim.bare.get("/connect", params=params)
    assert page.status_code == 302
    assert query_of(page.headers["location"]) == {"error": "invalid_scope", "state": "st-page"}
    answer = sim.authorize(scope)
    assert query_of(answer.json()["location"])["error"] == "invalid_scope"


def test_a_response_type_other_than_code_is_unsupported(sim: OAuthSim) -> None:
    page = sim.bare.get("/connect", params=_connect_params(response_type="token"))
    assert page.status_code == 302
    assert query_of(page.headers["location"])["error"] == "unsupported_response_type"


def test_oauth_is_off_unless_a_client_is_configured(server: tuple[str, SwappableApp]) -> None:
    url, swap = server
    clients: list[httpx.Client] = []
    build_harness(url, swap, clients)
    try:
        page = httpx.get(f"{url}/connect", params=_connect_params())
        assert page.status_code == 400
        token = httpx.post(
            f"{url}{TOKEN_URL}",
            data={"grant_type": "authorization_code", "code": "x", "client_id": ""},
        )
        assert token.status_code == 401
        assert token.json()["error"] == "invalid_client"
        state = httpx.get(f"{url}/_sim/oauth/state").json()
        assert state["enabled"] is False
    finally:
        for client in clients:
            client.close()


# -- the token endpoint --------------------------------------------------------------


def test_the_code_exchange_answers_the_documented_fields(sim: OAuthSim) -> None:
    response = sim.exchange(sim.code("sales:read customers:read"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == TOKEN_FIELDS
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86_400
    assert body["expires"] == int(T0) + 86_400
    assert body["domain_prefix"] == "greencorner"
    assert body["scope"] == "sales:read customers:read"
    assert body["access_token"] != body["refresh_token"]
    assert response.headers["cache-control"] == "no-store"
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert int(response.headers[name]) >= 0
    assert sim.api(body["access_token"], "GET", "/sales").status_code == 200


def test_a_code_works_once_and_presenting_it_again_revokes_its_tokens(sim: OAuthSim) -> None:
    code = sim.code()
    first = sim.exchange(code).json()
    assert sim.api(first["access_token"], "GET", "/customers").status_code == 200
    assert_invalid_grant(sim.exchange(code))
    assert_refused(sim.api(first["access_token"], "GET", "/customers"))
    assert_invalid_grant(sim.refresh(first["refresh_token"]))
    assert sim.figures()["codes_replayed"] == 1


def test_a_code_expires_after_ten_minutes(sim: OAuthSim) -> None:
    late, in_time = sim.code(), sim.code()
    sim.advance(599)
    assert sim.exchange(in_time).status_code == 200
    sim.advance(1)
    assert_invalid_grant(sim.exchange(late))


def test_the_redirect_uri_must_be_the_authorized_one(sim: OAuthSim) -> None:
    code = sim.code()
    assert_invalid_grant(sim.exchange(code, redirect_uri="https://greenloop.example/other"))
    missing = sim.token(
        grant_type="authorization_code",
        code=code,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert_invalid_grant(missing)
    # A refused exchange does not spend the code.
    assert sim.exchange(code).status_code == 200


def test_an_unknown_code_is_an_invalid_grant(sim: OAuthSim) -> None:
    assert_invalid_grant(sim.exchange("not-a-code"))


@pytest.mark.parametrize(
    "client",
    [
        {"client_secret": "wrong"},
        {"client_id": "someone-else"},
        {"client_secret": ""},
    ],
    ids=["wrong-secret", "wrong-id", "no-secret"],
)
def test_a_wrong_client_is_a_401_invalid_client(sim: OAuthSim, client: dict[str, str]) -> None:
    code = sim.code()
    response = sim.exchange(code, **client)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    tokens = sim.connect()
    refreshed = sim.refresh(tokens["refresh_token"], **client)
    assert refreshed.status_code == 401
    assert CLIENT_SECRET not in response.text + refreshed.text
    # Neither was spent by the refusals.
    assert sim.exchange(code).status_code == 200
    assert sim.refresh(tokens["refresh_token"]).status_code == 200


def test_an_unknown_grant_type_is_unsupported(sim: OAuthSim) -> None:
    response = sim.token(
        grant_type="client_credentials", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_the_token_endpoint_takes_form_bodies_only(sim: OAuthSim) -> None:
    code = sim.code()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT,
    }
    as_json = sim.bare.post(TOKEN_URL, json=form)
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"
    assert sim.figures()["access_tokens_issued"] == 0
    assert sim.bare.post(TOKEN_URL, data=form).status_code == 200


def test_the_token_endpoint_has_its_own_rate_limit_outside_the_api_budget(
    sim: OAuthSim,
) -> None:
    before = int(sim.h.get("/retailer").headers["X-RateLimit-Remaining"])
    first = sim.token(grant_type="refresh_token", refresh_token="x", client_id=CLIENT_ID)
    assert int(first.headers["X-RateLimit-Limit"]) == TOKEN_RATE_LIMIT
    assert int(first.headers["X-RateLimit-Remaining"]) == TOKEN_RATE_LIMIT - 1
    assert int(first.headers["X-RateLimit-Reset"]) > T0
    for _ in range(TOKEN_RATE_LIMIT - 1):
        sim.token(grant_type="refresh_token", refresh_token="x", client_id=CLIENT_ID)
    over = sim.token(grant_type="refresh_token", refresh_token="x", client_id=CLIENT_ID)
    assert over.status_code == 429
    assert over.json() == {"error": "Too Many Requests", "message": "Rate limiting enforced"}
    assert over.headers["Retry-After"].endswith("GMT")
    after = int(sim.h.get("/retailer").headers["X-RateLimit-Remaining"])
    assert after == before - 1  # only the API call between spent the API budget


# -- refresh rotation ----------------------------------------------------------------


def test_refresh_rotates_and_the_old_refresh_token_is_refused_at_once(sim: OAuthSim) -> None:
    first = sim.connect("sales:read customers:read")
    sim.advance(3600)
    second = sim.refresh(first["refresh_token"]).json()
    assert set(second) == TOKEN_FIELDS
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == "sales:read customers:read"
    assert second["expires"] == int(T0) + 3600 + 86_400
    assert_invalid_grant(sim.refresh(first["refresh_token"]))
    assert sim.api(second["access_token"], "GET", "/sales").status_code == 200
    third = sim.refresh(second["refresh_token"])
    assert third.status_code == 200
    figures = sim.figures()
    assert figures["refresh_grants"] == 2
    assert figures["refresh_tokens_issued"] == 3
    assert figures["refresh_tokens_revoked"] == 2


def test_concurrent_refreshes_with_one_token_rotate_it_once(sim: OAuthSim) -> None:
    tokens = sim.connect()
    start = threading.Barrier(8)
    statuses: list[int] = []
    lock = threading.Lock()

    def race() -> None:
        with httpx.Client(base_url=sim.url, timeout=10) as client:
            start.wait()
            form = {
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            }
            status = client.post(TOKEN_URL, data=form).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [400] * 7
    assert sim.figures()["refresh_grants"] == 1


@pytest.mark.parametrize("first_use", ["access", "refresh"])
def test_with_grace_the_old_refresh_token_works_until_the_new_pair_is_used(
    make_oauth: Any, first_use: str
) -> None:
    sim: OAuthSim = make_oauth(oauth_refresh_grace=True)
    first = sim.connect()
    lost = sim.refresh(first["refresh_token"]).json()  # a response the client never stored
    retried = sim.refresh(first["refresh_token"])
    assert retried.status_code == 200, retried.text
    kept = retried.json()
    if first_use == "access":
        assert sim.api(kept["access_token"], "GET", "/customers").status_code == 200
    else:
        assert sim.refresh(kept["refresh_token"]).status_code == 200
    assert_invalid_grant(sim.refresh(first["refresh_token"]))
    # The pair the client lost was never used; it does not bring the old token back.
    assert lost["refresh_token"] != kept["refresh_token"]


def test_grace_and_lifetimes_can_be_changed_at_run_time(sim: OAuthSim) -> None:
    changed = sim.control(
        "POST", "oauth/settings", {"refresh_grace": True, "access_token_seconds": 60}
    )
    assert changed.status_code == 200
    shown = changed.json()["data"]
    assert shown["refresh_grace"] is True
    assert shown["access_token_seconds"] == 60
    assert shown["client_secret"] == "***"
    first = sim.connect()
    assert first["expires_in"] == 60
    assert sim.refresh(first["refresh_token"]).status_code == 200
    assert sim.refresh(first["refresh_token"]).status_code == 200  # grace
    for bad in ({"access_token_seconds": 0}, {"refresh_grace": "yes"}, {"client_secret": "x"}):
        assert sim.control("POST", "oauth/settings", bad).status_code == 400


def test_a_refresh_token_expires(make_oauth: Any) -> None:
    sim: OAuthSim = make_oauth(refresh_token_seconds=1000)
    tokens = sim.connect()
    sim.advance(1000)
    assert_invalid_grant(sim.refresh(tokens["refresh_token"]))


# -- API access with access tokens ------------------------------------------------------


def test_an_access_token_works_until_it_expires_then_refresh_gives_a_working_one(
    make_oauth: Any,
) -> None:
    sim: OAuthSim = make_oauth(access_token_seconds=300)
    tokens = sim.connect()
    assert tokens["expires_in"] == 300
    sim.advance(299)
    assert sim.api(tokens["access_token"], "GET", "/customers").status_code == 200
    sim.advance(1)
    assert_refused(sim.api(tokens["access_token"], "GET", "/customers"))
    fresh = sim.refresh(tokens["refresh_token"]).json()
    assert sim.api(fresh["access_token"], "GET", "/customers").status_code == 200


def test_expire_access_ends_every_live_access_token_now(sim: OAuthSim) -> None:
    one, two = sim.connect(), sim.connect()
    answer = sim.control("POST", "oauth/expire_access")
    assert answer.json() == {"expired_access_tokens": 2}
    for tokens in (one, two):
        assert_refused(sim.api(tokens["access_token"], "GET", "/sales"))
    assert sim.figures()["live_access_tokens"] == 0
    fresh = sim.refresh(one["refresh_token"]).json()
    assert sim.api(fresh["access_token"], "GET", "/sales").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "scope"),
    [
        ("GET", "/customers", None, "customers:read"),
        ("GET", "/customer_groups", None, "customers:read"),
        ("GET", "/customer_groups/g-vip/customers", None, "customers:read"),
        ("GET", "/search?type=customers", None, "customers:read"),
        ("POST", "/customers", {"first_name": "A", "last_name": "B"}, "customers:write"),
        ("PUT", "/customer_groups/g-vip", {"name": "V"}, "customers:write"),
        ("DELETE", "/customers/c-jane", None, "customers:write"),
        (
            "POST",
            "/customer_groups/g-vip/customers",
            {"customer_ids": ["c-jane"]},
            "customers:write",
        ),
        ("GET", "/registers", None, "registers:read"),
        ("GET", "/outlets", None, "outlets:read"),
        ("GET", "/retailer", None, "retailer:read"),
        ("GET", "/users", None, "users:read"),
        ("GET", "/products", None, "products:read"),
        ("GET", "/webhooks", None, "webhooks"),
        (
            "POST",
            "/webhooks",
            {"url": "https://h.example/x", "active": True, "type": "sale.update"},
            "webhooks",
        ),
    ],
)
def test_a_token_without_the_scope_gets_a_403_naming_it(
    sim: OAuthSim, method: str, path: str, body: Any, scope: str
) -> None:
    tokens = sim.connect("sales:read")
    before = sim.h.state.version
    response = sim.api(tokens["access_token"], method, path, json=body)
    assert response.status_code == 403, response.text
    assert response.json() == {"error": "permission denied", "message": f"missing scope: {scope}"}
    assert sim.h.state.version == before  # nothing was changed


def test_sales_read_reads_sales_and_searches_them(sim: OAuthSim) -> None:
    token = sim.connect("sales:read")["access_token"]
    assert sim.api(token, "GET", "/sales").status_code == 200
    assert sim.api(token, "GET", "/sales/s-1").status_code == 200
    assert sim.api(token, "GET", "/search?type=sales").status_code == 200


def test_the_0_9_webhook_routes_need_the_webhooks_scope(sim: OAuthSim) -> None:
    token = sim.connect("sales:read")["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    listed = sim.bare.get("/api/webhooks", headers=headers)
    assert listed.status_code == 403
    assert listed.json()["message"] == "missing scope: webhooks"


def test_a_write_scope_writes(sim: OAuthSim) -> None:
    token = sim.connect()["access_token"]
    created = sim.api(token, "POST", "/customers", json={"first_name": "Oa", "last_name": "Uth"})
    assert created.status_code == 201
    moved = sim.api(
        token, "POST", "/customer_groups/g-vip/customers", json={"customer_ids": ["c-jane"]}
    )
    assert moved.status_code == 201


def test_revoking_the_connection_refuses_every_token_and_code(sim: OAuthSim) -> None:
    tokens = sim.connect()
    pending = sim.code()
    assert sim.control("POST", "oauth/revoke").status_code == 200
    assert_refused(sim.api(tokens["access_token"], "GET", "/customers"))
    assert_invalid_grant(sim.refresh(tokens["refresh_token"]))
    assert_invalid_grant(sim.exchange(pending))
    assert sim.h.get("/customers").status_code == 200  # the personal token is not touched
    figures = sim.figures()
    assert figures["live_access_tokens"] == 0
    assert figures["refresh_tokens_revoked"] == figures["refresh_tokens_issued"] == 1
    # The retailer can install the add-on again.
    again = sim.connect()
    assert sim.api(again["access_token"], "GET", "/customers").status_code == 200


def test_the_state_route_shows_counts_and_never_a_token_or_secret(sim: OAuthSim) -> None:
    tokens = sim.connect()
    sim.refresh(tokens["refresh_token"])
    text = sim.control("GET", "oauth/state").text
    figures = json.loads(text)
    assert figures["live_access_tokens"] == 2
    assert figures["refresh_tokens_issued"] == 2
    assert figures["refresh_tokens_revoked"] == 1
    assert figures["refresh_grants"] == 1
    for secret in (tokens["access_token"], tokens["refresh_token"], CLIENT_SECRET):
        assert secret not in text


# -- the personal token beside OAuth, and rate buckets ---------------------------------


def test_the_personal_token_keeps_every_scope_and_its_own_rate_bucket(sim: OAuthSim) -> None:
    tokens, other = sim.connect(), sim.connect()
    personal = int(sim.h.get("/retailer").headers["X-RateLimit-Remaining"])
    app_first = sim.api(tokens["access_token"], "GET", "/customers")
    app_second = sim.api(other["access_token"], "GET", "/customers")
    app_left = [int(r.headers["X-RateLimit-Remaining"]) for r in (app_first, app_second)]
    # Both connections of the one app share its bucket; the personal token's is apart.
    assert app_left[1] == app_left[0] - 1
    assert sim.figures()["rate_limit"]["remaining"] == app_left[1]
    assert int(sim.h.get("/retailer").headers["X-RateLimit-Remaining"]) == personal - 1
    created = sim.h.api("POST", "/customers", json={"first_name": "P", "last_name": "T"})
    assert created.status_code == 201
    assert sim.h.get("/webhooks").status_code == 200
    assert sim.h.get("/search", type="customers").status_code == 200


def test_a_rotated_personal_token_is_refused_and_oauth_is_not(sim: OAuthSim) -> None:
    tokens = sim.connect()
    assert sim.control("PUT", "token", {"token": "lsxs_pt_new"}).status_code == 204
    assert_refused(sim.api(TOKEN, "GET", "/customers"))
    assert sim.api("lsxs_pt_new", "GET", "/customers").status_code == 200
    assert sim.api(tokens["access_token"], "GET", "/customers").status_code == 200


# -- webhooks of an OAuth subscription are signed ----------------------------------------


@dataclass
class Recorder:
    url: str = ""
    received: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.received.append((request.url.path, body, dict(request.headers)))
        return Response(status_code=200)

    def by_path(self) -> dict[str, list[tuple[bytes, dict[str, str]]]]:
        out: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
        with self.lock:
            for path, body, headers in self.received:
                out.setdefault(path, []).append((body, headers))
        return out


@contextmanager
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    app = Starlette(routes=[Route("/{name}", rec.handle, methods=["POST"])])
    with start_in_thread(app) as running:
        rec.url = running.url
        yield rec


def _hex_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"signature={digest},algorithm=HMAC-SHA256"


def test_an_oauth_subscription_is_signed_with_the_client_secret_and_a_personal_one_is_not(
    sim: OAuthSim,
) -> None:
    token = sim.connect()["access_token"]
    with recorder() as rec:
        hook = {"url": f"{rec.url}/oauth2", "active": True, "type": "customer.update"}
        assert sim.api(token, "POST", "/webhooks", json=hook).status_code == 201
        legacy = json.dumps({**hook, "url": f"{rec.url}/oauth09"})
        created = sim.bare.post(
            "/api/webhooks", data={"data": legacy}, headers={"Authorization": f"Bearer {token}"}
        )
        assert created.status_code == 200
        personal = {**hook, "url": f"{rec.url}/personal"}
        assert sim.h.api("POST", "/webhooks", json=personal).status_code == 201
        moved = sim.h.api(
            "POST", "/customer_groups/g-vip/customers", json={"customer_ids": ["c-jane"]}
        )
        assert moved.status_code == 201
        flushed = sim.control("POST", "webhooks/flush").json()
        assert [a["status"] for a in flushed["data"]] == [200, 200, 200]
        got = rec.by_path()
    assert set(got) == {"/oauth2", "/oauth09", "/personal"}
    for path in ("/oauth2", "/oauth09"):
        [(body, headers)] = got[path]
        assert headers["x-signature"] == _hex_signature(CLIENT_SECRET, body)
        assert verify_signature(CLIENT_SECRET, body, headers["x-signature"]) == "body:hex"
        assert json.loads(parse_qs(body.decode())["payload"][0])["id"] == "c-jane"
    [(_, personal_headers)] = got["/personal"]
    assert "x-signature" not in personal_headers


def test_the_secret_knob_still_signs_personal_subscriptions(make_oauth: Any) -> None:
    sim: OAuthSim = make_oauth()
    assert sim.control("PUT", "webhooks", {"secret": "knob-secret"}).status_code == 200
    token = sim.connect()["access_token"]
    with recorder() as rec:
        hook = {"active": True, "type": "customer.update"}
        sim.api(token, "POST", "/webhooks", json={**hook, "url": f"{rec.url}/app"})
        sim.h.api("POST", "/webhooks", json={**hook, "url": f"{rec.url}/personal"})
        sim.h.api("POST", "/customer_groups/g-vip/customers", json={"customer_ids": ["c-jane"]})
        sim.control("POST", "webhooks/flush")
        got = rec.by_path()
    [(app_body, app_headers)] = got["/app"]
    [(own_body, own_headers)] = got["/personal"]
    assert app_headers["x-signature"] == _hex_signature(CLIENT_SECRET, app_body)
    assert own_headers["x-signature"] == _hex_signature("knob-secret", own_body)


def test_a_deleted_oauth_subscription_is_forgotten(sim: OAuthSim) -> None:
    token = sim.connect()["access_token"]
    hook = {"url": "https://h.example/a", "active": True, "type": "sale.update"}
    created = sim.api(token, "POST", "/webhooks", json=hook).json()["data"]
    assert sim.figures()["oauth_webhooks"] == 1
    assert sim.api(token, "DELETE", f"/webhooks/{created['id']}").status_code == 200
    assert sim.figures()["oauth_webhooks"] == 0


# -- the serve flags -------------------------------------------------------------------


def test_serve_takes_the_oauth_flags_and_refuses_half_a_client() -> None:
    help_text = CliRunner().invoke(cli.app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    for flag in (
        "--oauth-client-id",
        "--oauth-client-secret",
        "--oauth-redirect-uri",
        "--access-token-seconds",
        "--refresh-token-seconds",
        "--oauth-refresh-grace",
    ):
        assert flag in help_text
    half = CliRunner().invoke(
        cli.app, ["serve", "--customers", "5", "--days", "5", "--oauth-client-id", "app"]
    )
    assert half.exit_code == 2
    assert "go together" in half.output
