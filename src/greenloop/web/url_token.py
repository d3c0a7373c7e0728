"""The webhook URL token in force: the configured one, else the one `register` stored.

``webhooks.url_token`` (config or environment) always wins. Without it, ``greenloop
webhooks register`` makes a random token and keeps it in the database
(``service_state``, name :data:`STORED_NAME`), never in greenloop.toml, which is often
committed. The receiver reads the stored token through :class:`UrlToken`:

* lazily on the first delivery, then again once the value is older than ``max_age``
  (5 s), so a ``register --rotate-token`` takes effect without a restart and the old
  token stops working within seconds;
* and at once, at most every ``min_refresh`` seconds (1 s), when a delivery's token
  does not match the cached one, so the first deliveries after a register or a
  rotation are not refused while the cache is still young. A flood of wrong tokens
  costs at most one small query a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from greenloop.store.service_state import WEBHOOK_URL_TOKEN, read_value

__all__ = ["STORED_NAME", "UrlToken"]

log = logging.getLogger(__name__)

STORED_NAME = WEBHOOK_URL_TOKEN


class UrlToken:
    """The URL token deliveries must carry ("" when there is none)."""

    def __init__(
        self,
        configured: str,
        engine: Engine,
        *,
        max_age: float = 5.0,
        min_refresh: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.configured = configured
        self.engine = engine
        self.max_age = max_age
        self.min_refresh = min_refresh
        self._monotonic = monotonic
        self._stored = ""
        self._read_at: float | None = None

    async def current(self, *, missed: bool = False) -> str:
        """The token in force. ``missed``: the caller's token did not match the cached
        one, so re-read now unless the last read is under ``min_refresh`` old."""
        if self.configured:
            return self.configured
        now = self._monotonic()
        age = None if self._read_at is None else now - self._read_at
        if age is None or age >= self.max_age or (missed and age >= self.min_refresh):
            # Marked before the read, so concurrent requests use the cached value
            # instead of all reading at once.
            self._read_at = now
            self._stored = await run_in_threadpool(self._read)
        return self._stored

    def _read(self) -> str:
        try:
            return read_value(self.engine, STORED_NAME) or ""
        except SQLAlchemyError as exc:
            log.warning("cannot read the stored webhook URL token: %s", type(exc).__name__)
            return self._stored
