"""Connecting as a Lightspeed add-on (OAuth 2.0), and what the connection looks like.

``greenloop connect`` (:func:`start_connect`) prints the authorize URL with a random
``state`` whose SHA-256 is stored for 10 minutes, single use; ``serve``'s
``/oauth/callback`` or ``greenloop connect --code --state`` (:func:`finish_connect`)
spends the state, trades the code for tokens and stores them in the database (never in
a file). :func:`connection_status` says who is connected, never a token. The tokens'
use and refresh are :mod:`greenloop.services.tokens`'.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from greenloop.config import Settings
from greenloop.errors import AuthFailed, ConfigError
from greenloop.lightspeed.oauth import authorize_url, exchange_code
from greenloop.services.setup import open_engine
from greenloop.services.tokens import (
    as_tokens,
    http_client,
    remember,
    require_app,
    token_origin,
)
from greenloop.services.tokens import now as utc_now
from greenloop.store import oauth_repo as repo

__all__ = [
    "CALLBACK_PATH",
    "ConnectStart",
    "ConnectionStatus",
    "connection_status",
    "finish_connect",
    "redirect_uri",
    "start_connect",
]

log = logging.getLogger(__name__)

CALLBACK_PATH = "/oauth/callback"
STATE_MINUTES = 10


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def redirect_uri(settings: Settings) -> str:
    public = settings.jobs.public_url.strip().rstrip("/")
    if not public.startswith(("http://", "https://")):
        raise ConfigError(
            "jobs.public_url is not set (the address the outside world reaches `serve` at)",
            hint="Set jobs.public_url, e.g. https://greenloop.example.com; the add-on's "
            f"redirect URI must be that address followed by {CALLBACK_PATH}.",
        )
    return public + CALLBACK_PATH


# -- connecting -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectStart:
    url: str
    redirect_uri: str
    expires_at: datetime
    scopes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "redirect_uri": self.redirect_uri,
            "expires_at": self.expires_at.isoformat(),
            "scopes": list(self.scopes),
        }


def start_connect(
    settings: Settings, *, engine: Engine | None = None, now: datetime | None = None
) -> ConnectStart:
    """A fresh authorize URL; its state (hashed) is stored for 10 minutes, single use."""
    client_id, _ = require_app(settings)
    callback = redirect_uri(settings)
    scopes = settings.lightspeed.scopes
    if not scopes:
        raise ConfigError("lightspeed.scopes is empty", hint="Lightspeed declines it.")
    state = secrets.token_urlsafe(32)
    now = now or utc_now()
    expires = now + timedelta(minutes=STATE_MINUTES)
    db = engine or open_engine(settings)
    try:
        with db.begin() as conn:
            repo.add_state(conn, _hash(state), now, expires)
    finally:
        if engine is None:
            db.dispose()
    url = authorize_url(
        settings.lightspeed.authorize_url,
        client_id=client_id,
        redirect_uri=callback,
        state=state,
        scopes=scopes,
    )
    return ConnectStart(url=url, redirect_uri=callback, expires_at=expires, scopes=scopes)


def finish_connect(
    settings: Settings,
    *,
    state: str,
    code: str = "",
    error: str = "",
    domain_prefix: str = "",
    engine: Engine | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ConnectionStatus:
    """The owner came back from Lightspeed: check the state, trade the code, store."""
    client_id, client_secret = require_app(settings)
    db = engine or open_engine(settings)
    try:
        with db.begin() as conn:
            known = repo.use_state(conn, _hash(state), utc_now()) if state else False
        if not known:
            raise AuthFailed(
                "this connect link is unknown, expired or already used",
                hint=f"Run `greenloop connect` again and approve within {STATE_MINUTES} minutes.",
            )
        if error:
            what = "denied access" if error == "access_denied" else f"answered {error[:40]}"
            raise AuthFailed(
                f"the store owner {what}; nothing was stored",
                hint="Run `greenloop connect` again and choose Approve to connect GreenLoop.",
            )
        if not code:
            raise AuthFailed("Lightspeed sent no code", hint="Run `greenloop connect` again.")
        origin = token_origin(settings, domain_prefix)
        with http_client(settings, transport) as http:
            grant = exchange_code(
                http,
                origin,
                code=code,
                client_id=client_id,
                client_secret=client_secret,
                redirect_uri=redirect_uri(settings),
            )
        remember(grant)
        with db.begin() as conn:
            repo.save_connection(conn, as_tokens(grant, domain_prefix), utc_now())
        log.info("connected to Lightspeed store %s", grant.domain_prefix or domain_prefix)
        return connection_status(settings, engine=db)
    finally:
        if engine is None:
            db.dispose()


# -- status -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionStatus:
    """Who GreenLoop is connected to and how; never a token."""

    mode: str  # oauth, personal_token, none
    state: str  # connected, needs_reconnect, revoked, not_connected
    domain_prefix: str = ""
    scopes: tuple[str, ...] = ()
    access_expires_at: datetime | None = None
    connected_at: datetime | None = None
    refreshed_at: datetime | None = None
    refreshes: int = 0
    refresh_in_flight: bool = False
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "mode": self.mode,
            "state": self.state,
            "domain_prefix": self.domain_prefix,
            "scopes": list(self.scopes),
            "access_expires_at": iso(self.access_expires_at),
            "connected_at": iso(self.connected_at),
            "last_refresh_at": iso(self.refreshed_at),
            "refreshes": self.refreshes,
            "refresh_in_flight": self.refresh_in_flight,
            "problem": self.problem,
        }

    def as_text(self) -> str:
        if self.mode != "oauth":
            using = "a personal token" if self.mode == "personal_token" else "no credentials"
            return f"Not connected as an add-on; GreenLoop uses {using}."
        lines = [
            f"Store:            {self.domain_prefix}",
            f"State:            {self.state.replace('_', ' ')}",
            f"Scopes:           {' '.join(self.scopes)}",
            f"Access expires:   {self.access_expires_at:%Y-%m-%d %H:%M:%S} UTC"
            if self.access_expires_at
            else "Access expires:   -",
            f"Connected:        {self.connected_at:%Y-%m-%d %H:%M:%S} UTC"
            if self.connected_at
            else "Connected:        -",
            f"Last refresh:     {self.refreshed_at:%Y-%m-%d %H:%M:%S} UTC ({self.refreshes} in all)"
            if self.refreshed_at
            else "Last refresh:     never",
        ]
        if self.refresh_in_flight:
            lines.append("A refresh did not finish; the next command tries it again.")
        if self.problem:
            lines.append(self.problem)
        return "\n".join(lines)


def connection_status(settings: Settings, *, engine: Engine | None = None) -> ConnectionStatus:
    db = engine or open_engine(settings)
    try:
        with db.connect() as conn:
            row = repo.read_connection(conn)
    finally:
        if engine is None:
            db.dispose()
    if row is None:
        has_token = bool(settings.lightspeed.token.get_secret_value().strip())
        return ConnectionStatus(
            mode="personal_token" if has_token else "none", state="not_connected"
        )
    return ConnectionStatus(
        mode="oauth",
        state=row.status,
        domain_prefix=row.domain_prefix,
        scopes=row.scopes,
        access_expires_at=row.access_expires_at,
        connected_at=row.connected_at,
        refreshed_at=row.refreshed_at,
        refreshes=row.refreshes,
        refresh_in_flight=row.refresh_started_at is not None,
        problem=row.problem,
    )


# -- the tokens every client uses -------------------------------------------------------
