"""The tokens every command uses: the stored OAuth connection, or the personal token.

:func:`lightspeed_client` is the one place a client is built: with
``lightspeed.client_id`` configured, the stored connection's tokens are used (through
:class:`StoredTokens`; the personal token while no connection is stored); otherwise the
personal token, as before.

Refreshing (:meth:`StoredTokens._refresh`), shared by every process through the
``oauth-refresh`` job lock (``store/locks.py``, SQLite and PostgreSQL alike): take the
lock; re-read the row (another process may have rotated already); if a refresh is still
needed, commit a "refresh in flight" mark; call the token endpoint; commit the new pair
(mark cleared) in one transaction; release. The access token is refreshed when less
than min(5 minutes, 10% of its lifetime) is left, and once on a 401 (the request is
then sent again once).

Lightspeed's refresh tokens rotate: once the endpoint answers, the old refresh token is
spent. A process killed between that answer and the commit loses the only copy of the
new pair, so the next process finds the mark and tries the stored (old) refresh token:
under strict rotation that is refused (``invalid_grant``) and the connection is marked
``needs_reconnect`` with one line telling the owner to run ``greenloop connect``; a
server with a grace period for the previous refresh token (the simulator's
``oauth_refresh_grace``) lets it through and the connection survives. A process killed
before the answer (after the mark) or after the commit loses nothing.

``GREENLOOP_TEST_CRASH_AT`` is a test hook, read only in :func:`_crash_point`: set to
``after_mark``, ``after_token_response`` or ``after_commit``, the process kills itself
(SIGKILL) at that point of a refresh, so tests can reproduce the crash windows.
"""

from __future__ import annotations

import logging
import os
import re
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from greenloop.config import Settings
from greenloop.errors import AuthFailed, ConfigError, ConnectionLost
from greenloop.lightspeed.client import LightspeedClient, connect
from greenloop.lightspeed.oauth import InvalidGrant, TokenGrant
from greenloop.lightspeed.oauth import refresh_tokens as call_refresh
from greenloop.lightspeed.ratelimit import RateBudget
from greenloop.logs import register_secret
from greenloop.services.setup import open_engine
from greenloop.store import oauth_repo as repo
from greenloop.store.locks import job_lock

__all__ = [
    "ACCESS_REFUSED",
    "CRASH_ENV",
    "NOT_CONNECTED",
    "REFRESH_REFUSED",
    "StoredTokens",
    "as_tokens",
    "http_client",
    "lightspeed_client",
    "now",
    "remember",
    "require_app",
    "token_origin",
]

log = logging.getLogger(__name__)

CRASH_ENV = "GREENLOOP_TEST_CRASH_AT"

LOCK_NAME = "oauth-refresh"
# A refresh starts when less than min(5 minutes, 10% of the token's lifetime) is left.
_MARGIN_SECONDS = 300.0
_MARGIN_FRACTION = 0.1
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,99}")

REFRESH_REFUSED = (
    "The Lightspeed connection is no longer valid (refresh token refused): "
    "run `greenloop connect` to reconnect."
)
NOT_CONNECTED = (
    "GreenLoop is not connected to Lightspeed: run `greenloop connect` to connect "
    "(or set a personal token, GREENLOOP_LIGHTSPEED_TOKEN)."
)
ACCESS_REFUSED = (
    "The Lightspeed connection is no longer valid (access refused after a refresh): "
    "run `greenloop connect` to reconnect."
)


def _crash_point(name: str) -> None:
    """Test hook (see the module doc): die here when GREENLOOP_TEST_CRASH_AT names it."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def now() -> datetime:
    return datetime.now(UTC)


def require_app(settings: Settings) -> tuple[str, str]:
    ls = settings.lightspeed
    if not ls.oauth_configured():
        raise ConfigError(
            "the Lightspeed add-on is not configured (lightspeed.client_id and client_secret)",
            hint="Set lightspeed.client_id and GREENLOOP_LIGHTSPEED_CLIENT_SECRET from the "
            "add-on's page in the Lightspeed developer portal.",
        )
    return ls.client_id.strip(), ls.client_secret.get_secret_value().strip()


def token_origin(settings: Settings, domain_prefix: str) -> str:
    """Where the token endpoint is: the configured base_url (the simulator), else the
    connected store's own host."""
    if settings.lightspeed.base_url:
        return settings.lightspeed.base_url
    if not _PREFIX.fullmatch(domain_prefix):
        raise AuthFailed(
            "Lightspeed's answer named no usable store (domain_prefix)",
            hint="Run `greenloop connect` again.",
        )
    return f"https://{domain_prefix}.retail.lightspeed.app"


def http_client(settings: Settings, transport: httpx.BaseTransport | None) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(settings.lightspeed.timeout_seconds), transport=transport
    )


def as_tokens(grant: TokenGrant, domain_prefix: str = "") -> repo.Tokens:
    return repo.Tokens(
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        expires_at=grant.expires_at,
        lifetime_seconds=grant.lifetime_seconds,
        domain_prefix=grant.domain_prefix or domain_prefix,
        scopes=grant.scopes,
    )


def remember(grant: TokenGrant | repo.StoredConnection) -> None:
    register_secret(grant.access_token)
    register_secret(grant.refresh_token)


def _due(row: repo.StoredConnection, now: datetime) -> bool:
    margin = min(_MARGIN_SECONDS, _MARGIN_FRACTION * max(row.access_lifetime_seconds, 0))
    return (row.access_expires_at - now).total_seconds() < margin


class StoredTokens:
    """A :class:`~greenloop.lightspeed.oauth.TokenSource` on the stored connection.

    ``fallback`` (the personal token, if any) is sent while no connection is stored, so
    a running ``serve`` switches to the connection once ``greenloop connect`` made it."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = now,
        own_engine: bool = False,
        fallback: str = "",
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.fallback = fallback
        self._own_engine = own_engine
        self._transport = transport
        self._row: repo.StoredConnection | None = None
        self._after_401: str | None = None

    def _read(self) -> repo.StoredConnection | None:
        with self.engine.connect() as conn:
            row = repo.read_connection(conn)
        if row is not None:
            remember(row)
        self._row = row
        return row

    def _required(self) -> repo.StoredConnection:
        row = self._read()
        if row is None:
            raise ConnectionLost(NOT_CONNECTED)
        if not row.usable:
            raise ConnectionLost(row.problem or REFRESH_REFUSED)
        return row

    def token(self) -> str:
        row = self._row or self._read()
        if row is None:
            if self.fallback:
                return self.fallback
            raise ConnectionLost(NOT_CONNECTED)
        if row.usable and not _due(row, self.clock()) and row.refresh_started_at is None:
            return row.access_token
        return self._refresh(refused=None).access_token

    def refused(self, token: str) -> str | None:
        if self.fallback and token == self.fallback:
            return None  # the personal token: the 401 stands as it is
        if token == self._after_401:
            # The token the refresh just gave is refused too: the connection is revoked.
            with self.engine.begin() as conn:
                repo.mark_problem(conn, repo.REVOKED, ACCESS_REFUSED, self.clock())
            raise ConnectionLost(ACCESS_REFUSED)
        fresh = self._refresh(refused=token).access_token
        self._after_401 = fresh
        return fresh

    def close(self) -> None:
        if self._own_engine:
            self.engine.dispose()

    def _refresh(self, *, refused: str | None) -> repo.StoredConnection:
        ttl = timedelta(seconds=max(60.0, 2 * self.settings.lightspeed.timeout_seconds))
        with job_lock(
            self.engine, LOCK_NAME, ttl=ttl, wait_seconds=ttl.total_seconds(), label="token refresh"
        ):
            row = self._required()
            now = self.clock()
            crashed = row.refresh_started_at is not None
            if not crashed:
                if refused is not None and row.access_token != refused:
                    return row  # another process rotated while this one waited
                if refused is None and not _due(row, now):
                    return row
            with self.engine.begin() as conn:
                repo.mark_refresh_started(conn, now)
            _crash_point("after_mark")
            client_id, client_secret = require_app(self.settings)
            origin = token_origin(self.settings, row.domain_prefix)
            try:
                with http_client(self.settings, self._transport) as http:
                    grant = call_refresh(
                        http,
                        origin,
                        refresh_token=row.refresh_token,
                        client_id=client_id,
                        client_secret=client_secret,
                        now=now,
                    )
            except InvalidGrant:
                with self.engine.begin() as conn:
                    repo.mark_problem(conn, repo.NEEDS_RECONNECT, REFRESH_REFUSED, self.clock())
                raise ConnectionLost(REFRESH_REFUSED) from None
            remember(grant)
            _crash_point("after_token_response")
            with self.engine.begin() as conn:
                repo.save_refreshed(conn, as_tokens(grant, row.domain_prefix), self.clock())
            _crash_point("after_commit")
            if crashed:
                log.warning("finished a token refresh that a stopped process had left unfinished")
            log.info("Lightspeed access token refreshed (expires %s)", grant.expires_at)
            return self._required()


def _api_origin(settings: Settings, domain_prefix: str) -> str:
    if settings.lightspeed.base_url:
        return settings.lightspeed.base_url
    return token_origin(settings, domain_prefix)


def lightspeed_client(
    settings: Settings,
    *,
    engine: Engine | None = None,
    budget: RateBudget | None = None,
    transport: httpx.BaseTransport | None = None,
    require_usable: bool = True,
) -> LightspeedClient:
    """The client every command uses: with ``lightspeed.client_id`` configured, the
    stored OAuth connection (the personal token while none is stored), else the
    personal token alone.

    A connection already known to be dead (revoked, refresh token refused) stops here
    with its one line, so every command says so even when it would not have called the
    API; ``serve`` passes ``require_usable=False`` and keeps serving (its jobs then stop
    with that line at their first request)."""
    ls = settings.lightspeed
    if not ls.oauth_configured():
        return connect(ls, budget=budget, transport=transport)
    db = engine or open_engine(settings)
    try:
        with db.connect() as conn:
            row = repo.read_connection(conn)
        if require_usable and row is not None and not row.usable:
            raise ConnectionLost(row.problem or REFRESH_REFUSED)
        # Without a connection: the configured store, or a ConfigError naming the fix.
        origin = _api_origin(settings, row.domain_prefix) if row is not None else ls.origin()
    except BaseException:
        if engine is None:
            db.dispose()
        raise
    source = StoredTokens(
        settings,
        db,
        transport=transport,
        own_engine=engine is None,
        fallback=ls.token.get_secret_value().strip(),
    )
    return connect(ls, budget=budget, transport=transport, token_source=source, origin=origin)
