"""Lightspeed's OAuth 2.0 endpoints: the authorize URL and the token endpoint.

Reference §1 "Auth": authorization-code grant only; the owner approves at
``https://secure.retail.lightspeed.app/connect?response_type=code&client_id&redirect_uri
&state&scope``; the code (and later each refresh token) is exchanged by a form-encoded
``POST https://{domain_prefix}.retail.lightspeed.app/api/1.0/token``. The answer has
``access_token``, ``token_type``, ``expires`` (epoch seconds), ``expires_in``,
``refresh_token``, ``domain_prefix`` and ``scope``. Refresh tokens rotate: using one
revokes it once the new one is issued. Lifetimes are read from each answer, never
assumed.

This module does no storage: :mod:`greenloop.services.connect` keeps the tokens in the
database and decides when to refresh. Nothing here puts a token or the client secret
in a message or a log line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from greenloop.errors import AuthFailed, BadResponse, ConfigError, ConnectionFailed, ServerError

__all__ = [
    "InvalidGrant",
    "TokenGrant",
    "TokenSource",
    "authorize_url",
    "exchange_code",
    "refresh_tokens",
    "token_url",
]

TOKEN_PATH = "/api/1.0/token"  # noqa: S105 - a path, not a secret


class TokenSource(Protocol):
    """Where :class:`~greenloop.lightspeed.client.LightspeedClient` gets its bearer token."""

    def token(self) -> str:
        """The access token to send now (refreshed first when close to expiry)."""
        ...

    def refused(self, token: str) -> str | None:
        """The API refused ``token`` (401): a new token to retry with once, or ``None``."""
        ...

    def close(self) -> None: ...


class InvalidGrant(AuthFailed):
    """The token endpoint refused the code or refresh token (used, expired or revoked)."""

    hint = ""


@dataclass(frozen=True)
class TokenGrant:
    """One answer of the token endpoint. ``repr`` shows no token."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    lifetime_seconds: int
    domain_prefix: str
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return (
            f"TokenGrant(domain_prefix={self.domain_prefix!r}, expires_at={self.expires_at!r}, "
            f"scopes={self.scopes!r})"
        )


def authorize_url(
    base: str, *, client_id: str, redirect_uri: str, state: str, scopes: tuple[str, ...]
) -> str:
    """The page where the store owner approves GreenLoop (``scope`` is mandatory)."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": " ".join(scopes),
        }
    )
    return f"{base.rstrip('/')}?{query}"


def token_url(origin: str) -> str:
    return f"{origin.rstrip('/')}{TOKEN_PATH}"


def exchange_code(
    http: httpx.Client,
    origin: str,
    *,
    code: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    now: datetime | None = None,
) -> TokenGrant:
    """Trade the authorization code for the first token pair."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
    }
    return _post(http, origin, form, now or datetime.now(UTC), "the authorization code")


def refresh_tokens(
    http: httpx.Client,
    origin: str,
    *,
    refresh_token: str,
    client_id: str,
    client_secret: str,
    now: datetime | None = None,
) -> TokenGrant:
    """Trade the refresh token for a new pair; the old refresh token is then spent."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    return _post(http, origin, form, now or datetime.now(UTC), "the refresh token")


def _post(
    http: httpx.Client, origin: str, form: dict[str, str], now: datetime, what: str
) -> TokenGrant:
    where = f"POST {TOKEN_PATH} ({form['grant_type']})"
    try:
        response = http.post(token_url(origin), data=form, headers={"Accept": "application/json"})
    except httpx.TimeoutException:
        raise ConnectionFailed(f"{where}: no answer from Lightspeed in time") from None
    except httpx.HTTPError as exc:
        raise ConnectionFailed(f"{where}: cannot reach Lightspeed ({type(exc).__name__})") from None
    body = _json(response)
    status = response.status_code
    if status >= 500:
        raise ServerError(f"{where}: HTTP {status} from Lightspeed", status=status)
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    if status == 401 or error == "invalid_client":
        raise ConfigError(
            f"{where}: Lightspeed refused the app's credentials (invalid_client)",
            hint="Check lightspeed.client_id and GREENLOOP_LIGHTSPEED_CLIENT_SECRET "
            "against the add-on's settings in the Lightspeed developer portal.",
        )
    if error == "invalid_grant":
        raise InvalidGrant(f"{where}: Lightspeed refused {what} (invalid_grant)")
    if status != 200 or not isinstance(body, dict):
        detail = f" ({error})" if error else ""
        raise AuthFailed(f"{where}: HTTP {status}{detail}")
    return _grant(body, now, where)


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _grant(body: dict[str, Any], now: datetime, where: str) -> TokenGrant:
    access = body.get("access_token")
    refresh = body.get("refresh_token")
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise BadResponse(f"{where}: the answer has no access_token or refresh_token")
    # Lifetimes come from each answer (the documentation gives two different ones).
    # expires_in is counted on this machine's clock, so a skew between the two clocks
    # cannot make a fresh token look expired; ``expires`` is the fallback.
    expires_in = _number(body.get("expires_in"))
    expires = _number(body.get("expires"))
    if expires_in is not None:
        expires_at = now + timedelta(seconds=expires_in)
        lifetime = int(expires_in)
    elif expires is not None and expires > 0:
        expires_at = datetime.fromtimestamp(expires, UTC)
        lifetime = max(0, int((expires_at - now).total_seconds()))
    else:
        raise BadResponse(f"{where}: the answer says neither expires nor expires_in")
    scope = body.get("scope") or ""
    return TokenGrant(
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at,
        lifetime_seconds=lifetime,
        domain_prefix=str(body.get("domain_prefix") or ""),
        scopes=tuple(str(scope).split()),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
