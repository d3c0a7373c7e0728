"""Logins that cannot be brute-forced and cannot starve the server.

Two guards stand in front of the password check:

- :class:`LoginLimiter` counts failed logins per client address and for the account
  (all addresses together) over a sliding minute. Past the limit the key is refused
  (429 with ``Retry-After``) for a minute, doubling with each repeat up to a cap; a
  quiet hour forgets the repeats. An attempt counts from the moment it starts, so a
  hundred concurrent guesses get no further than sequential ones.
- :class:`PasswordChecks` runs the checks (scrypt: ~50 ms of CPU and 32 MiB each) on
  their own small thread pool, never the event loop or the shared thread pool, and
  refuses at once (503) when a few are already waiting, so memory stays flat and the
  webhook receiver keeps answering.

Every failure and every block is logged with the client address; the password never is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from greenloop.config import DashboardSettings

__all__ = [
    "ACCOUNT",
    "Attempt",
    "LoginLimiter",
    "LoginOutcome",
    "Logins",
    "PasswordChecks",
    "TooManyChecks",
    "client_address",
    "proxy_options",
]

log = logging.getLogger(__name__)

# The dashboard has one account; its failures are counted under this key.
ACCOUNT = "admin"
WINDOW_SECONDS = 60.0
# Repeated blocks double from one window up to the cap; an hour without a failure
# forgets them.
_FORGET_SECONDS = 3600.0
# Addresses remembered at once (oldest forgotten first), so a flood from many
# addresses cannot grow the table without end; the account limit still holds then.
_MAX_ADDRESSES = 10_000
# Password checks that may wait for a thread, per thread.
_WAITING_PER_THREAD = 4
_BUSY_LOG_SECONDS = 10.0


def client_address(request: Request) -> str:
    """The client's address: the TCP peer, or what a trusted proxy says it is (the
    server applies :func:`proxy_options` before the app sees the request)."""
    return request.client.host if request.client else "unknown"


def proxy_options(settings: DashboardSettings) -> dict[str, Any]:
    """uvicorn's options for ``X-Forwarded-For``/``-Proto``: believed only from
    ``dashboard.trusted_proxies`` (uvicorn itself would read FORWARDED_ALLOW_IPS from the
    environment), and not at all when the list is empty. uvicorn takes the last address
    in the header that is not a trusted proxy, so a client cannot choose its own."""
    proxies = list(settings.trusted_proxies)
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None}


@dataclass
class _Record:
    started: deque[float] = field(default_factory=deque)  # attempts not known to succeed
    blocked_until: float = 0.0
    strikes: int = 0
    last_failure: float = 0.0


@dataclass(frozen=True)
class Attempt:
    """One login attempt in progress: settle it with ``failed`` or ``succeeded``."""

    address: str
    started: float


class LoginLimiter:
    """Failed-login counts per client address and for the account."""

    def __init__(
        self,
        per_address: int,
        per_account: int,
        max_block_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = _MAX_ADDRESSES,
    ) -> None:
        self.per_address = per_address
        self.per_account = per_account
        self.max_block = max_block_seconds
        self._clock = clock
        self._max_addresses = max_addresses
        self._addresses: OrderedDict[str, _Record] = OrderedDict()
        self._account = _Record()
        self._lock = threading.Lock()

    def _record(self, address: str) -> _Record:
        record = self._addresses.get(address)
        if record is None:
            record = self._addresses[address] = _Record()
            while len(self._addresses) > self._max_addresses:
                self._addresses.popitem(last=False)
        self._addresses.move_to_end(address)
        return record

    def _wait(self, record: _Record, limit: int, now: float) -> float:
        """Seconds before ``record`` may start another attempt (0: now)."""
        if record.blocked_until > now:
            return record.blocked_until - now
        if record.strikes and now - record.last_failure > _FORGET_SECONDS:
            record.strikes = 0
        while record.started and record.started[0] <= now - WINDOW_SECONDS:
            record.started.popleft()
        if len(record.started) >= limit:  # the limit's worth is in flight or failed
            return record.started[0] + WINDOW_SECONDS - now
        return 0.0

    def begin(self, address: str) -> Attempt | float:
        """An :class:`Attempt` when a login from ``address`` may be tried now, else the
        seconds to wait (the answer's ``Retry-After``)."""
        with self._lock:
            now = self._clock()
            record = self._record(address)
            wait = max(
                self._wait(record, self.per_address, now),
                self._wait(self._account, self.per_account, now),
            )
            if wait > 0:
                return wait
            record.started.append(now)
            self._account.started.append(now)
            return Attempt(address, now)

    def _fail(self, record: _Record, limit: int, now: float) -> float:
        """Count a failure on ``record``; the seconds it is now blocked for (0: not)."""
        record.last_failure = now
        if len(record.started) < limit:
            return 0.0
        block = min(WINDOW_SECONDS * 2.0**record.strikes, self.max_block)
        record.strikes += 1
        record.blocked_until = now + block
        record.started.clear()
        return block

    def failed(self, attempt: Attempt) -> tuple[int, float, float]:
        """Count a wrong password: the address's failures in the window, and how long
        the address and the account are now blocked for (0: not blocked)."""
        with self._lock:
            now = self._clock()
            record = self._record(attempt.address)
            failures = len(record.started)
            return (
                failures,
                self._fail(record, self.per_address, now),
                self._fail(self._account, self.per_account, now),
            )

    def succeeded(self, attempt: Attempt) -> None:
        """The right password: the address starts afresh, and the attempt is not a
        failure of the account's."""
        with self._lock:
            self._addresses.pop(attempt.address, None)
            with contextlib.suppress(ValueError):  # already out of the window
                self._account.started.remove(attempt.started)


class TooManyChecks(Exception):
    """More password checks are running and waiting than allowed. Internal: the login
    answers 503 (errors.Busy is for runs holding a lock, a different refusal)."""


class PasswordChecks:
    """Password checks on ``at_once`` threads of their own; a few more may wait."""

    def __init__(self, at_once: int, waiting: int | None = None) -> None:
        self._executor = ThreadPoolExecutor(at_once, thread_name_prefix="greenloop-login")
        self._bound = at_once + (at_once * _WAITING_PER_THREAD if waiting is None else waiting)
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return self._pending

    def _release(self, _: Future[bool]) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, check: Callable[[], bool]) -> bool:
        """``check()`` on a password thread; raises :class:`TooManyChecks` instead of queueing
        past the bound. The slot is freed when the check ends (not when the caller
        stops waiting), so a client that hangs up cannot pile up work."""
        with self._lock:
            if self._pending >= self._bound:
                raise TooManyChecks
            self._pending += 1
        try:
            future = self._executor.submit(check)
        except BaseException:
            with self._lock:
                self._pending -= 1
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)


