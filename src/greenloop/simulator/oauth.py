"""The simulator as an OAuth 2.0 authorization server (reference §1, Auth).

Documented, and done as documented: the authorization-code grant only; an authorize
step that redirects with ``code`` and ``state`` (and ``domain_prefix``), or with
``error=access_denied``; ``scope`` mandatory on new authorizations (June 2026); a
form-encoded token endpoint answering ``access_token``, ``token_type``, ``expires``,
``expires_in``, ``refresh_token``, ``domain_prefix`` and ``scope``; refresh tokens
that rotate ("using a refresh token revokes it once a new one is issued").

Not documented, so chosen here [INF]:

- codes live 10 minutes and are single use; a code presented twice revokes every
  token issued from it (RFC 6749 §4.1.2's recommendation);
- ``refresh_grace=False`` (the default) reads the changelog strictly: the old refresh
  token is refused as soon as the new one is issued. ``refresh_grace=True`` reads
  "once a new one is issued" loosely: the old one keeps working until the new access
  token or the new refresh token is first used, so a client that lost a token
  response can try again. Each use of the old one during the grace issues another
  pair; the first pair used ends the grace;
- a rotation revokes the old refresh token only: access tokens already issued live
  until they expire;
- a refresh keeps the granted scope; a new refresh token lives
  ``refresh_token_seconds`` from its issue.

Tokens are kept as SHA-256 digests, so nothing here (or in ``GET /_sim/oauth/state``)
can show one. Times come from the simulator's clock, so tests expire tokens by moving
it. One lock guards everything; no call into :class:`~greenloop.simulator.state.SimState`
is made while holding it, so the state's listeners (which run under the state's lock)
may call :meth:`OAuthServer.webhook_secret`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from greenloop.simulator.oauth_terms import (
    CODE_SECONDS,
    DEFAULT_ACCESS_SECONDS,
    DEFAULT_REFRESH_SECONDS,
    AuthorizePageError,
    AuthorizeRequest,
    Caller,
    OAuthError,
    OAuthSettings,
    TokenSet,
    http_uri,
    personal_caller,
)
from greenloop.simulator.scopes import parse_scope

__all__ = [
    "CODE_SECONDS",
    "DEFAULT_ACCESS_SECONDS",
    "DEFAULT_REFRESH_SECONDS",
    "AuthorizePageError",
    "AuthorizeRequest",
    "Caller",
    "OAuthError",
    "OAuthServer",
    "OAuthSettings",
    "TokenSet",
    "bucket_of",
    "personal_caller",
]


@dataclass(eq=False)
class _Grant:
    """One approval: its code, and every token issued from it."""

    client_id: str
    scope: tuple[str, ...]
    redirect_uri: str
    code_expires_at: float
    code_used: bool = False
    revoked: bool = False


@dataclass(eq=False)
class _Refresh:
    grant: _Grant
    expires_at: float
    revoked: bool = False
    used: bool = False
    # Under the grace reading, the refresh token this one replaced, still accepted
    # until this one (or the access token issued beside it) is first used.
    predecessor: _Refresh | None = None

    @property
    def dead(self) -> bool:
        return self.revoked or self.grant.revoked


@dataclass(eq=False)
class _Access:
    grant: _Grant
    expires_at: float
    refresh: _Refresh
    revoked: bool = False
    used: bool = False


@dataclass
class _Counts:
    codes_issued: int = 0
    codes_redeemed: int = 0
    codes_replayed: int = 0
    refresh_grants: int = 0
    refused_grants: int = 0
    connections_revoked: int = 0


@dataclass
class _Tokens:
    access: dict[str, _Access] = field(default_factory=dict)
    refresh: dict[str, _Refresh] = field(default_factory=dict)
    codes: dict[str, _Grant] = field(default_factory=dict)
    grants: list[_Grant] = field(default_factory=list)


class OAuthServer:
    """Codes, access and refresh tokens, and which webhook subscriptions are an app's."""

    def __init__(self, settings: OAuthSettings, *, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = _Tokens()
        self._counts = _Counts()
        self._hook_owner: dict[str, str] = {}

    # -- settings ----------------------------------------------------------------------

    @property
    def settings(self) -> OAuthSettings:
        return self._settings

    def update(self, changes: Mapping[str, Any]) -> OAuthSettings:
        """Change lifetimes or the grace reading; they apply to tokens issued from now."""
        allowed = {"access_token_seconds", "refresh_token_seconds", "refresh_grace"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown OAuth settings: {', '.join(sorted(unknown))}")
        with self._lock:
            self._settings = replace(self._settings, **dict(changes))
            return self._settings

    # -- authorize ---------------------------------------------------------------------

    def screen(self, request: AuthorizeRequest) -> tuple[str, ...] | str:
        """The scopes asked for, or the URL to redirect to with an error.

        Raises :class:`AuthorizePageError` when there is nowhere safe to redirect."""
        settings = self._settings
        if not settings.enabled or request.client_id != settings.client_id:
            raise AuthorizePageError("Unknown client_id: this app is not registered.")
        if not request.redirect_uri:
            raise AuthorizePageError("redirect_uri is required.")
        if not self._redirect_allowed(request.redirect_uri):
            raise AuthorizePageError("This redirect_uri is not registered for the app.")
        if request.response_type != "code":
            return self._error_location(request, "unsupported_response_type")
        scopes = parse_scope(request.scope)
        if scopes is None:
            return self._error_location(request, "invalid_scope")
        return scopes

    def decide(self, request: AuthorizeRequest, decision: str, *, domain_prefix: str) -> str:
        """Where the browser goes after Approve or Deny (screening again first)."""
        screened = self.screen(request)
        if isinstance(screened, str):
            return screened
        if decision == "deny":
            return self._error_location(request, "access_denied")
        if decision != "approve":
            raise AuthorizePageError("decision must be approve or deny.")
        code = secrets.token_urlsafe(24)
        with self._lock:
            grant = _Grant(
                client_id=request.client_id,
                scope=screened,
                redirect_uri=request.redirect_uri,
                code_expires_at=self._clock() + self._settings.code_seconds,
            )
            self._tokens.grants.append(grant)
            self._tokens.codes[_digest(code)] = grant
            self._counts.codes_issued += 1
        params = [("code", code), ("domain_prefix", domain_prefix)]
        if request.state is not None:
            params.append(("state", request.state))
        return _with_query(request.redirect_uri, params)

    def _redirect_allowed(self, uri: str) -> bool:
        allowed = self._settings.redirect_uris
        return uri in allowed if allowed else http_uri(uri)

    def _error_location(self, request: AuthorizeRequest, error: str) -> str:
        params = [("error", error)]
        if request.state is not None:
            params.append(("state", request.state))
        return _with_query(request.redirect_uri, params)

    # -- the token endpoint ------------------------------------------------------------

    def token(self, form: Mapping[str, str]) -> TokenSet:
        """Answer one token request (either grant) or raise :class:`OAuthError`."""
        self._check_client(form.get("client_id", ""), form.get("client_secret", ""))
        grant_type = form.get("grant_type", "")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        with self._lock:
            try:
                if grant_type == "authorization_code":
                    return self._redeem(form)
                if grant_type == "refresh_token":
                    return self._refresh(form)
            except OAuthError as error:
                if error.error == "invalid_grant":
                    self._counts.refused_grants += 1
                raise
        raise OAuthError(
            400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
        )

    def _check_client(self, client_id: str, client_secret: str) -> None:
        settings = self._settings
        known = settings.enabled and client_id == settings.client_id
        # Compared even for an unknown client, so timing tells nothing.
        secret_ok = hmac.compare_digest(
            client_secret.encode(), (settings.client_secret or "-").encode()
        )
        if not (known and secret_ok):
            raise OAuthError(401, "invalid_client", "Unknown client or wrong client_secret")

    def _redeem(self, form: Mapping[str, str]) -> TokenSet:
        code = form.get("code", "")
        if not code:
            raise OAuthError(400, "invalid_request", "code is required")
        grant = self._tokens.codes.get(_digest(code))
        if grant is None or grant.client_id != form.get("client_id"):
            raise OAuthError(400, "invalid_grant", "The authorization code is not valid")
        if grant.code_used:
            # A replayed code: whoever holds it, the tokens issued from it are suspect.
            grant.revoked = True
            self._counts.codes_replayed += 1
            raise OAuthError(
                400,
                "invalid_grant",
                "The authorization code was already used; the tokens issued from it are revoked",
            )
        if grant.revoked:
            raise OAuthError(400, "invalid_grant", "The authorization was revoked")
        if self._clock() >= grant.code_expires_at:
            raise OAuthError(400, "invalid_grant", "The authorization code has expired")
        if form.get("redirect_uri", "") != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the one authorized")
        grant.code_used = True
        self._counts.codes_redeemed += 1
        return self._issue(grant, predecessor=None)

    def _refresh(self, form: Mapping[str, str]) -> TokenSet:
        presented = form.get("refresh_token", "")
        if not presented:
            raise OAuthError(400, "invalid_request", "refresh_token is required")
        old = self._tokens.refresh.get(_digest(presented))
        if old is None or old.grant.client_id != form.get("client_id"):
            raise OAuthError(400, "invalid_grant", "The refresh token is not valid")
        if old.dead:
            raise OAuthError(400, "invalid_grant", "The refresh token has been revoked")
        if self._clock() >= old.expires_at:
            raise OAuthError(400, "invalid_grant", "The refresh token has expired")
        self._settle(old)
        old.used = True
        self._counts.refresh_grants += 1
        if self._settings.refresh_grace:
            return self._issue(old.grant, predecessor=old)
        old.revoked = True
        return self._issue(old.grant, predecessor=None)

    def _issue(self, grant: _Grant, *, predecessor: _Refresh | None) -> TokenSet:
        settings, now = self._settings, self._clock()
        access_token = "lsxs_at_" + secrets.token_urlsafe(32)
        refresh_token = "lsxs_rt_" + secrets.token_urlsafe(32)
        refresh = _Refresh(
            grant, expires_at=now + settings.refresh_token_seconds, predecessor=predecessor
        )
        expires_at = now + settings.access_token_seconds
        self._tokens.refresh[_digest(refresh_token)] = refresh
        self._tokens.access[_digest(access_token)] = _Access(grant, expires_at, refresh)
        return TokenSet(
            access_token=access_token,
            refresh_token=refresh_token,
            expires=int(expires_at),
            expires_in=settings.access_token_seconds,
            scope=grant.scope,
        )

    @staticmethod
    def _settle(refresh: _Refresh) -> None:
        """First use of a pair: the refresh token it replaced stops working."""
        if refresh.predecessor is not None:
            refresh.predecessor.revoked = True
            refresh.predecessor = None

    # -- API access --------------------------------------------------------------------

    def authenticate(self, token: str) -> Caller | None:
        """The app behind a live access token (marking it used), or None."""
        if not self._settings.enabled:
            return None
        with self._lock:
            access = self._tokens.access.get(_digest(token))
            if access is None or access.revoked or access.grant.revoked:
                return None
            if self._clock() >= access.expires_at:
                return None
            if not access.used:
                access.used = True
                self._settle(access.refresh)
            client_id = access.grant.client_id
            return Caller(client_id, frozenset(access.grant.scope), bucket_of(client_id))

    # -- control -----------------------------------------------------------------------

    def revoke_all(self) -> int:
        """Revoke the connection: every code, access and refresh token. Returns how many
        approvals were revoked."""
        with self._lock:
            live = [g for g in self._tokens.grants if not g.revoked]
            for grant in live:
                grant.revoked = True
            self._counts.connections_revoked += 1
            return len(live)

    def expire_access(self) -> int:
        """Expire every live access token now; returns how many."""
        with self._lock:
            now = self._clock()
            live = [a for a in self._tokens.access.values() if self._live(a, now)]
            for access in live:
                access.expires_at = now
            return len(live)

    def figures(self) -> dict[str, Any]:
        """Counts only: never a token, code or secret."""
        with self._lock:
            now = self._clock()
            refresh = list(self._tokens.refresh.values())
            return {
                "enabled": self._settings.enabled,
                "live_access_tokens": sum(self._live(a, now) for a in self._tokens.access.values()),
                "access_tokens_issued": len(self._tokens.access),
                "refresh_tokens_issued": len(refresh),
                "refresh_tokens_revoked": sum(r.dead for r in refresh),
                "live_refresh_tokens": sum(not r.dead and now < r.expires_at for r in refresh),
                **asdict(self._counts),
                "oauth_webhooks": len(self._hook_owner),
                "settings": self._settings.shown(),
            }

    @staticmethod
    def _live(access: _Access, now: float) -> bool:
        return not (access.revoked or access.grant.revoked) and now < access.expires_at

    # -- webhook subscriptions -----------------------------------------------------------

    def own_webhook(self, hook_id: str, client_id: str) -> None:
        """Record that an app created this subscription (its deliveries get signed)."""
        with self._lock:
            self._hook_owner[hook_id] = client_id

    def forget_webhook(self, hook_id: str) -> None:
        with self._lock:
            self._hook_owner.pop(hook_id, None)

    def webhook_secret(self, hook_id: str) -> str | None:
        """The key to sign this subscription's deliveries with: its app's client
        secret, or None for a subscription made with the personal token."""
        with self._lock:
            owner = self._hook_owner.get(hook_id)
            settings = self._settings
            if owner is None or not settings.enabled or owner != settings.client_id:
                return None
            return settings.client_secret


def bucket_of(client_id: str) -> str:
    """The rate-limit bucket of an app: one per (retailer, app), reference §9."""
    return f"oauth-app:{client_id}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _with_query(uri: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + params
    return urlunsplit(parts._replace(query=urlencode(query)))
