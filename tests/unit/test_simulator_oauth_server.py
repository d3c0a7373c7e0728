"""The simulator's OAuth rules without HTTP: rotation (strict and with grace), code
reuse, expiry by an injected clock, revocation, signing keys of subscriptions."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.oauth import (
    AuthorizePageError,
    AuthorizeRequest,
    OAuthError,
    OAuthServer,
    OAuthSettings,
    TokenSet,
)

CLIENT = {"client_id": "app", "client_secret": "s3cret"}
REDIRECT = "https://gl.example/cb"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def server(**settings: Any) -> tuple[OAuthServer, FakeClock]:
    clock = FakeClock()
    return OAuthServer(OAuthSettings(**CLIENT, **settings), clock=clock), clock


def request(scope: str = "sales:read") -> AuthorizeRequest:
    return AuthorizeRequest(client_id="app", redirect_uri=REDIRECT, state="s", scope=scope)


def connect(oauth: OAuthServer, scope: str = "sales:read") -> TokenSet:
    location = oauth.decide(request(scope), "approve", domain_prefix="shop")
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    return oauth.token({**CLIENT, **form})


def refresh(oauth: OAuthServer, tokens: TokenSet) -> TokenSet:
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    return oauth.token({**CLIENT, **form})


def refused(oauth: OAuthServer, tokens: TokenSet) -> str:
    with pytest.raises(OAuthError) as caught:
        refresh(oauth, tokens)
    return caught.value.error


def test_strict_rotation_refuses_the_old_refresh_token_at_once() -> None:
    oauth, _ = server()
    first = connect(oauth)
    second = refresh(oauth, first)
    assert refused(oauth, first) == "invalid_grant"
    assert refresh(oauth, second).scope == ("sales:read",)


def test_grace_ends_when_the_new_access_token_is_first_used() -> None:
    oauth, _ = server(refresh_grace=True)
    first = connect(oauth)
    second = refresh(oauth, first)
    third = refresh(oauth, first)  # still in grace: nothing new was used
    assert oauth.authenticate(third.access_token) is not None
    assert refused(oauth, first) == "invalid_grant"
    # The unused pair from the lost response still works on its own.
    assert oauth.authenticate(second.access_token) is not None


def test_an_old_access_token_lives_until_it_expires_after_a_rotation() -> None:
    oauth, clock = server(access_token_seconds=100)
    first = connect(oauth)
    refresh(oauth, first)
    assert oauth.authenticate(first.access_token) is not None
    clock.now += 100
    assert oauth.authenticate(first.access_token) is None


def test_tokens_are_kept_only_as_digests() -> None:
    oauth, _ = server()
    tokens = connect(oauth)
    kept = repr(vars(oauth))
    assert tokens.access_token not in kept
    assert tokens.refresh_token not in kept
    assert "s3cret" not in repr(
        SimulatorConfig(token="t", oauth_client_id="a", oauth_client_secret="s3cret")
    )


def test_the_caller_carries_the_granted_scopes_and_the_app_bucket() -> None:
    oauth, _ = server()
    caller = oauth.authenticate(connect(oauth, "sales:read webhooks").access_token)
    assert caller is not None
    assert caller.client_id == "app"
    assert caller.allows("webhooks")
    assert not caller.allows("customers:read")
    assert caller.bucket == "oauth-app:app"


def test_revoke_all_and_expire_access() -> None:
    oauth, _ = server()
    one = connect(oauth)
    assert oauth.expire_access() == 1
    assert oauth.authenticate(one.access_token) is None
    two = refresh(oauth, one)
    assert oauth.revoke_all() == 1
    assert oauth.authenticate(two.access_token) is None
    assert refused(oauth, two) == "invalid_grant"


def test_a_disabled_server_knows_no_client() -> None:
    oauth = OAuthServer(OAuthSettings(), clock=FakeClock())
    with pytest.raises(AuthorizePageError):
        oauth.screen(request())
    with pytest.raises(OAuthError) as caught:
        oauth.token({"client_id": "", "client_secret": "", "grant_type": "refresh_token"})
    assert caught.value.status == 401
    assert oauth.authenticate("anything") is None


def test_webhook_signing_keys_belong_to_the_app_subscriptions_only() -> None:
    oauth, _ = server()
    oauth.own_webhook("h1", "app")
    assert oauth.webhook_secret("h1") == "s3cret"
    assert oauth.webhook_secret("h2") is None
    oauth.forget_webhook("h1")
    assert oauth.webhook_secret("h1") is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"client_id": "app"}, "go together"),
        ({"client_secret": "s"}, "go together"),
        ({**CLIENT, "access_token_seconds": 0}, "access_token_seconds"),
        ({**CLIENT, "refresh_token_seconds": 1.5}, "refresh_token_seconds"),
        ({**CLIENT, "redirect_uris": ("ftp://x/cb",)}, "redirect URI"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OAuthSettings(**settings)


def test_update_applies_to_tokens_issued_afterwards() -> None:
    oauth, _ = server()
    before = connect(oauth)
    oauth.update({"access_token_seconds": 60})
    after = connect(oauth)
    assert (before.expires_in, after.expires_in) == (86_400, 60)
    with pytest.raises(ValueError, match="unknown OAuth settings"):
        oauth.update({"client_secret": "x"})