@dataclass(frozen=True)
class LoginOutcome:
    """``ok``; else ``status`` 401 (wrong password), 429 (too many failures) or 503
    (too many logins at once) with ``retry_after`` seconds for the last two."""

    ok: bool
    status: int = 200
    retry_after: int = 0


class Logins:
    """The limiter and the password checks, with the log lines, for the login form."""

    def __init__(self, settings: DashboardSettings, *, clock: Callable[[], float] | None = None):
        self.limiter = LoginLimiter(
            settings.login_failures_per_address,
            settings.login_failures_per_account,
            settings.login_block_max_minutes * 60.0,
            clock=clock or time.monotonic,
        )
        self.checks = PasswordChecks(settings.password_checks_at_once)
        self._clock = clock or time.monotonic
        self._busy = 0  # refused as too many at once since the last log line
        self._busy_logged = -math.inf

    def _log_busy(self, address: str) -> None:
        """One line per ten seconds at most: a flood must not flood the log too."""
        self._busy += 1
        now = self._clock()
        if now - self._busy_logged >= _BUSY_LOG_SECONDS:
            log.warning(
                "dashboard logins refused as too many at once: %d since the last such "
                "line, the last from %s",
                self._busy,
                address,
            )
            self._busy, self._busy_logged = 0, now

    async def attempt(self, address: str, check: Callable[[], bool]) -> LoginOutcome:
        """Try ``check`` (the password comparison) for a login from ``address``."""
        started = self.limiter.begin(address)
        if not isinstance(started, Attempt):
            log.debug("dashboard login from %s refused for %.0f s more", address, started)
            return LoginOutcome(False, 429, max(1, math.ceil(started)))
        try:
            ok = await self.checks.run(check)
        except TooManyChecks:
            # The attempt stays counted: a flood gains nothing by being refused.
            self._log_busy(address)
            return LoginOutcome(False, 503, 1)
        if ok:
            self.limiter.succeeded(started)
            log.info("dashboard login from %s", address)
            return LoginOutcome(True)
        failures, address_block, account_block = self.limiter.failed(started)
        log.warning(
            "dashboard login failed from %s: wrong password (%d in the last minute)",
            address,
            failures,
        )
        if address_block:
            log.warning(
                "dashboard logins from %s refused for %.0f s after %d failures",
                address,
                address_block,
                failures,
            )
        if account_block:
            log.warning(
                "dashboard logins to the %s account refused for %.0f s: %d failures a "
                "minute from all addresses",
                ACCOUNT,
                account_block,
                self.limiter.per_account,
            )
        return LoginOutcome(False, 401)
