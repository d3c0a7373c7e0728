"""The OAuth app's settings and the values the simulator's authorization server exchanges.

simulator/oauth.py holds the rules (grants, rotation, revocation); this module holds what
they are about: the registered app and its token lifetimes, the authorize request, who
called, an issued token pair, and the token endpoint's refusals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "CODE_SECONDS",
    "DEFAULT_ACCESS_SECONDS",
    "DEFAULT_REFRESH_SECONDS",
    "AuthorizePageError",
    "AuthorizeRequest",
    "Caller",
    "OAuthError",
    "OAuthSettings",
    "TokenSet",
    "http_uri",
    "personal_caller",
]

CODE_SECONDS = 600
DEFAULT_ACCESS_SECONDS = 86_400
DEFAULT_REFRESH_SECONDS = 90 * 86_400


@dataclass(frozen=True)
class OAuthSettings:
    """The registered app (one per simulator) and token lifetimes."""

    client_id: str = ""
    client_secret: str = ""
    # Empty: any http(s) URI without a fragment is allowed.
    redirect_uris: tuple[str, ...] = ()
    access_token_seconds: int = DEFAULT_ACCESS_SECONDS
    refresh_token_seconds: int = DEFAULT_REFRESH_SECONDS
    refresh_grace: bool = False
    code_seconds: int = CODE_SECONDS

    def __post_init__(self) -> None:
        if bool(self.client_id) != bool(self.client_secret):
            raise ValueError("oauth_client_id and oauth_client_secret go together")
        for name in ("access_token_seconds", "refresh_token_seconds", "code_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of seconds, at least 1")
        if not isinstance(self.refresh_grace, bool):
            raise ValueError("refresh_grace must be true or false")
        for uri in self.redirect_uris:
            if not http_uri(uri):
                raise ValueError(f"not an http(s) redirect URI: {uri!r}")

    @property
    def enabled(self) -> bool:
        return bool(self.client_id)

    def shown(self) -> dict[str, Any]:
        """For display: whether a secret is set, never the secret."""
        out = asdict(self)
        out["client_secret"] = "***" if self.client_secret else ""
        out["redirect_uris"] = list(self.redirect_uris)
        return out


class OAuthError(Exception):
    """A token-endpoint refusal: ``{"error": error, "error_description": description}``."""

    def __init__(self, status: int, error: str, description: str | None = None) -> None:
        super().__init__(description or error)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


class AuthorizePageError(Exception):
    """The authorize request cannot be redirected (unknown client, redirect URI not
    allowed): OAuth says show an error page instead (RFC 6749 §4.1.2.1)."""


@dataclass(frozen=True)
class AuthorizeRequest:
    client_id: str
    redirect_uri: str
    state: str | None = None
    scope: str | None = None
    response_type: str = "code"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AuthorizeRequest:
        def text(name: str) -> str | None:
            value = params.get(name)
            return value if isinstance(value, str) else None

        return cls(
            client_id=text("client_id") or "",
            redirect_uri=text("redirect_uri") or "",
            state=text("state"),
            scope=text("scope"),
            response_type=text("response_type") or "",
        )


@dataclass(frozen=True)
class Caller:
    """Who sent an API request: the personal token (every scope) or an OAuth app."""

    client_id: str | None
    scopes: frozenset[str] | None  # None: every scope
    bucket: str  # the rate-limit bucket key

    def allows(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


def personal_caller(token: str) -> Caller:
    # The personal token's bucket is keyed by the token itself, as before OAuth existed
    # (the control API reads and sets that bucket).
    return Caller(client_id=None, scopes=None, bucket=token)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires: int
    expires_in: int
    scope: tuple[str, ...]

    def body(self, domain_prefix: str) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires": self.expires,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "domain_prefix": domain_prefix,
            "scope": " ".join(self.scope),
        }


def http_uri(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment
