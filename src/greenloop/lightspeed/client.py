"""The X-Series HTTP client: auth, retries, the shared rate budget, paging.

``LightspeedClient`` takes an ``httpx.Client`` (so tests can hand it any transport) and
a :class:`RateBudget` (so every caller of one retailer shares one budget). Every request
waits for the budget, retries 5xx, timeouts and unreadable bodies with exponential
back-off and full jitter, and defers on 429 until its ``Retry-After``, for at most
``max_wait_seconds`` of a stalled budget (then :class:`RateLimitWaitExceeded` ends the
call). Nothing here puts the token in a message: errors name the method, path and
query only.

The bearer token is either fixed (a personal token, set once as a header) or asked of a
:class:`~greenloop.lightspeed.oauth.TokenSource` before each request (an OAuth
connection, refreshed ahead of expiry by the source). A 401 on a source's token asks the
source once for a new one and sends the request again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from greenloop import __version__
from greenloop.config import LightspeedSettings
from greenloop.errors import (
    AuthFailed,
    BadResponse,
    ConnectionFailed,
    RateLimited,
    RateLimitWaitExceeded,
    RetryableError,
)
from greenloop.lightspeed.oauth import TokenSource
from greenloop.lightspeed.pagination import (
    OffsetPaginator,
    Page,
    VersionCursor,
    parse_version_page,
)
from greenloop.lightspeed.ratelimit import RateBudget, RateLimit
from greenloop.lightspeed.responses import parse_json, raise_for_status

__all__ = ["LightspeedClient", "RetryPolicy", "connect"]

log = logging.getLogger(__name__)
_OAUTH_REFUSED_HINT = (
    "The add-on connection's token was refused: check `greenloop connect --status`, and "
    "run `greenloop connect` again so the store owner approves GreenLoop anew."
)


def _as_addon_refusal(error: AuthFailed) -> AuthFailed:
    """A plain 401/403 on an add-on connection, with a hint for its owner (the default
    hint is about personal tokens); a missing scope or a lost connection keep theirs."""
    if type(error) is not AuthFailed:
        return error
    return AuthFailed(error.message, hint=_OAUTH_REFUSED_HINT)


Params = Mapping[str, str | int | bool | list[str] | None]


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    # A 429 is not a failure; still, give up if the API keeps refusing for this long.
    max_rate_limit_waits: int = 50

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base × 2^attempt)]."""
        return rng.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    by_label: dict[str, int] = field(default_factory=dict)


class LightspeedClient:
    def __init__(
        self,
        http: httpx.Client,
        *,
        budget: RateBudget | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        max_wait_seconds: float | None = None,
        token_source: TokenSource | None = None,
    ) -> None:
        self.http = http
        # None: the Authorization header is already on ``http`` (a personal token).
        self.token_source = token_source
        # None: wait for the budget as long as it takes (tests, in-process tools).
        self.max_wait_seconds = max_wait_seconds
        self.budget = budget or RateBudget(sleep=sleep, clock=clock)
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()

    def close(self) -> None:
        self.http.close()
        if self.token_source is not None:
            self.token_source.close()

    def __enter__(self) -> LightspeedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        label: str | None = None,
    ) -> Any:
        """Send one API call and return its parsed JSON (``None`` for an empty body)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        where = f"{method} {path}" + (f"?{urlencode(query, doseq=True)}" if query else "")
        failures = 0
        waits = 0
        source = self.token_source
        token: str | None = None
        retried_auth = False
        while True:
            if source is not None and not retried_auth:
                token = source.token()  # refreshed by the source when close to expiry
            try:
                return self._send_once(method, path, query, json, form, where, label, token)
            except _Refused as exc:
                if source is None or token is None:
                    raise exc.error from None
                # The token just obtained after a 401 is refused too: the source tells
                # why (a revoked connection raises there), else the 401 stands.
                fresh = None if retried_auth else source.refused(token)
                if retried_auth:
                    source.refused(token)
                if fresh is None:
                    raise _as_addon_refusal(exc.error) from None
                retried_auth = True
                token = fresh
            except AuthFailed as exc:
                if source is None:
                    raise
                raise _as_addon_refusal(exc) from None
            except RateLimitWaitExceeded:
                raise  # waiting longer is what the caller ruled out
            except RateLimited as exc:
                waits += 1
                self.stats.rate_limited += 1
                if waits > self.retry.max_rate_limit_waits:
                    raise
                log.info("%s: rate limited, waiting until %s", where, exc.retry_after)
                self.budget.defer_until(exc.retry_after)
            except RetryableError as exc:
                failures += 1
                if failures > self.retry.max_retries:
                    raise
                self.stats.retries += 1
                delay = self.retry.backoff(failures, self._rng)
                log.warning("%s; retry %d in %.1fs", exc.message, failures, delay)
                self._sleep(delay)

    def _send_once(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any],
        json: Any,
        form: Mapping[str, str] | None,
        where: str,
        label: str | None,
        token: str | None = None,
    ) -> Any:
        self.budget.acquire(self.max_wait_seconds)
        self.stats.requests += 1
        if label:
            self.stats.by_label[label] = self.stats.by_label.get(label, 0) + 1
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            response = self.http.request(
                method, path, params=query, json=json, data=form, headers=headers
            )
        except httpx.TimeoutException:
            self.budget.release()
            raise ConnectionFailed(f"{where}: no answer from Lightspeed in time") from None
        except httpx.HTTPError as exc:
            self.budget.release()
            host = self.http.base_url.host or "the API host"
            raise ConnectionFailed(
                f"{where}: cannot reach {host} ({exc.__class__.__name__})"
            ) from None
        if response.status_code == 429:
            # defer_until() (called by request) settles the budget for this one.
            raise_for_status(429, response.headers, response.content, where, self._clock())
        self.budget.observe(RateLimit.from_headers(response.headers))
        if response.status_code == 401 and token:
            try:
                raise_for_status(401, response.headers, response.content, where, self._clock())
            except AuthFailed as exc:
                raise _Refused(exc) from None
        raise_for_status(
            response.status_code, response.headers, response.content, where, self._clock()
        )
        if not response.content.strip():
            return None
        return parse_json(response.content, where)

    # -- reading collections -----------------------------------------------------------

    def get_data(self, path: str, *, label: str | None = None) -> Any:
        """``GET`` a single object and return its ``data``."""
        payload = self.request("GET", path, label=label)
        if not isinstance(payload, dict) or "data" not in payload:
            raise BadResponse(f"GET {path}: expected an object with 'data'")
        return payload["data"]

    def iter_version_pages(
        self,
        path: str,
        *,
        after: int = 0,
        page_size: int = 1000,
        deleted: bool | None = None,
        before: int | None = None,
        label: str | None = None,
    ) -> Iterator[Page]:
        """Yield every page after ``after`` until the API returns an empty one.

        The empty page is yielded too, so a caller can count it; its items are empty.
        """
        cursor = VersionCursor(after)
        while not cursor.finished:
            params: dict[str, Any] = {"after": cursor.current, "page_size": page_size}
            if deleted is not None:
                params["deleted"] = "true" if deleted else "false"
            if before is not None:
                params["before"] = before
            where = f"GET {path}?after={cursor.current}"
            page = parse_version_page(self.request("GET", path, params=params, label=label), where)
            cursor.advance(page, where)
            yield page

    def search(
        self, type_: str, filters: Params | None = None, *, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """``/search`` with offset paging; yields objects."""
        pager = OffsetPaginator(page_size)
        while not pager.finished:
            params: dict[str, Any] = dict(filters or {})
            params.update(type=type_, offset=pager.offset, page_size=pager.page_size)
            payload = self.request("GET", "/api/2.0/search", params=params, label=f"search:{type_}")
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
                raise BadResponse("GET /api/2.0/search: expected an object with a 'data' list")
            items = payload["data"]
            yield from items
            pager.advance(len(items))


class _Refused(Exception):
    """A 401 on a token source's token (internal: ``request`` asks the source again)."""

    def __init__(self, error: AuthFailed) -> None:
        super().__init__(error.message)
        self.error = error


def connect(
    settings: LightspeedSettings,
    *,
    budget: RateBudget | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    token_source: TokenSource | None = None,
    origin: str | None = None,
) -> LightspeedClient:
    """A client for the configured store (token checked here, never logged).

    With ``token_source`` (an OAuth connection) the personal token is not used and
    ``origin`` (the connected store's) replaces the configured one when given."""
    headers = {
        "Accept": "application/json",
        "User-Agent": f"{settings.user_agent} greenloop/{__version__}",
    }
    if token_source is None:
        headers["Authorization"] = f"Bearer {settings.require_token()}"
    http = httpx.Client(
        base_url=origin or settings.origin(),
        headers=headers,
        timeout=httpx.Timeout(settings.timeout_seconds),
        transport=transport,
    )
    retry = RetryPolicy(
        max_retries=settings.max_retries,
        base_seconds=settings.backoff_base_seconds,
        max_seconds=settings.backoff_max_seconds,
    )
    budget = budget or RateBudget(window_seconds=settings.rate_limit_window_seconds, sleep=sleep)
    return LightspeedClient(
        http,
        budget=budget,
        retry=retry,
        sleep=sleep,
        max_wait_seconds=settings.max_wait_seconds,
        token_source=token_source,
    )
